"""One step = one transaction: lock the case, restore, act, run the engine, project, save.

Every change to a case (start, completion, timer, message, retry) goes through `StepRunner`. The
workflow state, the `human_task`, `timer` and `message_wait` rows and the audit events are written
in one transaction, and the instance row's `revision` guards against a stale write. Restored
workflows are kept in a per-process cache keyed by instance id and revision: a hit skips the
restore, and a stale entry is never used because the revision is read from the database first.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, insert, select, update

from . import statements as sql
from .attachments import store_files
from .audit_search import mark_incident
from .clock import Clock, using_clock
from .data import check_data
from .db import Database
from .errors import ConflictError, EngineError, NotFound, ScriptFailed, ServiceCallFailed
from .history import PendingEvent, case_chain, chain_events
from .models import HumanTask, Incident, MessageWait, ProcessInstance, Timer
from .organization import Assignment, Organization
from .repository import LoadedDefinition, Repository, form_path
from .safety.limits import STEP_CPU_S, check_step_budget, step_budget
from .safety.script_engine import root_cause
from .schedules import begin_at
from .search import term_rows
from .serialization import StateSerializer
from .services import retry_delay

instance_table = ProcessInstance.__table__
task_table = HumanTask.__table__
timer_table = Timer.__table__
wait_table = MessageWait.__table__
incident_table = Incident.__table__

#: SpiffWorkflow's task iterator stops at depth 1000 without an error (~250 loop rounds).
MAX_TREE_DEPTH = 900


@dataclass
class Projection:
    """What the database knows about a case's open tasks, timers and message waits."""

    ready_tasks: set[str] = field(default_factory=set)
    timers: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (guid, kind)
    waits: set[str] = field(default_factory=set)


@dataclass
class CachedCase:
    revision: int
    workflow: BpmnWorkflow
    projection: Projection


