"""Runtime service: start cases, deliver messages, read a case's state."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from sqlalchemy import Connection, select

from .clock import Clock
from .data import check_data
from .errors import FieldProblem, NotFound, ScriptFailed, UnsafeCode, ValidationFailed
from .models import HumanTask, MessageWait, ProcessInstance
from .step import StepContext, case_data, record_incident

if TYPE_CHECKING:
    from .engine import Engine

instance_table = ProcessInstance.__table__
task_table = HumanTask.__table__
wait_table = MessageWait.__table__

MAX_ID = 2**63 - 1  # the largest case id either database can hold (a 64-bit signed integer)
MAX_MESSAGE_NAME = 200
MAX_CORRELATION_KEYS = 20
MAX_CORRELATION_TEXT = 300  # longer start values are not in a case's summary: they never match
_TARGET_KEYS = ("instance_id", "case_id")  # a case number, not a data value to compare
_CORRELATION_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_NAME_BAD = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_TEXT_BAD = re.compile("[\x00\ud800-\udfff]")


def check_message(name: Any, correlation: Any) -> tuple[int | None, dict[str, Any]]:
    """A message's name and correlation as `deliver_message` may use them in a query: the case
    number it targets (or None) and the data values to compare. Anything else is refused with
    one problem per field (`ValidationFailed`), before any query runs; so a NUL byte, NaN, an
    object or a number beyond 64 bits never reaches a database, whoever sends the message."""
    problems: dict[str, FieldProblem] = {}
    if not isinstance(name, str) or not name:
        problems["name"] = FieldProblem("required", "A message needs a name (a text).")
    elif len(name) > MAX_MESSAGE_NAME or _NAME_BAD.search(name):
        problems["name"] = FieldProblem(
            "invalid",
            f"A message name is at most {MAX_MESSAGE_NAME} characters on one line, "
            "without control characters.",
            max_length=MAX_MESSAGE_NAME,
        )
    if correlation is None:
        correlation = {}
    if not isinstance(correlation, dict):
        problems["correlation"] = FieldProblem(
            "type", "The correlation must be an object of data names and values."
        )
        raise ValidationFailed(problems, _refused(problems))
    if len(correlation) > MAX_CORRELATION_KEYS:
        problems["correlation"] = FieldProblem(
            "max_items",
            f"A message names at most {MAX_CORRELATION_KEYS} correlation keys.",
            max_items=MAX_CORRELATION_KEYS,
        )
    target: int | None = None
    values: dict[str, Any] = {}
    for key, value in list(correlation.items())[: MAX_CORRELATION_KEYS + 1]:
        if not isinstance(key, str) or not _CORRELATION_KEY.fullmatch(key):
            problems["correlation"] = FieldProblem(
                "invalid",
                "Correlation keys are data names: a letter, then letters, digits or _, "
                "at most 64 characters.",
            )
            continue
        field = f"correlation.{key}"
        if key in _TARGET_KEYS:
            if type(value) is not int or not 1 <= value <= MAX_ID:
                problems[field] = FieldProblem(
                    "type",
                    f"The {key} is a case number: a whole number from 1 to {MAX_ID}.",
                    min=1,
                    max=MAX_ID,
                )
            elif target is None or key == "instance_id":
                target = value  # instance_id wins over case_id, as it always has
            continue
        if not _scalar(value):
            problems[field] = FieldProblem(
                "type",
                "A correlation value is a text of at most "
                f"{MAX_CORRELATION_TEXT} characters (without NUL), a number within 64 bits, "
                "true, false or null.",
            )
            continue
        values[key] = value
    if problems:
        raise ValidationFailed(problems, _refused(problems))
    return target, values


def _refused(problems: dict[str, FieldProblem]) -> str:
    said = " ".join(f"{key}: {problem.message}" for key, problem in problems.items())
    return f"The message was not delivered. {said}"


def _scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if type(value) is int:  # compared as an int: math.isfinite(2**2000) would overflow
        return -MAX_ID - 1 <= value <= MAX_ID
    if type(value) is float:
        return math.isfinite(value) and -MAX_ID - 1 <= value <= MAX_ID
    if type(value) is str:
        return len(value) <= MAX_CORRELATION_TEXT and not _TEXT_BAD.search(value)
    return False


@dataclass
class InstanceView:
    id: int
    definition_id: int
    process_id: str
    version: int
    status: str
    summary: dict[str, Any]
    business_key: str | None
    office_code: str | None
    started_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    revision: int


class RuntimeService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(
        self,
        process_id: str,
        data: dict[str, Any],
        *,
        actor: str,
        office_code: str | None = None,
        business_key: str | None = None,
        definition_id: int | None = None,
        start_event: str | None = None,
        claim: Callable[[Connection, int], None] | None = None,
        clock: Clock | None = None,
    ) -> int:
        """Start a case on the latest published version (or the one given).

        The data must be plain JSON within the limits of `engine.data` and, when the version
        has a start form, obey it (`ValidationFailed`); the domain's facts (offices,
        remoteness, names) override anything the payload says, and the engine sets `case_id`.
        `start_event`, `claim`, `clock`: a scheduled start (engine/schedules.py).
        """
        repo = self.engine.repository
        definition = repo.get(definition_id or repo.latest_id(process_id))
        try:
            return self.engine.steps.start(
                definition,
                data,
                actor,
                office_code,
                business_key,
                start_event=start_event,
                claim=claim,
                clock=clock,
            )
        except (ScriptFailed, UnsafeCode) as exc:
            record_incident(
                self.engine.db,
                None,
                "script",
                f"{process_id}: {exc}",
                self.engine.clock.now(),
                process_id=process_id,
                element_id=getattr(exc, "element_id", None),
                element_name=getattr(exc, "element_name", None),
            )
            raise

    def clean_start(
        self, process_id: str, data: Any, *, definition_id: int | None = None
    ) -> dict[str, Any]:
        """The start payload as `start` takes it (plain JSON within the limits, obeying the
        start form), for callers that read it before starting, e.g. to check the case's office
        against the caller's scope. Raises `DataRejected` / `ValidationFailed`."""
        repo = self.engine.repository
        rules = repo.get(definition_id or repo.latest_id(process_id)).start_rules()
        cleaned = rules.validate(data) if rules is not None else data
        check_data(cleaned, what="start data")
        return dict(cleaned)

    def deliver_message(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        correlation: dict[str, Any] | None = None,
        actor: str,
        office_code: str | None = None,
        within_offices: Collection[str] | None = None,
    ) -> list[int]:
        """Deliver a message to every case waiting for it whose data matches `correlation`
        (and, when `within_offices` is given, that belongs to one of those offices). The name
        and correlation pass `check_message` first (`ValidationFailed` per field)."""
        check_data(payload or {}, what="message payload")
        target, correlation = check_message(name, correlation)
        stmt = (
            select(instance_table.c.id, instance_table.c.summary, instance_table.c.business_key)
            .join(wait_table, wait_table.c.instance_id == instance_table.c.id)
            .where(wait_table.c.name == name)
        )
        if target is not None:
            stmt = stmt.where(instance_table.c.id == target)
        if within_offices is not None:
            stmt = stmt.where(instance_table.c.office_code.in_(list(within_offices)))
        with self.engine.db.read() as conn:
            candidates = conn.execute(stmt).all()
        matched = [
            row.id
            for row in candidates
            if all(
                (row.business_key if key == "business_key" else (row.summary or {}).get(key))
                == value
                for key, value in correlation.items()
            )
        ]
        delivered = []
        for instance_id in matched:

            def act(ctx: StepContext) -> None:
                ctx.workflow.send_event(
                    BpmnEvent(MessageEventDefinition(name), payload=payload or {})
                )
                ctx.record("message_received", data_after={"message": name, "payload": payload})

            self.engine.run_step(instance_id, act, actor=actor, office_code=office_code)
            delivered.append(instance_id)
        return delivered

    def get(self, instance_id: int) -> InstanceView:
        cols = instance_table.c
        with self.engine.db.read() as conn:
            row = (
                conn.execute(
                    select(
                        cols.id,
                        cols.definition_id,
                        cols.process_id,
                        cols.version,
                        cols.status,
                        cols.summary,
                        cols.business_key,
                        cols.office_code,
                        cols.started_by,
                        cols.created_at,
                        cols.updated_at,
                        cols.completed_at,
                        cols.revision,
                    ).where(cols.id == instance_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"case {instance_id} does not exist")
        return InstanceView(**row)

    def data(self, instance_id: int) -> dict[str, Any]:
        """The case's current data (restores the workflow; for case pages, not for queues)."""

        def read(wf: Any) -> dict[str, Any]:
            return self.engine.serializer.convert_data(case_data(wf))

        return self.engine.steps.inspect(instance_id, read)
