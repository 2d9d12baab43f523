"""Runtime service: start cases, deliver messages, read a case's state."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from sqlalchemy import select

from .errors import NotFound, ScriptFailed, UnsafeCode
from .models import HumanTask, MessageWait, ProcessInstance
from .step import StepContext, case_data, record_incident

if TYPE_CHECKING:
    from .engine import Engine

instance_table = ProcessInstance.__table__
task_table = HumanTask.__table__
wait_table = MessageWait.__table__


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
    ) -> int:
        """Start a case on the latest published version (or the one given)."""
        repo = self.engine.repository
        definition = repo.get(definition_id or repo.latest_id(process_id))
        try:
            return self.engine.steps.start(definition, data, actor, office_code, business_key)
        except (ScriptFailed, UnsafeCode) as exc:
            record_incident(
                self.engine.db, None, "script", f"{process_id}: {exc}", self.engine.clock.now()
            )
            raise

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
        (and, when `within_offices` is given, that belongs to one of those offices)."""
        correlation = dict(correlation or {})
        target = correlation.pop("instance_id", None)
        case_id = correlation.pop("case_id", None)
        target = target if target is not None else case_id
        stmt = (
            select(instance_table.c.id, instance_table.c.summary, instance_table.c.business_key)
            .join(wait_table, wait_table.c.instance_id == instance_table.c.id)
            .where(wait_table.c.name == name)
        )
        if target is not None:
            stmt = stmt.where(instance_table.c.id == int(target))
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