class WorkflowCache:
    """A small LRU of restored workflows; entries are only used when the revision matches."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[int, CachedCase] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, instance_id: int, revision: int) -> CachedCase | None:
        with self._lock:
            entry = self._items.pop(instance_id, None)
            if entry is None or entry.revision != revision:
                return None
            return entry  # taken out while in use: two threads never share one workflow

    def put(self, instance_id: int, entry: CachedCase) -> None:
        with self._lock:
            self._items[instance_id] = entry
            self._items.move_to_end(instance_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class SkipStep(Exception):
    """Raised by an action when there is nothing to do after all (e.g. timer already fired)."""


@dataclass
class StepContext:
    conn: Connection
    workflow: BpmnWorkflow
    definition: LoadedDefinition
    instance_id: int
    now: datetime
    actor: str
    office_code: str | None
    projection: Projection
    events: list[PendingEvent] = field(default_factory=list)
    completed: dict[str, str] = field(default_factory=dict)  # guid -> who completed it
    service_failures: list[tuple[Task, str]] = field(default_factory=list)
    task_row: Any = None  # the human_task row the step was asked for, if any
    status: str = "running"
    data: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    #: set by an action that cancelled the workflow (engine/management.py `cancel_case`): the
    #: case is saved as cancelled, not completed, and its parked services are not "answered"
    cancelled: bool = False

    def record(self, event_type: str, task: Task | None = None, **kw: Any) -> None:
        self.events.append(
            PendingEvent(
                event_type,
                self.actor,
                office_code=self.office_code,
                task_guid=str(task.id) if task is not None else None,
                task_name=task.task_spec.bpmn_id if task is not None else None,
                **kw,
            )
        )


Action = Callable[[StepContext], None]


class StepRunner:
    #: CPU seconds (of the step's thread) all scripts, expressions and loops of a step share;
    #: past it the step is rolled back and recorded as an incident (`Engine.run_step`).
    step_cpu_s: float = STEP_CPU_S

    def __init__(
        self,
        db: Database,
        repository: Repository,
        serializer: StateSerializer,
        clock: Clock,
        organization: Organization,
        script_engine: Any,
        cache: WorkflowCache,
        case_attributes: tuple[str, ...] = (),
    ) -> None:
        self.case_attributes = case_attributes
        self.db = db
        self.repository = repository
        self.serializer = serializer
        self.clock = clock
        self.organization = organization
        self.script_engine = script_engine
        self.cache = cache
        self._lock_rows = not db.is_sqlite

    # -- entry points ---------------------------------------------------------------------------

    def start(
        self,
        definition: LoadedDefinition,
        data: dict[str, Any],
        actor: str,
        office_code: str | None,
        business_key: str | None = None,
        *,
        start_event: str | None = None,
        claim: Callable[[Connection, int], None] | None = None,
        clock: Clock | None = None,
    ) -> int:
        """`start_event`: a scheduled start begins at that (timer) start event, its data the
        engine's own (no start form); `claim(conn, instance_id)` runs in the transaction right
        after the case's row is inserted and raises `SkipStep` to drop the whole start
        (engine/schedules.py: one case per occurrence and office); `clock`: the instant the
        case starts at (`timers fire --now`)."""
        clock = clock or self.clock
        now = clock.now()
        rules = definition.start_rules() if start_event is None else None
        files: list[Any] = []
        if rules is not None:  # a version with a start form takes exactly what it offers
            data, files = rules.clean(data)
        check_data(data, what="start data")
        data = {k: v for k, v in data.items() if k != "case_id"}  # the engine sets it below
        with using_clock(clock):
            workflow = BpmnWorkflow(
                definition.spec, definition.subprocess_specs, script_engine=self.script_engine
            )
            begin_at(workflow, start_event, definition.process_id)
            start_task = workflow.get_next_task(state=TaskState.READY)
            # what the domain computes (offices, remoteness, names) wins over any payload
            facts = self.organization.case_facts(data, definition.process_id)
            data = {**data, **facts}
            start_task.data.update(data)
        try:
            with self.db.write() as conn:
                instance_id = sql.INSERT_INSTANCE.first(
                    conn,
                    dict(
                        definition_id=definition.id,
                        process_id=definition.process_id,
                        version=definition.version,
                        status="running",
                        revision=0,
                        state="",
                        business_key=business_key,
                        summary=_summary(data),
                        started_by=actor,
                        office_code=self.organization.case_office(data, definition.process_id),
                        created_at=now,
                        updated_at=now,
                        audit_seq=0,
                        audit_head="",
                    ),
                ).id
                if claim is not None:  # a scheduled start: its occurrence's row, or nothing
                    claim(conn, instance_id)
                start_task.data["case_id"] = instance_id  # models may refer to their case
                # files of the start form: stored in this transaction, referenced in the data
                store_files(
                    conn, instance_id, files, task_guid=None, task_name=None, actor=actor, now=now
                )
                attributes = _attributes(instance_id, data, self.case_attributes)
                if attributes:
                    sql.INSERT_ATTRIBUTES.many(conn, attributes)
                    terms = term_rows(instance_id, [a["value_norm"] for a in attributes])
                    if terms:
                        sql.INSERT_TERMS.many(conn, terms)
                ctx = StepContext(
                    conn, workflow, definition, instance_id, now, actor, office_code, Projection()
                )
                ctx.record(
                    "instance_started",
                    data_after={
                        "process_id": definition.process_id,
                        "version": definition.version,
                        "sha256": definition.sha256,
                        "data": self.serializer.convert_data(data),
                    },
                )
                with using_clock(clock):
                    self._advance(ctx)
                self._save(ctx, revision=0, audit_seq=0, audit_head="")
        except Exception as exc:
            raise self._translate(exc) from exc
        self.cache.put(instance_id, CachedCase(1, workflow, ctx.projection))
        return instance_id

    def run(
        self,
        instance_id: int | None,
        action: Action,
        *,
        actor: str,
        office_code: str | None = None,
        now: datetime | None = None,
        clock: Clock | None = None,
        task_guid: str | None = None,
    ) -> StepContext:
        """Run `action` as one step on the case (or on the case of the task `task_guid`)."""
        clock = clock or self.clock
        now = now or clock.now()
        entry: CachedCase | None = None
        try:
            with self.db.write() as conn:
                task_row = None
                if task_guid is not None:
                    task_row = sql.TASK_BY_GUID.first(conn, {"b_guid": task_guid})
                    if task_row is None:
                        raise NotFound(f"task {task_guid} does not exist")
                    instance_id = task_row.instance_id
                head = sql.INSTANCE_HEAD_LOCKED if self._lock_rows else sql.INSTANCE_HEAD
                row = head.first(conn, {"b_id": instance_id})
                if row is None:
                    raise NotFound(f"case {instance_id} does not exist")
                if task_guid is not None and self._lock_rows:  # re-read under the case lock
                    task_row = sql.TASK_BY_GUID.first(conn, {"b_guid": task_guid})
                definition = self.repository.get(row.definition_id)
                entry = self.cache.get(instance_id, row.revision)
                if entry is None:
                    entry = self._restore(conn, instance_id, definition)
                ctx = StepContext(
                    conn,
                    entry.workflow,
                    definition,
                    instance_id,
                    now,
                    actor,
                    office_code,
                    entry.projection,
                    task_row=task_row,
                )
                with using_clock(clock), step_budget(self.step_cpu_s):
                    action(ctx)
                    self._advance(ctx)
                self._save(ctx, row.revision, row.audit_seq, row.audit_head)
        except SkipStep:
            if entry is not None:
                self.cache.put(instance_id, entry)  # untouched: still valid
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
        self.cache.put(ctx.instance_id, CachedCase(row.revision + 1, ctx.workflow, ctx.projection))
        return ctx

    def inspect(self, instance_id: int, reader: Callable[[BpmnWorkflow], Any]) -> Any:
        """Read from a restored workflow without changing it (uses and refills the cache)."""
        with self.db.read() as conn:
            row = conn.execute(
                select(instance_table.c.definition_id, instance_table.c.revision).where(
                    instance_table.c.id == instance_id
                )
            ).first()
            if row is None:
                raise NotFound(f"case {instance_id} does not exist")
            definition = self.repository.get(row.definition_id)
            entry = self.cache.get(instance_id, row.revision) or self._restore(
                conn, instance_id, definition
            )
        try:
            return reader(entry.workflow)
        finally:
            if entry.revision == row.revision:
                self.cache.put(instance_id, entry)

    # -- inside the transaction -----------------------------------------------------------------

    def _restore(
        self, conn: Connection, instance_id: int, definition: LoadedDefinition
    ) -> CachedCase:
        state = conn.execute(
            select(instance_table.c.state, instance_table.c.revision).where(
                instance_table.c.id == instance_id
            )
        ).first()
        workflow = self.serializer.loads(state.state, definition.spec, definition.subprocess_specs)
        workflow.script_engine = self.script_engine
        projection = Projection(
            ready_tasks=set(
                conn.execute(
                    select(task_table.c.task_guid).where(
                        task_table.c.instance_id == instance_id, task_table.c.state == "ready"
                    )
                ).scalars()
            ),
            timers={
                (g, k): f
                for g, k, f in conn.execute(
                    select(
                        timer_table.c.task_guid, timer_table.c.kind, timer_table.c.fire_at
                    ).where(timer_table.c.instance_id == instance_id)
                )
            },
            waits=set(
                conn.execute(
                    select(wait_table.c.name).where(wait_table.c.instance_id == instance_id)
                ).scalars()
            ),
        )
        return CachedCase(state.revision, workflow, projection)

    def _advance(self, ctx: StepContext) -> None:
        """Run engine tasks; a failing service parks its task (STARTED) and the rest goes on.

        Timer steps call `refresh_timers()` in their action first: SpiffWorkflow only notices a
        due timer there, and `do_engine_steps()` then runs what the timer released. Everything
        runs within the step's CPU budget (shared with the action when `run` opened it).
        """
        with step_budget(self.step_cpu_s):
            self._run_engine_steps(ctx)
            if _end_spent_cycles(ctx.workflow):
                self._run_engine_steps(ctx)
            check_step_budget()

    def _run_engine_steps(self, ctx: StepContext) -> None:
        workflow = ctx.workflow
        while True:
            try:
                workflow.do_engine_steps()
                break
            except SpiffWorkflowException as exc:
                cause = root_cause(exc)
                task = getattr(exc, "task", None)
                if isinstance(cause, ServiceCallFailed) and task is not None:
                    task._set_state(TaskState.STARTED)
                    ctx.service_failures.append((task, str(cause)))
                    ctx.record("service_failed", task, data_after={"error": str(cause)})
                    check_step_budget()
                    continue
                raise
        depth = _tree_depth(workflow)
        if depth > MAX_TREE_DEPTH:
            raise EngineError(
                f"the case has looped too many times in one process (task tree {depth} levels "
                "deep; SpiffWorkflow silently stops past 1000): the model must bound this loop "
                "or run each round as a call activity"
            )

    def _save(self, ctx: StepContext, revision: int, audit_seq: int, audit_head: str) -> None:
        conn, workflow = ctx.conn, ctx.workflow
        ready: dict[str, Task] = {}
        started: list[Task] = []
        open_tasks = workflow.get_tasks(state=OPEN_STATES)
        for task in open_tasks:
            if task.state == TaskState.STARTED:
                started.append(task)
            elif task.state == TaskState.READY and task.task_spec.manual:
                ready[str(task.id)] = task
        self._project_tasks(ctx, ready)
        self._project_timers(ctx, started)
        self._project_waits(ctx)

        status = "completed" if workflow.is_completed() else "running"
        if ctx.cancelled:
            status = "cancelled"
        ctx.status = status
        # data as of this step, taken before the workflow goes back to the shared cache
        ctx.data = case_data(workflow, open_tasks)
        if status == "completed":
            ctx.record("instance_completed", data_after=self.serializer.convert_data(workflow.data))
        chained = chain_events(
            case_chain(ctx.instance_id), ctx.instance_id, audit_seq, audit_head, ctx.now, ctx.events
        )
        saved = sql.SAVE_INSTANCE.rowcount(
            conn,
            {
                "b_id": ctx.instance_id,
                "b_expected": revision,
                "b_state": self.serializer.dumps(workflow),
                "b_revision": revision + 1,
                "b_status": status,
                "b_now": ctx.now,
                "b_completed_at": ctx.now if status in ("completed", "cancelled") else None,
                "b_seq": chained.seq,
                "b_head": chained.head,
            },
        )
        if saved != 1:
            raise ConflictError(
                f"case {ctx.instance_id} was changed by someone else at the same time; "
                "nothing was saved, please reload"
            )
        if chained.rows:
            sql.INSERT_EVENTS.many(conn, chained.rows)

    def _project_tasks(self, ctx: StepContext, ready: dict[str, Task]) -> None:
        conn, workflow, known = ctx.conn, ctx.workflow, ctx.projection.ready_tasks
        new_rows = []
        for guid, task in ready.items():
            if guid in known:
                continue
            spec = task.task_spec
            lane = getattr(spec, "lane", None)
            assignment = _assignment(
                spec, self.organization.assign(lane, task.data, ctx.definition.process_id)
            )
            due = _deadline(task)
            remind = _reminder(task, due, ctx.now)
            new_rows.append(
                {
                    "instance_id": ctx.instance_id,
                    "task_guid": guid,
                    "process_id": ctx.definition.process_id,
                    "task_name": spec.bpmn_id or spec.name,
                    "title": spec.bpmn_name or spec.bpmn_id or spec.name,
                    "lane": lane,
                    "role": assignment.role,
                    "office_code": assignment.office_code,
                    "assignee": assignment.assignee,
                    "form": form_path(spec),
                    "created_at": ctx.now,
                    "due_at": due,
                    "remind_at": remind,
                    "titles": _titles(spec),
                    "state": "ready",
                }
            )
            ctx.record(
                "task_created",
                task,
                data_after={
                    "title": spec.bpmn_name,
                    "role": assignment.role,
                    "office_code": assignment.office_code,
                    "assignee": assignment.assignee,
                    "due_at": due.isoformat() if due else None,
                },
            )
        if new_rows:
            sql.INSERT_TASKS.many(conn, new_rows)
        for guid in known - ready.keys():
            completed_by = ctx.completed.get(guid)
            sql.FINISH_TASK.execute(
                conn,
                {
                    "b_guid": guid,
                    "b_state": "completed" if completed_by else "cancelled",
                    "b_by": completed_by,
                    "b_at": ctx.now,
                },
            )
            if completed_by is None:
                try:
                    task = workflow.get_task_from_id(UUID(guid))
                except TaskNotFoundException:
                    # pruned with its branch: e.g. the reminders a repeating boundary timer
                    # raised go when the task it watched ends (SpiffWorkflow cancels the event)
                    task = None
                if task is not None:
                    ctx.record("task_cancelled", task)
                else:
                    ctx.events.append(
                        PendingEvent("task_cancelled", ctx.actor, ctx.office_code, task_guid=guid)
                    )
        ctx.projection.ready_tasks = set(ready)

    def _project_timers(self, ctx: StepContext, started: list[Task]) -> None:
        conn, workflow = ctx.conn, ctx.workflow
        wanted: dict[tuple[str, str], tuple[datetime, str, str | None]] = {}
        for task in workflow.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            if isinstance(definition, TimerEventDefinition) and task.state == TaskState.WAITING:
                fire_at = timer_instant(task._get_internal_data("event_value"))
                if fire_at is not None:
                    wanted[(str(task.id), "timer")] = (fire_at, task.task_spec.bpmn_id or "", None)
        failures = {str(t.id): err for t, err in ctx.service_failures}
        for task in started:
            if not isinstance(task.task_spec, ServiceTask):
                continue
            guid = str(task.id)
            if guid in failures:
                attempts = self._attempts(conn, ctx.instance_id, guid) + 1
                fire_at = ctx.now + retry_delay(attempts)
                wanted[(guid, "retry")] = (fire_at, task.task_spec.bpmn_id or "", failures[guid])
                self._open_incident(conn, ctx, task, failures[guid], attempts)
            elif (guid, "retry") in ctx.projection.timers:
                wanted[(guid, "retry")] = (ctx.projection.timers[(guid, "retry")], "", None)

        known = ctx.projection.timers
        for key in known.keys() - wanted.keys():
            sql.DELETE_TIMER.execute(
                conn, {"b_id": ctx.instance_id, "b_guid": key[0], "b_kind": key[1]}
            )
            if key[1] == "retry" and not ctx.cancelled:
                self._resolve_incidents(conn, ctx, key[0])
        for key, (fire_at, name, error) in wanted.items():
            if key not in known:
                sql.INSERT_TIMER.execute(
                    conn,
                    {
                        "instance_id": ctx.instance_id,
                        "task_guid": key[0],
                        "kind": key[1],
                        "name": name,
                        "fire_at": fire_at,
                        "attempts": 1 if error else 0,
                        "last_error": error,
                    },
                )
            elif error is not None:
                conn.execute(
                    update(timer_table)
                    .where(
                        timer_table.c.instance_id == ctx.instance_id,
                        timer_table.c.task_guid == key[0],
                        timer_table.c.kind == key[1],
                    )
                    .values(fire_at=fire_at, attempts=timer_table.c.attempts + 1, last_error=error)
                )
            elif known[key] != fire_at:
                sql.MOVE_TIMER.execute(
                    conn,
                    {
                        "b_id": ctx.instance_id,
                        "b_guid": key[0],
                        "b_kind": key[1],
                        "b_fire_at": fire_at,
                    },
                )
        ctx.projection.timers = {k: v[0] for k, v in wanted.items()}

    def _project_waits(self, ctx: StepContext) -> None:
        wanted = {
            t.task_spec.event_definition.name
            for t in ctx.workflow.event_manager.tasks.values()
            if isinstance(t.task_spec.event_definition, MessageEventDefinition)
            and t.state == TaskState.WAITING
        }
        known = ctx.projection.waits
        for name in known - wanted:
            sql.DELETE_WAIT.execute(ctx.conn, {"b_id": ctx.instance_id, "b_name": name})
        if wanted - known:
            sql.INSERT_WAITS.many(
                ctx.conn,
                [{"instance_id": ctx.instance_id, "name": n} for n in sorted(wanted - known)],
            )
        ctx.projection.waits = wanted

    def _attempts(self, conn: Connection, instance_id: int, guid: str) -> int:
        return (
            conn.execute(
                select(timer_table.c.attempts).where(
                    timer_table.c.instance_id == instance_id,
                    timer_table.c.task_guid == guid,
                    timer_table.c.kind == "retry",
                )
            ).scalar()
            or 0
        )

    def _open_incident(
        self, conn: Connection, ctx: StepContext, task: Task, message: str, attempts: int = 1
    ) -> None:
        """One open incident per failing service task, naming its case, task and element;
        past the automatic bound (engine/management.py) it needs attention and its retry row
        is no longer due."""
        from .management import MAX_AUTOMATIC_ATTEMPTS  # management imports this module

        status = "needs_attention" if attempts >= MAX_AUTOMATIC_ATTEMPTS else "open"
        values = dict(
            message=error_words(message), attempts=attempts, last_attempt_at=ctx.now, status=status
        )
        open_id = conn.execute(
            select(incident_table.c.id).where(
                incident_table.c.instance_id == ctx.instance_id,
                incident_table.c.task_guid == str(task.id),
                incident_table.c.resolved_at.is_(None),
            )
        ).scalar()
        if open_id is None:
            conn.execute(
                insert(incident_table).values(
                    instance_id=ctx.instance_id,
                    task_guid=str(task.id),
                    task_name=task.task_spec.bpmn_id,
                    process_id=ctx.definition.process_id,
                    element_id=task.task_spec.bpmn_id,
                    element_name=(task.task_spec.bpmn_name or None),
                    kind="service",
                    created_at=ctx.now,
                    **values,
                )
            )
        else:
            conn.execute(
                update(incident_table).where(incident_table.c.id == open_id).values(**values)
            )
        mark_incident(conn, ctx.instance_id, ctx.now)  # the case is found by "had an incident"

    def _resolve_incidents(self, conn: Connection, ctx: StepContext, guid: str) -> None:
        conn.execute(
            update(incident_table)
            .where(
                incident_table.c.instance_id == ctx.instance_id,
                incident_table.c.task_guid == guid,
                incident_table.c.resolved_at.is_(None),
            )
            .values(
                resolved_at=ctx.now,
                status="resolved",
                resolved_by=ctx.actor,
                resolution="answered",  # the outside system answered a retry
            )
        )
        ctx.events.append(
            PendingEvent("service_completed", ctx.actor, ctx.office_code, task_guid=guid)
        )

    # -- errors -------------------------------------------------------------------------------

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, EngineError | SkipStep):
            return exc
        task = getattr(exc, "task", None) if isinstance(exc, SpiffWorkflowException) else None
        cause = root_cause(exc)
        if isinstance(cause, EngineError):
            return _at_element(cause, task)
        if isinstance(exc, SpiffWorkflowException):
            where = f" in task '{task.task_spec.bpmn_id}'" if task is not None else ""
            return _at_element(ScriptFailed(f"the model failed{where}: {cause}"), task)
        return exc


def _at_element(error: EngineError, task: Task | None) -> EngineError:
    """Remember on the error which element failed (`element_id`, `element_name`), for the
    incident that records it (engine/management.py, `Engine.run_step`)."""
    if task is not None and getattr(error, "element_id", None) is None:
        with suppress(AttributeError):
            error.element_id = task.task_spec.bpmn_id  # type: ignore[attr-defined]
            error.element_name = task.task_spec.bpmn_name or None  # type: ignore[attr-defined]
    return error


#: a Python exception's class name inside an error's text ("NameError: ", "KeyError: ")
_PYTHON_CLASS = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|Warning): ")


def error_words(message: str) -> str:
    """An error as a person reads it on the failed-cases page: without the names of Python
    exception classes ("script failed: NameError: name 'x' is not defined" becomes "script
    failed: name 'x' is not defined"), at most 2,000 characters."""
    text = _PYTHON_CLASS.sub("", message or "").strip()
    return text if len(text) <= 2000 else text[:1999] + "…"


def record_incident(
    db: Database,
    instance_id: int | None,
    kind: str,
    message: str,
    now: datetime,
    task_guid: str | None = None,
    task_name: str | None = None,
    *,
    process_id: str | None = None,
    element_id: str | None = None,
    element_name: str | None = None,
) -> None:
    """Record a failure in its own transaction, after the failed step was rolled back.

    Nothing retries such a step by itself (a person's action, a start): the incident needs
    attention at once (engine/management.py). It names the case (its procedure when the start
    failed before the case existed), the task the step was for and the element that failed."""
    with db.write() as conn:
        if process_id is None and instance_id is not None:
            process_id = conn.execute(
                select(instance_table.c.process_id).where(instance_table.c.id == instance_id)
            ).scalar()
        conn.execute(
            insert(incident_table).values(
                instance_id=instance_id,
                task_guid=task_guid,
                task_name=task_name,
                process_id=process_id,
                element_id=element_id or task_name,
                element_name=element_name,
                kind=kind,
                message=error_words(message),
                created_at=now,
                last_attempt_at=now,
                attempts=1,
                status="needs_attention",
            )
        )
        mark_incident(conn, instance_id, now)


OPEN_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def case_data(workflow: BpmnWorkflow, open_tasks: list[Task] | None = None) -> dict[str, Any]:
    """What the case knows now: the final data once completed; while running, the data the
    open tasks carry (every branch's), which includes what engine tasks just computed."""
    if workflow.is_completed():
        return dict(workflow.data)
    if open_tasks is None:
        open_tasks = workflow.get_tasks(state=OPEN_STATES)
    merged: dict[str, Any] = {}
    for task in open_tasks:
        merged.update(task.data)
    if not merged and workflow.last_task is not None:
        merged.update(workflow.last_task.data)
    return merged


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """Start data that queues may filter on: short scalar values only."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 300):
            out[key] = value
    return out


def _assignment(spec: Any, by_lane: Assignment) -> Assignment:
    """The lane's assignment, with the role the user task itself names, if it names one.

    A `role` property lets a model send one task of a lane to another role of the same office
    (e.g. the control of a breach to the regional head while the lane is the regional unit)
    without drawing a lane for a single task.
    """
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    role = props.get("role")
    if isinstance(role, str) and role.strip() and role.strip() != by_lane.role:
        # the person chosen for the lane's role is not the one for another role
        return by_lane._replace(role=role.strip(), assignee=None)
    return by_lane


def _titles(spec: Any) -> dict[str, str] | None:
    """The task's title in other languages, from its `title_<locale>` properties."""
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    titles = {k[6:]: v for k, v in props.items() if k.startswith("title_") and v}
    return titles or None


def _end_spent_cycles(workflow: BpmnWorkflow) -> bool:
    """Let an intermediate cycle timer whose cycles are used up (R3: after its third firing)
    finish now; returns whether any was finished.

    SpiffWorkflow leaves such an event waiting until some later `refresh_timers()`; the engine
    keeps no timer row for it (`timer_instant`), so it would hold its case open forever.
    Finishing it does not run its path again. A boundary cycle is left waiting (without a row)
    on purpose: SpiffWorkflow keeps the paths it raised under it and drops those still open
    when the watched task ends (the reminders of a written report go), and they should go the
    same way after the last firing as before it."""
    spent = [
        task
        for task in list(workflow.event_manager.tasks.values())
        if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition)
        and not isinstance(task.task_spec, BoundaryEvent)
        and task.state == TaskState.WAITING
        and isinstance(value := task._get_internal_data("event_value"), dict)
        and value.get("cycles") == 0
    ]
    for task in spent:
        for _ in range(2):  # the first update marks it fired, the second makes it ready
            if task.state == TaskState.WAITING:
                task.task_spec._update(task)
    return bool(spent)


