"""Management service: fire due timers, retry parked service tasks, incidents, checkpoints.

Each due row is handled in its own step. The step re-reads the timer row after it has locked the
case, so a timer taken by another worker (or fired twice by a catch-up run) is skipped, not run
again. On PostgreSQL the row is taken with FOR UPDATE SKIP LOCKED so workers share the load.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, or_, select, update

from .clock import FakeClock
from .errors import EngineError, NotFound
from .history import PendingEvent, append_case_event, write_checkpoint
from .models import HumanTask, Incident, ProcessInstance, Timer, as_utc
from .services import retry_delay
from .step import SkipStep, StepContext, record_incident

if TYPE_CHECKING:
    from .engine import Engine

timer_table = Timer.__table__
incident_table = Incident.__table__
task_table = HumanTask.__table__
instance_table = ProcessInstance.__table__


class ManagementService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def due_timers(self, now: datetime, limit: int = 500) -> list[Any]:
        c = timer_table.c
        with self.engine.db.read() as conn:
            return conn.execute(
                select(c.id, c.instance_id, c.task_guid, c.kind, c.fire_at)
                .where(
                    # SpiffWorkflow fires a timer strictly after its instant; retries are ours
                    or_(
                        and_(c.kind == "timer", c.fire_at < now),
                        and_(c.kind == "retry", c.fire_at <= now),
                    )
                )
                .order_by(c.fire_at, c.id)
                .limit(limit)
            ).all()

    def fire_due(self, now: datetime | None = None, *, actor: str = "timer") -> int:
        """Fire every timer and retry due at `now` once; returns how many fired."""
        explicit = now is not None
        now = now or self.engine.clock.now()
        clock = FakeClock(now) if explicit else self.engine.clock
        fired = 0
        for row in self.due_timers(now):
            if self._fire_one(row, now, clock, actor):
                fired += 1
        return fired

    def _fire_one(self, row: Any, now: datetime, clock: Any, actor: str) -> bool:
        def act(ctx: StepContext) -> None:
            stmt = select(timer_table.c.fire_at).where(timer_table.c.id == row.id)
            if ctx.conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            current = ctx.conn.execute(stmt).first()
            if current is None:
                raise SkipStep  # fired already (another worker, or an earlier run)
            task = ctx.workflow.get_task_from_id(UUID(row.task_guid))
            if row.kind == "retry":
                if task is None or task.state != TaskState.STARTED:
                    raise SkipStep
                task._set_state(TaskState.READY)
                ctx.record("service_retried", task)
            else:
                ctx.workflow.refresh_timers()
                ctx.record("timer_fired", task, data_after={"due_at": row.fire_at.isoformat()})

        try:
            self.engine.run_step(row.instance_id, act, actor=actor, now=now, clock=clock)
            return True
        except SkipStep:
            return False
        except EngineError as exc:
            self._postpone(row, now, str(exc))
            return False

    def fire_alerts(self, now: datetime | None = None) -> dict[str, int]:
        """Record reminders that came due and deadlines that passed, once per task.

        Neither touches the workflow: the model's own boundary timers do the escalation; this
        marks the task row (so queues can show it) and writes the case's history.
        """
        now = now or self.engine.clock.now()
        c = task_table.c
        counts = {"reminders": 0, "breaches": 0}
        with self.engine.db.read() as conn:
            reminders = (
                conn.execute(
                    select(c.task_guid)
                    .where(c.state == "ready", c.remind_at <= now, c.reminded_at.is_(None))
                    .order_by(c.remind_at)
                    .limit(500)
                )
                .scalars()
                .all()
            )
            breaches = (
                conn.execute(
                    select(c.task_guid)
                    .where(c.state == "ready", c.due_at < now, c.breached_at.is_(None))
                    .order_by(c.due_at)
                    .limit(500)
                )
                .scalars()
                .all()
            )
        for guid in reminders:
            if self._mark(guid, "reminded_at", "task_reminder", now):
                counts["reminders"] += 1
        for guid in breaches:
            if self._mark(guid, "breached_at", "deadline_breached", now):
                counts["breaches"] += 1
        return counts

    def _mark(self, task_guid: str, column: str, event_type: str, now: datetime) -> bool:
        c = task_table.c
        with self.engine.db.write() as conn:
            instance_id = conn.execute(
                select(c.instance_id).where(c.task_guid == task_guid)
            ).scalar_one()
            if conn.dialect.name == "postgresql":  # the case's lock orders its history
                conn.execute(
                    select(instance_table.c.id)
                    .where(instance_table.c.id == instance_id)
                    .with_for_update()
                )
            row = conn.execute(select(task_table).where(c.task_guid == task_guid)).mappings().one()
            if row["state"] != "ready" or row[column] is not None:
                return False  # completed meanwhile, or marked by another worker
            conn.execute(update(task_table).where(c.task_guid == task_guid).values({column: now}))
            append_case_event(
                conn,
                instance_id,
                now,
                PendingEvent(
                    event_type,
                    "timer",
                    row["office_code"],
                    task_guid=task_guid,
                    task_name=row["task_name"],
                    data_after={
                        "title": row["title"],
                        "assignee": row["assignee"],
                        "office_code": row["office_code"],
                        "due_at": as_utc(row["due_at"]).isoformat() if row["due_at"] else None,
                    },
                ),
            )
        return True

    def _postpone(self, row: Any, now: datetime, message: str) -> None:
        """A timer whose step fails is retried later, with the failure kept as an incident."""
        with self.engine.db.write() as conn:
            attempts = (
                conn.execute(
                    select(timer_table.c.attempts).where(timer_table.c.id == row.id)
                ).scalar()
                or 0
            ) + 1
            conn.execute(
                update(timer_table)
                .where(timer_table.c.id == row.id)
                .values(attempts=attempts, last_error=message, fire_at=now + retry_delay(attempts))
            )
        record_incident(
            self.engine.db, row.instance_id, "timer", message, now, task_guid=row.task_guid
        )

    def incidents(
        self, *, open_only: bool = True, instance_id: int | None = None
    ) -> list[dict[str, Any]]:
        c = incident_table.c
        stmt = select(incident_table).order_by(c.id)
        if open_only:
            stmt = stmt.where(c.resolved_at.is_(None))
        if instance_id is not None:
            stmt = stmt.where(c.instance_id == instance_id)
        with self.engine.db.read() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def checkpoint(self, now: datetime | None = None) -> dict[str, Any]:
        with self.engine.db.write() as conn:
            return write_checkpoint(conn, now or self.engine.clock.now())

    def next_fire_at(self) -> datetime | None:
        with self.engine.db.read() as conn:
            return conn.execute(
                select(timer_table.c.fire_at).order_by(timer_table.c.fire_at).limit(1)
            ).scalar()


def require(value: Any, what: str) -> Any:
    if value is None:
        raise NotFound(f"{what} does not exist")
    return value
