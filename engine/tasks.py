"""Task service: queues from the `human_task` index, and claim / unclaim / delegate / complete.

Listing never restores a workflow. Claim, unclaim and delegate change only the task row and the
case's history (under the case's lock); completing is a full engine step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, Select, false, func, or_, select, update

from . import statements as sql
from .attachments import store_files
from .data import check_data
from .errors import ConflictError, InvalidOperation, NotFound
from .forms import NO_FORM
from .history import PendingEvent, append_case_event
from .models import CaseAttribute, CaseTerm, HumanTask, ProcessInstance, as_utc
from .repository import form_path
from .search import PREFIX_END, query_words
from .step import StepContext

if TYPE_CHECKING:
    from .engine import Engine

task_table = HumanTask.__table__
instance_table = ProcessInstance.__table__
attribute_table = CaseAttribute.__table__
term_table = CaseTerm.__table__


@dataclass
class TaskView:
    id: int
    instance_id: int
    task_guid: str
    process_id: str
    task_name: str
    title: str
    lane: str | None
    role: str | None
    office_code: str | None
    assignee: str | None
    form: str | None
    created_at: datetime
    due_at: datetime | None
    state: str
    completed_by: str | None
    completed_at: datetime | None
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    breached_at: datetime | None = None
    titles: dict[str, str] | None = None  # title by locale, from the model's title_<locale>


@dataclass
class TaskQuery:
    """Filters for a queue; every field narrows the result."""

    state: str | None = "ready"
    assignee: str | None = None
    unassigned: bool = False
    offices: Sequence[str] | None = None
    roles: Sequence[str] | None = None
    process_id: str | None = None
    instance_id: int | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    reminded: bool = False  # only tasks whose reminder came
    mine_or_unassigned: str | None = None  # assigned to this login, or to nobody
    attributes: dict[str, str] | None = None  # exact start-data values, e.g. institution
    text: str | None = None  # part of a searchable start-data value; digits: case number
    limit: int = 50
    offset: int = 0


class TaskService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- queues -------------------------------------------------------------------------------

    def _select(self, query: TaskQuery) -> Select[Any]:
        c = task_table.c
        stmt = select(task_table)
        if query.state:
            stmt = stmt.where(c.state == query.state)
        if query.assignee:
            stmt = stmt.where(c.assignee == query.assignee)
        if query.unassigned:
            stmt = stmt.where(c.assignee.is_(None))
        if query.offices is not None:
            stmt = stmt.where(c.office_code.in_(list(query.offices)))
        if query.roles is not None:
            stmt = stmt.where(c.role.in_(list(query.roles)))
        if query.process_id:
            stmt = stmt.where(c.process_id == query.process_id)
        if query.instance_id:
            stmt = stmt.where(c.instance_id == query.instance_id)
        if query.due_before:
            stmt = stmt.where(c.due_at <= query.due_before)
        if query.due_after:
            stmt = stmt.where(c.due_at > query.due_after)
        if query.reminded:
            stmt = stmt.where(c.reminded_at.is_not(None))
        if query.mine_or_unassigned:
            stmt = stmt.where(or_(c.assignee == query.mine_or_unassigned, c.assignee.is_(None)))
        # Filters on start data probe each candidate task's case while the queue is read in
        # deadline order, so a page stops after its fifty rows ("+ 0" keeps SQLite from
        # starting at the attribute side and sorting every match instead).
        a = attribute_table.c
        case = c.instance_id + 0
        for name, value in (query.attributes or {}).items():
            cases = select(a.instance_id).where(a.name == name, a.value == value)
            stmt = stmt.where(case.in_(cases))
        text = (query.text or "").strip()
        if text.isdigit():  # a case number, or a document number given whole
            stmt = stmt.where(
                or_(
                    c.instance_id == int(text),
                    case.in_(select(a.instance_id).where(a.value == text)),
                )
            )
        elif text:
            # every word of the query begins a word of the case's data (engine/search.py)
            t = term_table.c
            query_terms = query_words(text)
            if not query_terms:
                stmt = stmt.where(false())
            for word in query_terms:
                cases = select(t.instance_id).where(t.term >= word, t.term < word + PREFIX_END)
                stmt = stmt.where(case.in_(cases))
        return stmt

    def list(self, query: TaskQuery) -> list[TaskView]:
        c = task_table.c
        stmt = (
            self._select(query)
            .order_by(c.due_at.asc().nulls_last(), c.id)
            .limit(query.limit)
            .offset(query.offset)
        )
        with self.engine.db.read() as conn:
            return [TaskView(**row) for row in conn.execute(stmt).mappings()]

    def count(self, query: TaskQuery, cap: int | None = None) -> int:
        """How many tasks match; with `cap`, counting stops there (a queue shows "1000+"
        rather than read a whole region's tasks to print an exact figure nobody pages to)."""
        matching = self._select(query).with_only_columns(task_table.c.id)
        if cap is not None:
            matching = matching.limit(cap)
        stmt = select(func.count()).select_from(matching.subquery())
        with self.engine.db.read() as conn:
            return conn.execute(stmt).scalar_one()

    def get(self, task_guid: str) -> TaskView:
        with self.engine.db.read() as conn:
            return _task_view(conn, task_guid)

    def open_tasks(self, instance_id: int) -> list[TaskView]:
        """The case's open tasks, earliest deadline first (the hot path of the API)."""
        with self.engine.db.read() as conn:
            return [_view_from_raw(r) for r in sql.OPEN_TASKS.all(conn, {"b_id": instance_id})]

    # -- assignment ---------------------------------------------------------------------------

    def claim(self, task_guid: str, *, actor: str, office_code: str | None = None) -> TaskView:
        def change(task: TaskView) -> tuple[dict[str, Any], str, dict[str, Any]]:
            if task.assignee == actor:
                return {}, "", {}
            if task.assignee is not None:
                raise ConflictError(
                    f"task '{task.title}' is already claimed by {task.assignee}",
                    task_id=task_guid,
                    by=task.assignee,
                )
            return {"assignee": actor}, "task_claimed", {"assignee": actor}

        return self._assign(task_guid, change, actor, office_code)

    def unclaim(self, task_guid: str, *, actor: str, office_code: str | None = None) -> TaskView:
        def change(task: TaskView) -> tuple[dict[str, Any], str, dict[str, Any]]:
            if task.assignee is None:
                return {}, "", {}
            return {"assignee": None}, "task_unclaimed", {"assignee": None}

        return self._assign(task_guid, change, actor, office_code)

    def delegate(
        self, task_guid: str, to: str, *, actor: str, office_code: str | None = None
    ) -> TaskView:
        def change(task: TaskView) -> tuple[dict[str, Any], str, dict[str, Any]]:
            return {"assignee": to}, "task_delegated", {"assignee": to}

        return self._assign(task_guid, change, actor, office_code)

    def reassign_many(
        self, task_guids: Sequence[str], to: str, *, actor: str, office_code: str | None = None
    ) -> list[TaskView]:
        """Hand several tasks to `to` in ONE transaction: all of them, or none.

        The caller checks rights first; here every task must still be open when its case is
        locked, else the whole batch rolls back (ConflictError / InvalidOperation / NotFound).
        Cases are locked in id order so that two heads' batches cannot deadlock.
        """
        now = self.engine.clock.now()
        guids = list(dict.fromkeys(task_guids))
        with self.engine.db.write() as conn:
            tasks = sorted(
                (_task_view(conn, guid) for guid in guids), key=lambda t: (t.instance_id, t.id)
            )
            for task in tasks:
                locked = self._locked_ready_task(conn, task.task_guid)
                if locked.assignee == to:
                    continue
                conn.execute(
                    update(task_table)
                    .where(task_table.c.task_guid == task.task_guid)
                    .values(assignee=to)
                )
                append_case_event(
                    conn,
                    locked.instance_id,
                    now,
                    PendingEvent(
                        "task_delegated",
                        actor,
                        office_code,
                        task_guid=locked.task_guid,
                        task_name=locked.task_name,
                        data_before={"assignee": locked.assignee},
                        data_after={"assignee": to},
                    ),
                )
        with self.engine.db.read() as conn:
            return [_task_view(conn, guid) for guid in guids]

    def _assign(self, task_guid: str, change: Any, actor: str, office_code: str | None) -> TaskView:
        db = self.engine.db
        now = self.engine.clock.now()
        with db.write() as conn:
            task = self._locked_ready_task(conn, task_guid)
            values, event_type, after = change(task)
            if not values:
                return task
            conn.execute(
                update(task_table).where(task_table.c.task_guid == task_guid).values(**values)
            )
            append_case_event(
                conn,
                task.instance_id,
                now,
                PendingEvent(
                    event_type,
                    actor,
                    office_code,
                    task_guid=task_guid,
                    task_name=task.task_name,
                    data_before={"assignee": task.assignee},
                    data_after=after,
                ),
            )
        return self.get(task_guid)

    def _locked_ready_task(self, conn: Connection, task_guid: str) -> TaskView:
        task = _task_view(conn, task_guid)
        if conn.dialect.name == "postgresql":  # lock the case, then read the task again
            lock = select(instance_table.c.id).where(instance_table.c.id == task.instance_id)
            conn.execute(lock.with_for_update())
            task = _task_view(conn, task_guid)
        _require_ready(task)
        return task

    # -- completion ---------------------------------------------------------------------------

    def complete(
        self,
        task_guid: str,
        data: dict[str, Any],
        *,
        actor: str,
        office_code: str | None = None,
    ) -> StepContext:
        """Complete a ready task with the submitted data, then run the case on.

        An unclaimed task is claimed by `actor` in the same step (assignee set, a `task_claimed`
        event before `task_completed`), so that every completion names who took the task up.

        The task row is read inside the step's transaction, after the case is locked, so the
        checks below and the completion can not be overtaken by another user. The data must be
        plain JSON within the limits (`DataRejected`) and obey the task's form, which is part
        of the published version (`ValidationFailed`); only the form's cleaned values are
        stored, and a task without a form takes no data.
        """

        def act(ctx: StepContext) -> None:
            row = ctx.task_row
            if row.state != "ready" or task_guid not in ctx.projection.ready_tasks:
                raise self._already_done(ctx.conn, task_guid)
            if row.assignee is not None and row.assignee != actor:
                raise ConflictError(
                    f"task '{row.title}' is claimed by {row.assignee}; "
                    "ask them or a head of office to hand it over",
                    task_id=task_guid,
                    by=row.assignee,
                )
            task = ctx.workflow.get_task_from_id(UUID(task_guid))
            if task is None or task.state != TaskState.READY:
                raise self._already_done(ctx.conn, task_guid)
            rules = ctx.definition.form_rules(form_path(task.task_spec)) or NO_FORM
            values, files = rules.clean(data, task.data)
            check_data(values)  # no NUL, lone surrogate or other value the stores refuse
            # attached files go in this step's transaction: a failing step keeps none of them
            store_files(
                ctx.conn,
                ctx.instance_id,
                files,
                task_guid=task_guid,
                task_name=task.task_spec.bpmn_id,
                actor=actor,
                now=ctx.now,
            )
            if row.assignee is None:
                # Completing an unclaimed task claims it first, in the same step: the file then
                # says who took the task up, whatever door (page, API, CLI) it was done from.
                ctx.conn.execute(
                    update(task_table)
                    .where(task_table.c.task_guid == task_guid)
                    .values(assignee=actor)
                )
                ctx.record(
                    "task_claimed",
                    task,
                    data_before={"assignee": None},
                    data_after={"assignee": actor},
                )
            before = {k: task.data.get(k) for k in values if task.data.get(k) != values[k]}
            after = {k: values[k] for k in before}
            task.set_data(**values)
            task.run()
            ctx.completed[task_guid] = actor
            conv = self.engine.serializer.convert_data
            ctx.record(
                "task_completed",
                task,
                data_before=conv(before) if before else None,
                data_after=conv(after) if after else None,
            )

        try:
            return self.engine.run_step(
                None, act, actor=actor, office_code=office_code, task_guid=task_guid
            )
        except ConflictError as exc:
            if exc.by is None:
                with self.engine.db.read() as conn:
                    raise self._already_done(conn, task_guid) from exc
            raise

    def _already_done(self, conn: Connection, task_guid: str) -> ConflictError:
        row = conn.execute(
            select(
                task_table.c.title,
                task_table.c.state,
                task_table.c.completed_by,
                task_table.c.completed_at,
            ).where(task_table.c.task_guid == task_guid)
        ).first()
        if row is None or row.state == "ready":
            return ConflictError(
                "the case changed while you were working on it; nothing was saved, please reload",
                task_id=task_guid,
            )
        if row.state == "completed":
            return ConflictError(
                f"task '{row.title}' was already completed by {row.completed_by}; "
                "your submission was not saved",
                task_id=task_guid,
                by=row.completed_by,
            )
        return ConflictError(
            f"task '{row.title}' is no longer open ({row.state}); your submission was not saved",
            task_id=task_guid,
            by=row.completed_by,
        )


_TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _task_view(conn: Connection, task_guid: str) -> TaskView:
    # a task id is a UUID: anything else (NUL bytes, 1 MB of text) is missing, without a query
    if not isinstance(task_guid, str) or not _TASK_ID.fullmatch(task_guid):
        raise NotFound(f"task {str(task_guid)[:40]!r} does not exist")
    row = sql.TASK_ROW.first(conn, {"b_guid": task_guid})
    if row is None:
        raise NotFound(f"task {task_guid} does not exist")
    return _view_from_raw(row)


def _view_from_raw(row: Any) -> TaskView:
    values = row._asdict()
    for key in _INSTANTS:
        values[key] = as_utc(values[key])
    if isinstance(values.get("titles"), str):  # raw SQLite rows hold JSON as text
        values["titles"] = json.loads(values["titles"])
    return TaskView(**values)


_INSTANTS = ("created_at", "due_at", "completed_at", "remind_at", "reminded_at", "breached_at")


def _require_ready(task: TaskView) -> None:
    if task.state == "completed":
        raise ConflictError(
            f"task '{task.title}' was already completed by {task.completed_by}",
            task_id=task.task_guid,
            by=task.completed_by,
        )
    if task.state != "ready":
        raise InvalidOperation(f"task '{task.title}' is no longer open ({task.state})")