def timer_instant(value: Any) -> datetime | None:
    """When a waiting timer fires next, from SpiffWorkflow's `event_value`; None: never again.

    A single timer (timeDuration, timeDate) keeps an ISO text. A cycle (timeCycle, e.g.
    `R3/PT24H`) keeps `{"cycles", "next", "duration"}`: `next` is its coming occurrence while
    `cycles` is not 0 (-1 for `R/…`, unbounded); SpiffWorkflow moves `next` on by `duration`
    and counts `cycles` down at each firing, so the timer row is re-armed at the new `next`
    after each one and removed once the cycles are used up (the event then waits for nothing).
    """
    if not value:
        return None
    if isinstance(value, dict):
        if value.get("cycles") == 0 or not value.get("next"):
            return None
        value = value["next"]
    return TimerEventDefinition.get_datetime(str(value))


def _deadline(task: Task) -> datetime | None:
    """The user task's due instant, from its boundary timers.

    The timer named by the task's `deadline` property wins; otherwise the earliest interrupting
    timer (the legal deadline), otherwise the earliest timer of any kind (e.g. a reminder).
    """
    props = (getattr(task.task_spec, "extensions", None) or {}).get("properties") or {}
    preferred = props.get("deadline")
    if task.parent is None:
        return None
    interrupting: list[datetime] = []
    others: list[datetime] = []
    for sibling in task.parent.children:
        spec = sibling.task_spec
        if not (
            isinstance(spec, BoundaryEvent)
            and isinstance(spec.event_definition, TimerEventDefinition)
        ):
            continue  # a timer that already fired in this step still gives the due date
        instant = timer_instant(sibling._get_internal_data("event_value"))
        if instant is None:
            continue
        if preferred and spec.bpmn_id == preferred:
            return instant
        (interrupting if spec.cancel_activity else others).append(instant)
    if interrupting:
        return min(interrupting)
    return min(others) if others else None


