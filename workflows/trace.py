"""An auditor's trace of one case, as data: every recorded event in order, the incidents beside
them, and every deadline with its outcome and by how much it was met or breached.

No Flask here: the page (web/audit_trace.py), the exports and the tests read the same `Trace`
and only the wording differs. The timeline is the case's hash chain (engine/history.py) in
sequence order; incidents live in their own table (a failing step is rolled back, so it leaves
no event) and are placed by time, marked as outside the chain.

Escalation is not an event of its own: a model escalates with a boundary timer on a task whose
path creates a task for another office (bpmn/README.md). A `task_created` recorded in the same
step as such a timer's `timer_fired` is therefore told as an escalation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.models import Definition, Incident, as_utc
from engine.tasks import TaskQuery

#: event kinds the engine and the domain write to a case's chain, in the order a case meets
#: them; the page has words for each (web/audit_trace.py: EVENT_WORDS) and a test checks both
#: stay in step with what the code writes
KNOWN_KINDS = (
    "instance_started",
    "task_created",
    "task_claimed",
    "task_unclaimed",
    "task_delegated",
    "task_completed",
    "task_reminder",
    "deadline_breached",
    "timer_fired",
    "message_received",
    "service_failed",
    "service_retried",
    "service_completed",
    "task_cancelled",
    "instance_completed",
    "instance_cancelled",
    "incident_retried",
    "case_cancelled",
    "case_migrated",
    "access_denied",
)


#: what one workflow step records besides its trigger (the worker's reminders and breaches, a
#: claim or a completion are steps of their own)
STEP_KINDS = ("task_created", "task_cancelled", "service_completed", "service_failed")


@dataclass
class TraceEvent:
    """One line of the timeline: an event of the chain, or an incident (`in_chain` False)."""

    kind: str
    instant: datetime
    actor: str
    office_code: str | None = None
    seq: int | None = None
    task_guid: str | None = None
    task_name: str | None = None
    before: Any = None
    after: Any = None
    hash: str = ""
    prev_hash: str = ""
    in_chain: bool = True
    escalation: bool = False  # a task created by a deadline timer's path (see the module doc)


@dataclass
class DeadlineOutcome:
    """A task's deadline and what became of it.

    `outcome`: ``met`` (done in time), ``breached`` (done late, or still open past it, or
    cancelled after it passed), ``pending`` (open, not yet due) or ``cancelled`` (the task was
    cancelled before its deadline). `margin` is how much time was left (met, pending) or by how
    much it was missed (breached); None when cancelled in time.
    """

    task_guid: str
    task_name: str
    title: str
    titles: dict[str, str] | None
    role: str | None
    office_code: str | None
    assignee: str | None
    completed_by: str | None
    state: str
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None
    outcome: str
    margin: timedelta | None

    @property
    def open(self) -> bool:
        return self.state == "ready"


@dataclass
class VersionInfo:
    """The published version the case ran on (its content hash is what the chain names)."""

    definition_id: int
    process_id: str
    version: int
    sha256: str
    published_at: datetime | None
    published_by: str | None


@dataclass
class Trace:
    case: Any  # engine.runtime's InstanceView
    version: VersionInfo
    events: list[TraceEvent] = field(default_factory=list)
    deadlines: list[DeadlineOutcome] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)
    now: datetime | None = None

    @property
    def breached(self) -> list[DeadlineOutcome]:
        return [d for d in self.deadlines if d.outcome == "breached"]


def deadline_outcome(task: Any, now: datetime) -> DeadlineOutcome | None:
    """The outcome of one task's deadline (None: the task has no deadline)."""
    if task.due_at is None:
        return None
    due = task.due_at
    finished = task.completed_at
    if task.state == "completed" and finished is not None:
        outcome = "met" if finished <= due else "breached"
        margin = due - finished if outcome == "met" else finished - due
    elif task.state == "ready":
        outcome = "pending" if now <= due else "breached"
        margin = due - now if outcome == "pending" else now - due
    elif finished is not None and finished > due:  # cancelled after the deadline had passed
        outcome, margin = "breached", finished - due
    else:
        outcome, margin = "cancelled", None
    return DeadlineOutcome(
        task_guid=task.task_guid,
        task_name=task.task_name,
        title=task.title,
        titles=task.titles,
        role=task.role,
        office_code=task.office_code,
        assignee=task.assignee,
        completed_by=task.completed_by,
        state=task.state,
        created_at=task.created_at,
        due_at=due,
        finished_at=finished,
        outcome=outcome,
        margin=margin,
    )


