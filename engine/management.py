"""Management service: fire due timers and scheduled starts, retry parked service tasks,
incidents, checkpoints.

Each due row is handled in its own step. The step re-reads the timer row after it has locked the
case, so a timer taken by another worker (or fired twice by a catch-up run) is skipped, not run
again. On PostgreSQL the row is taken with FOR UPDATE SKIP LOCKED so workers share the load.

A call drains everything due: rows are read in batches of `BATCH_SIZE` (keyset order, so a
long backlog costs no OFFSET scans) and each row is one step, one transaction. One case never
stops the others: a case that cannot be restored, or whose step fails, gets an open incident
naming the case, the task and the element, and its timer is postponed with a growing delay
(1, 2, 4 … 60 minutes); every other due row still fires in the same call.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, insert, or_, select, update

from .audit_keys import settings_of
from .audit_search import mark_breached, mark_incident
from .clock import FakeClock
from .errors import Busy, EngineError, NotFound
from .history import PendingEvent, append_case_event, record_checkpoint
from .models import HumanTask, Incident, ProcessInstance, Timer, as_utc
from .services import retry_delay
from .step import SkipStep, StepContext

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("nadzor.worker")

timer_table = Timer.__table__
incident_table = Incident.__table__
task_table = HumanTask.__table__
instance_table = ProcessInstance.__table__

#: due rows read per query (timers, reminders, breaches); each is then its own step
BATCH_SIZE = 500
#: passes over the due rows per call; a pass picks up rows that came due during the last one
MAX_PASSES = 10

Outcome = Literal["fired", "skipped", "postponed", "busy"]


class ManagementService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def due_timers(
        self,
        now: datetime,
        limit: int = BATCH_SIZE,
        after: tuple[datetime, int] | None = None,
    ) -> list[Any]:
        """Due rows in (fire_at, id) order, `limit` at a time, after the row `after`."""
        c = timer_table.c
        stmt = select(
            c.id, c.instance_id, c.task_guid, c.kind, c.name, c.fire_at, c.attempts
        ).where(
            # SpiffWorkflow fires a timer strictly after its instant; retries are ours
            or_(
                and_(c.kind == "timer", c.fire_at < now),
                and_(c.kind == "retry", c.fire_at <= now),
            )
        )
        if after is not None:
            stmt = stmt.where(
                or_(c.fire_at > after[0], and_(c.fire_at == after[0], c.id > after[1]))
            )
        with self.engine.db.read() as conn:
            return conn.execute(stmt.order_by(c.fire_at, c.id).limit(limit)).all()

    def fire_due(self, now: datetime | None = None, *, actor: str = "timer") -> int:
        """Start the scheduled cases due at `now`, then fire every timer and retry due once;
        returns how many fired in all (`fire_due_counts` tells them apart)."""
        return self.fire_due_counts(now, actor=actor)["fired"]

    def fire_due_counts(
        self, now: datetime | None = None, *, actor: str = "timer"
    ) -> dict[str, int]:
        """`fire_due` with its parts: {"fired": all, "timers": timers and retries fired,
        "scheduled_starts": cases started by a schedule (engine/schedules.py)}."""
        explicit = now is not None
        now = now or self.engine.clock.now()
        clock = FakeClock(now) if explicit else self.engine.clock
        started = self.engine.schedules.fire(now, clock=clock)
        timers = self._fire_timers(now, clock, actor)
        return {"fired": timers + started, "timers": timers, "scheduled_starts": started}

    def _fire_timers(self, now: datetime, clock: Any, actor: str) -> int:
        """Fire every timer and retry due at `now` once; returns how many fired.

        Rows are attempted once per call each. A row that cannot fire is postponed (with an
        incident) and the rest go on. On SQLite a `Busy` (another step kept the one write lock
        past the bounded wait) ends the call: every further row would wait as long; what is
        left stays due for the next round. On PostgreSQL only that case is busy: it is left
        for the next round and the others fire.
        """
        fired = 0
        attempted: set[int] = set()
        for _ in range(MAX_PASSES):
            fresh = 0
            after: tuple[datetime, int] | None = None
            while True:
                rows = self.due_timers(now, after=after)
                for row in rows:
                    if row.id in attempted:
                        continue
                    attempted.add(row.id)
                    fresh += 1
                    outcome = self._fire_one(row, now, clock, actor)
                    if outcome == "fired":
                        fired += 1
                    elif outcome == "busy" and self.engine.db.is_sqlite:
                        raise Busy(
                            f"the database stayed busy with another step; {fired} due timers "
                            "fired, the rest stay due for the next round: try again shortly"
                        )
                if len(rows) < BATCH_SIZE:
                    break
                after = (rows[-1].fire_at, rows[-1].id)
            if fresh == 0:
                break
        return fired

    def _fire_one(self, row: Any, now: datetime, clock: Any, actor: str) -> Outcome:
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
            self.engine.run_step(
                row.instance_id, act, actor=actor, now=now, clock=clock, record_failure=False
            )
        except SkipStep:
            return "skipped"
        except Busy:
            return "busy"  # not the case's fault: no incident, it stays due
        except EngineError as exc:
            self._postpone(row, now, str(exc))
            return "postponed"
        except Exception as exc:  # a case that cannot be restored (corrupt state), a bug
            log.exception("case %s: the %s %s failed", row.instance_id, row.kind, row.name)
            self._postpone(
                row, now, f"the case could not be restored or stepped ({type(exc).__name__}: {exc})"
            )
            return "postponed"
        if row.attempts:  # it had failed before: its incident is over
            self._resolve(row, now)
        return "fired"

    def _resolve(self, row: Any, now: datetime) -> None:
        c = incident_table.c
        try:
            with self.engine.db.write() as conn:
                conn.execute(
                    update(incident_table)
                    .where(
                        c.instance_id == row.instance_id,
                        c.task_guid == row.task_guid,
                        c.kind == "timer",
                        c.resolved_at.is_(None),
                    )
                    .values(resolved_at=now)
                )
        except Exception:  # the timer fired; the incident stays open for a person to close
            log.exception("case %s: resolving the incident of %s failed", row.instance_id, row.name)

    def fire_alerts(self, now: datetime | None = None) -> dict[str, int]:
        """Record reminders that came due and deadlines that passed, once per task.

        Neither touches the workflow: the model's own boundary timers do the escalation; this
        marks the task row (so queues can show it) and writes the case's history. Every due
        row is handled, `BATCH_SIZE` at a time, each in its own transaction.
        """
        now = now or self.engine.clock.now()
        c = task_table.c
        return {
            "reminders": self._drain_alerts(
                c.remind_at <= now, c.remind_at, c.reminded_at, "task_reminder", now
            ),
            "breaches": self._drain_alerts(
                c.due_at < now, c.due_at, c.breached_at, "deadline_breached", now
            ),
        }

    def _drain_alerts(self, due: Any, order: Any, mark: Any, event_type: str, now: datetime) -> int:
        c = task_table.c
        marked = 0
        after: tuple[datetime, str] | None = None
        while True:
            stmt = select(order, c.task_guid).where(c.state == "ready", due, mark.is_(None))
            if after is not None:
                stmt = stmt.where(
                    or_(order > after[0], and_(order == after[0], c.task_guid > after[1]))
                )
            with self.engine.db.read() as conn:
                rows = conn.execute(stmt.order_by(order, c.task_guid).limit(BATCH_SIZE)).all()
            for _instant, guid in rows:
                try:
                    if self._mark(guid, mark.name, event_type, now):
                        marked += 1
                except Busy:
                    if self.engine.db.is_sqlite:
                        raise
                except Exception:  # one task's row must not stop the others' alerts
                    log.exception("task %s: recording %s failed", guid, event_type)
            if len(rows) < BATCH_SIZE:
                return marked
            after = (rows[-1][0], rows[-1][1])

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
            if event_type == "deadline_breached":  # the case is found by "a deadline breached"
                mark_breached(conn, instance_id, now)
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
        """A timer whose step fails is tried again later, with backoff (1, 2, 4 … 60 minutes),
        and the failure is kept as one open incident per timer (updated, not repeated)."""
        try:
            with self.engine.db.write() as conn:
                attempts = (
                    conn.execute(
                        select(timer_table.c.attempts).where(timer_table.c.id == row.id)
                    ).scalar()
                    or 0
                ) + 1
                retry_at = now + retry_delay(attempts)
                conn.execute(
                    update(timer_table)
                    .where(timer_table.c.id == row.id)
                    .values(attempts=attempts, last_error=message, fire_at=retry_at)
                )
                text = (
                    f"case {row.instance_id}, {row.kind} '{row.name}': {message} "
                    f"(attempt {attempts}; next at {retry_at.isoformat()})"
                )
                c = incident_table.c
                open_id = conn.execute(
                    select(c.id).where(
                        c.instance_id == row.instance_id,
                        c.task_guid == row.task_guid,
                        c.kind == "timer",
                        c.resolved_at.is_(None),
                    )
                ).scalar()
                if open_id is None:
                    conn.execute(
                        insert(incident_table).values(
                            instance_id=row.instance_id,
                            task_guid=row.task_guid,
                            task_name=row.name,
                            kind="timer",
                            message=text,
                            created_at=now,
                        )
                    )
                else:
                    conn.execute(update(incident_table).where(c.id == open_id).values(message=text))
                mark_incident(conn, row.instance_id, now)
        except Exception:  # the round goes on; the row stays due and is tried next round
            log.exception(
                "case %s: postponing the %s %s failed", row.instance_id, row.kind, row.name
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

    def checkpoint(
        self, now: datetime | None = None, *, only_if_moved: bool = False
    ) -> dict[str, Any]:
        """A signed checkpoint over the chains that moved (engine/history.py), copied to the
        external log after it commits; `only_if_moved`: the worker's, skipped when idle."""
        return record_checkpoint(
            self.engine.db,
            now or self.engine.clock.now(),
            settings_of(self.engine),
            only_if_moved=only_if_moved,
            until_done=not only_if_moved,  # the CLI's: every backlog covered before it returns
        )

    def next_fire_at(self) -> datetime | None:
        with self.engine.db.read() as conn:
            return conn.execute(
                select(timer_table.c.fire_at).order_by(timer_table.c.fire_at).limit(1)
            ).scalar()


def require(value: Any, what: str) -> Any:
    if value is None:
        raise NotFound(f"{what} does not exist")
    return value