REMINDER_LEAD_MAX = timedelta(hours=24)


def _reminder(task: Task, due: datetime | None, now: datetime) -> datetime | None:
    """When the task's reminder is due: its `reminder` property (ISO duration before the
    deadline) or a quarter of the time it was given, at most a day before the deadline."""
    if due is None:
        return None
    props = (getattr(task.task_spec, "extensions", None) or {}).get("properties") or {}
    lead: timedelta | None = None
    if props.get("reminder"):
        with suppress(ValueError, TypeError):
            lead = isodate_duration(props["reminder"])
    if lead is None:
        lead = min(REMINDER_LEAD_MAX, max(due - now, timedelta(0)) / 4)
    return due - lead


def isodate_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes, seconds (no calendar months)."""
    parts = TimerEventDefinition.parse_iso_duration(text)
    if parts.get("years") or parts.get("months"):
        raise ValueError("a reminder is given in days or hours, not months")
    return timedelta(
        weeks=parts.get("weeks", 0),
        days=parts.get("days", 0),
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )


def _attributes(
    instance_id: int, data: dict[str, Any], names: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Case attribute rows for the start data's searchable values."""
    rows = []
    for name in names:
        value = data.get(name)
        if value is None or isinstance(value, dict | list) or value == "":
            continue
        text = str(value)[:300]
        rows.append(
            {"instance_id": instance_id, "name": name, "value": text, "value_norm": text.casefold()}
        )
    return rows


def _tree_depth(workflow: BpmnWorkflow) -> int:
    """Deepest open task; only walked when the tree is big enough to be near the limit."""
    if len(workflow.tasks) < MAX_TREE_DEPTH:
        return 0
    depth = 0
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, max_depth=10**6):
        depth = max(depth, task.depth)
    return depth