def boundary_timer_ids(definition: Any) -> set[str]:
    """BPMN ids of the version's boundary timers (deadlines drawn on a task's border)."""
    specs = [definition.spec, *getattr(definition, "subprocess_specs", {}).values()]
    found = set()
    for spec in specs:
        for s in spec.task_specs.values():
            if type(s).__name__ == "BoundaryEvent" and getattr(s, "bpmn_id", None):
                found.add(s.bpmn_id)
    return found


def _chain_events(rows: list[dict[str, Any]], boundary: set[str]) -> list[TraceEvent]:
    events: list[TraceEvent] = []
    escalating: tuple[datetime, str] | None = None  # the step of a deadline timer: when, who
    for r in rows:
        instant = as_utc(r["instant"])
        assert instant is not None
        kind = r["event_type"]
        if kind == "timer_fired" and r.get("task_name") in boundary:
            escalating = (instant, r["actor"])
        elif escalating != (instant, r["actor"]) or kind not in STEP_KINDS:
            escalating = None
        events.append(
            TraceEvent(
                kind=kind,
                instant=instant,
                actor=r["actor"],
                office_code=r.get("office_code"),
                seq=r["seq"],
                task_guid=r.get("task_guid"),
                task_name=r.get("task_name"),
                before=r.get("data_before"),
                after=r.get("data_after"),
                hash=r.get("hash") or "",
                prev_hash=r.get("prev_hash") or "",
                escalation=kind == "task_created" and escalating is not None,
            )
        )
    return events


def _incidents(conn: Any, instance_id: int) -> list[TraceEvent]:
    c = Incident.__table__.c
    rows = conn.execute(
        select(Incident.__table__).where(c.instance_id == instance_id).order_by(c.id)
    ).mappings()
    out = []
    for r in rows:
        created = as_utc(r["created_at"])
        assert created is not None
        out.append(
            TraceEvent(
                kind="incident",
                instant=created,
                actor="system",
                task_guid=r["task_guid"],
                task_name=r["task_name"],
                after={
                    "kind": r["kind"],
                    "message": r["message"],
                    "resolved_at": _iso(as_utc(r["resolved_at"])),
                },
                in_chain=False,
            )
        )
    return out


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _merge(chain: list[TraceEvent], incidents: list[TraceEvent]) -> list[TraceEvent]:
    """Chain events keep their sequence; an incident goes after the last event not later than
    it (a failure is recorded after its step was rolled back)."""
    out: list[TraceEvent] = []
    pending = sorted(incidents, key=lambda e: e.instant)
    for ev in chain:
        while pending and pending[0].instant < ev.instant:
            out.append(pending.pop(0))
        out.append(ev)
    out.extend(pending)
    return out


def _version(conn: Any, definition_id: int) -> VersionInfo:
    t = Definition.__table__
    row = conn.execute(
        select(
            t.c.id, t.c.process_id, t.c.version, t.c.sha256, t.c.published_at, t.c.published_by
        ).where(t.c.id == definition_id)
    ).one()
    return VersionInfo(
        row.id,
        row.process_id,
        row.version,
        row.sha256,
        as_utc(row.published_at),
        row.published_by,
    )


def build_trace(engine: Any, instance_id: int) -> Trace:
    """The case's trace now (engine.errors.NotFound when there is no such case)."""
    view = engine.runtime.get(instance_id)
    now = engine.clock.now()
    definition = engine.repository.get(view.definition_id)
    rows = engine.history.events(instance_id)
    tasks = engine.tasks.list(TaskQuery(instance_id=instance_id, state=None, limit=10_000))
    with engine.db.read() as conn:
        incidents = _incidents(conn, instance_id)
        version = _version(conn, view.definition_id)
    events = _merge(_chain_events(rows, boundary_timer_ids(definition)), incidents)
    ordered = sorted(tasks, key=lambda t: (t.created_at, t.id))
    deadlines = [d for d in (deadline_outcome(t, now) for t in ordered) if d is not None]
    return Trace(view, version, events, deadlines, ordered, now)
