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

Automatic attempts are bounded: a timer or service retry that failed `MAX_AUTOMATIC_ATTEMPTS`
times is no longer due (its row stays, with the count), and its incident needs attention. Only a
person moves it on (methodologists and admins, workflows/rights.py `may_operate`):
`retry_incident` runs the failed step again through the same code path (after a fixed version
was published and the case migrated to it, it succeeds), `cancel_case` ends the case with a
reason. Both write an event to the case's chain in the transaction that does the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, delete, func, insert, or_, select, update

from .audit_keys import settings_of
from .audit_search import mark_breached, mark_incident
from .clock import FakeClock
from .errors import Busy, DataRejected, EngineError, InvalidOperation, NotFound
from .history import PendingEvent, append_case_event, record_checkpoint
from .models import HumanTask, Incident, MessageWait, ProcessInstance, Timer, as_utc
from .services import retry_delay
from .step import SkipStep, StepContext, error_words

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("nadzor.worker")

timer_table = Timer.__table__
incident_table = Incident.__table__
task_table = HumanTask.__table__
instance_table = ProcessInstance.__table__
wait_table = MessageWait.__table__

#: due rows read per query (timers, reminders, breaches); each is then its own step
BATCH_SIZE = 500
#: passes over the due rows per call; a pass picks up rows that came due during the last one
MAX_PASSES = 10
#: attempts a failing timer or service retry gets by itself (tried again 1, 2, 4 and 8 minutes
#: after each failure); after the last one its row is no longer due and its incident needs
#: attention: a person retries it (`retry_incident`), migrates the case or cancels it
MAX_AUTOMATIC_ATTEMPTS = 5
#: the longest reason for cancelling a case
MAX_REASON = 2000
#: incident statuses: retried automatically, waiting for a person, closed
INCIDENT_STATUSES = ("open", "needs_attention", "resolved")

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
            ),
            c.attempts < MAX_AUTOMATIC_ATTEMPTS,  # past the bound only a person retries it
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

    def _fire_one(
        self,
        row: Any,
        now: datetime,
        clock: Any,
        actor: str,
        retry: ManualRetry | None = None,
    ) -> Outcome:
        """Fire one due row as one step; `retry`: a person's retry of its incident (the row
        may be past the automatic bound, and the step records `incident_retried`)."""

        def act(ctx: StepContext) -> None:
            c = timer_table.c
            stmt = select(c.fire_at, c.attempts).where(c.id == row.id)
            if ctx.conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            current = ctx.conn.execute(stmt).first()
            if current is None:
                raise SkipStep  # fired already (another worker, or an earlier run)
            if retry is None and current.attempts >= MAX_AUTOMATIC_ATTEMPTS:
                raise SkipStep  # parked meanwhile: a person retries it
            task = ctx.workflow.get_task_from_id(UUID(row.task_guid))
            if row.kind == "retry":
                if task is None or task.state != TaskState.STARTED:
                    raise SkipStep
                task._set_state(TaskState.READY)
                ctx.record("service_retried", task)
            else:
                ctx.workflow.refresh_timers()
                ctx.record("timer_fired", task, data_after={"due_at": row.fire_at.isoformat()})
                if current.attempts or retry is not None:  # it had failed: its incident is over
                    _close_incidents(
                        ctx.conn,
                        (incident_table.c.instance_id == row.instance_id)
                        & (incident_table.c.task_guid == row.task_guid)
                        & (incident_table.c.kind == "timer"),
                        now=now,
                        by=retry.actor if retry else actor,
                        resolution="retried" if retry else "fired",
                    )
            if retry is not None:
                ctx.record(
                    "incident_retried",
                    task,
                    data_after={"incident_id": retry.incident_id, "attempt": current.attempts + 1},
                )

        try:
            self.engine.run_step(
                row.instance_id,
                act,
                actor=retry.actor if retry else actor,
                now=now,
                clock=clock,
                record_failure=False,
            )
        except SkipStep:
            return "skipped"
        except Busy:
            return "busy"  # not the case's fault: no incident, it stays due
        except EngineError as exc:
            self._postpone(row, now, str(exc), failed=exc, retry=retry)
            return "postponed"
        except Exception as exc:  # a case that cannot be restored (corrupt state), a bug
            log.exception("case %s: the %s %s failed", row.instance_id, row.kind, row.name)
            self._postpone(row, now, RESTORE_FAILED, failed=exc, retry=retry)
            return "postponed"
        return "fired"

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

    def _postpone(
        self,
        row: Any,
        now: datetime,
        message: str,
        *,
        failed: BaseException | None = None,
        retry: ManualRetry | None = None,
    ) -> None:
        """A timer whose step fails is tried again later, with backoff (1, 2, 4 … minutes),
        at most `MAX_AUTOMATIC_ATTEMPTS` times; the failure is kept as one incident per timer
        (updated, not repeated) naming the case, the timer and the element that failed. A
        person's failed retry is recorded in the case's chain in the same transaction."""
        try:
            with self.engine.db.write() as conn:
                if conn.dialect.name == "postgresql":  # the case's lock orders its history
                    conn.execute(
                        select(instance_table.c.id)
                        .where(instance_table.c.id == row.instance_id)
                        .with_for_update()
                    )
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
                element_id = getattr(failed, "element_id", None) or row.name
                element_name = getattr(failed, "element_name", None)
                if element_name is None:
                    element_name = self._element_name(conn, row.instance_id, element_id)
                status = "needs_attention" if attempts >= MAX_AUTOMATIC_ATTEMPTS else "open"
                values = dict(
                    message=error_words(message),
                    attempts=attempts,
                    last_attempt_at=now,
                    status=status,
                    element_id=element_id,
                    element_name=element_name,
                )
                c = incident_table.c
                kind = "timer" if row.kind == "timer" else "service"
                open_id = conn.execute(
                    select(c.id).where(
                        c.instance_id == row.instance_id,
                        c.task_guid == row.task_guid,
                        c.kind == kind,
                        c.resolved_at.is_(None),
                    )
                ).scalar()
                if open_id is None:
                    conn.execute(
                        insert(incident_table).values(
                            instance_id=row.instance_id,
                            task_guid=row.task_guid,
                            task_name=row.name,
                            process_id=self._process_of(conn, row.instance_id),
                            kind=kind,
                            created_at=now,
                            **values,
                        )
                    )
                else:
                    conn.execute(update(incident_table).where(c.id == open_id).values(**values))
                mark_incident(conn, row.instance_id, now)
                if retry is not None:
                    append_case_event(
                        conn,
                        row.instance_id,
                        now,
                        PendingEvent(
                            "incident_retried",
                            retry.actor,
                            task_guid=row.task_guid,
                            task_name=row.name,
                            data_after={
                                "incident_id": retry.incident_id,
                                "attempt": attempts,
                                "error": error_words(message),
                            },
                        ),
                    )
        except Exception:  # the round goes on; the row stays due and is tried next round
            log.exception(
                "case %s: postponing the %s %s failed", row.instance_id, row.kind, row.name
            )

    # -- failed cases: the list, a person's retry, cancelling a case ---------------------------

    def incidents(
        self,
        *,
        open_only: bool = True,
        instance_id: int | None = None,
        status: str | None = None,
        process_id: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        incident_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Incidents with their case (business key, procedure and version, the case's status),
        task and element; `open_only`: not resolved; `status`: one of INCIDENT_STATUSES."""
        c, p = incident_table.c, instance_table.c
        stmt = select(
            incident_table,
            p.business_key,
            p.version,
            p.definition_id,
            p.status.label("case_status"),
            p.process_id.label("case_process_id"),
        ).select_from(incident_table.outerjoin(instance_table, p.id == c.instance_id))
        if status is not None:
            stmt = stmt.where(c.status == status)
        elif open_only:
            stmt = stmt.where(c.status.in_(("open", "needs_attention")))
        if instance_id is not None:
            stmt = stmt.where(c.instance_id == instance_id)
        if incident_id is not None:
            stmt = stmt.where(c.id == incident_id)
        if process_id is not None:
            stmt = stmt.where(func.coalesce(p.process_id, c.process_id) == process_id)
        stmt = stmt.order_by(c.id.desc() if newest_first else c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.db.read() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        for r in rows:
            r["process_id"] = r.pop("case_process_id") or r["process_id"]
            r["needs_attention"] = r["status"] == "needs_attention"
            r["error"] = r["message"]
            for key in ("created_at", "resolved_at", "last_attempt_at"):
                r[key] = as_utc(r[key])
            if r["element_id"] and not r["element_name"] and r["definition_id"]:
                r["element_name"] = self._name_in(r["definition_id"], r["element_id"])
        return rows

    def incident(self, incident_id: int) -> dict[str, Any]:
        """One incident as `incidents` shows it; NotFound when there is none."""
        c = incident_table.c
        with self.engine.db.read() as conn:
            found = conn.execute(select(c.status).where(c.id == incident_id)).scalar()
        if found is None:
            raise NotFound(f"incident {incident_id} does not exist")
        [row] = self.incidents(status=found, incident_id=incident_id)
        return row

    def incident_counts(self) -> dict[str, int]:
        """{"open": retried automatically, "needs_attention": waiting for a person}: one query
        on the status index (the navigation shows the second on every page)."""
        c = incident_table.c
        with self.engine.db.read() as conn:
            counted = dict(
                conn.execute(
                    select(c.status, func.count())
                    .where(c.status.in_(("open", "needs_attention")))
                    .group_by(c.status)
                ).all()
            )
        return {
            "open": counted.get("open", 0),
            "needs_attention": counted.get("needs_attention", 0),
        }

    def retry_incident(
        self, incident_id: int, *, actor: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """Run the failed step again now, through the code path that failed: the timer fires,
        the outside system is called again; an incident without such a row (a person's step
        that failed) steps its case again. Success resolves the incident (by `actor`); a
        failure counts one more attempt, keeps the new error, and it still needs attention.
        Either way the case's chain records `incident_retried`. Returns the incident after.

        Who may: workflows/rights.py `may_operate`, asked by every door before this."""
        now = now or self.engine.clock.now()
        clock = FakeClock(now)
        c = incident_table.c
        with self.engine.db.read() as conn:
            incident = conn.execute(select(incident_table).where(c.id == incident_id)).first()
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if incident.status == "resolved":
            raise InvalidOperation(f"incident {incident_id} is resolved already")
        if incident.kind == "schedule" and incident.process_id and incident.task_name:
            return self._retry_schedule(incident, actor, now)
        if incident.instance_id is None:
            raise InvalidOperation(
                f"incident {incident_id} is a start that failed before its case existed: there "
                "is no case to retry; start the case again (a scheduled start is retried by its "
                "schedule)"
            )
        self._require_running(incident.instance_id)
        retry = ManualRetry(incident_id, actor)
        kind = "retry" if incident.kind == "service" else "timer"
        t = timer_table.c
        with self.engine.db.read() as conn:
            row = conn.execute(
                select(
                    t.id, t.instance_id, t.task_guid, t.kind, t.name, t.fire_at, t.attempts
                ).where(
                    t.instance_id == incident.instance_id,
                    t.task_guid == incident.task_guid,
                    t.kind == kind,
                )
            ).first()
        if row is not None:
            outcome = self._fire_one(row, now, clock, actor, retry=retry)
            if outcome == "busy":
                raise Busy(
                    "the database stayed busy with another step; nothing was done, try again"
                )
            if outcome != "skipped":
                return self.incident(incident_id)
        self._step_again(incident, retry, now, clock)
        return self.incident(incident_id)

    def _retry_schedule(self, incident: Any, actor: str, now: datetime) -> dict[str, Any]:
        """A scheduled start that failed: its schedule tries once more now (engine/schedules.py);
        success resolves the incident (by `actor`), a failure counts the attempt. There is no
        case yet, so no case's chain to record it in: the incident row says who did it."""
        self.engine.schedules.retry_now(incident.process_id, incident.task_name)
        self.engine.schedules.fire(now, clock=FakeClock(now))
        c = incident_table.c
        with self.engine.db.write() as conn:
            conn.execute(
                update(incident_table)
                .where(c.id == incident.id, c.status == "resolved", c.resolved_by.is_(None))
                .values(resolved_by=actor, resolution="retried")
            )
        return self.incident(incident.id)

    def _step_again(self, incident: Any, retry: ManualRetry, now: datetime, clock: Any) -> None:
        """The case of an incident with no timer row steps again: due timers fire, engine
        tasks run; success resolves the incident in the same transaction."""

        def act(ctx: StepContext) -> None:
            ctx.workflow.refresh_timers()
            ctx.record(
                "incident_retried",
                data_after={"incident_id": incident.id, "attempt": incident.attempts + 1},
            )
            _close_incidents(
                ctx.conn,
                incident_table.c.id == incident.id,
                now=now,
                by=retry.actor,
                resolution="retried",
            )

        try:
            self.engine.run_step(
                incident.instance_id,
                act,
                actor=retry.actor,
                now=now,
                clock=clock,
                record_failure=False,
            )
        except (SkipStep, Busy):
            raise
        except Exception as exc:
            if not isinstance(exc, EngineError):
                log.exception(
                    "case %s: retrying incident %s failed", incident.instance_id, incident.id
                )
            message = error_words(str(exc)) if isinstance(exc, EngineError) else RESTORE_FAILED
            with self.engine.db.write() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        select(instance_table.c.id)
                        .where(instance_table.c.id == incident.instance_id)
                        .with_for_update()
                    )
                element_id = getattr(exc, "element_id", None) or incident.element_id
                conn.execute(
                    update(incident_table)
                    .where(incident_table.c.id == incident.id)
                    .values(
                        message=message,
                        attempts=incident_table.c.attempts + 1,
                        last_attempt_at=now,
                        status="needs_attention",
                        element_id=element_id,
                        element_name=getattr(exc, "element_name", None)
                        or self._element_name(conn, incident.instance_id, element_id),
                    )
                )
                append_case_event(
                    conn,
                    incident.instance_id,
                    now,
                    PendingEvent(
                        "incident_retried",
                        retry.actor,
                        task_guid=incident.task_guid,
                        task_name=incident.task_name,
                        data_after={
                            "incident_id": incident.id,
                            "attempt": incident.attempts + 1,
                            "error": message,
                        },
                    ),
                )

    def cancel_case(
        self, instance_id: int, *, reason: str, actor: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """End a running case for good, with a reason: the workflow is cancelled (SpiffWorkflow
        `cancel`), its open tasks leave the queues (cancelled), its timers, retries and message
        waits are dropped, the case is `cancelled`, its incidents are resolved, and its chain
        records `case_cancelled` with the reason: one step, one transaction. Returns
        {"instance_id", "status", "reason", "resolved_incidents"}.

        Who may: workflows/rights.py `may_operate`, asked by every door before this."""
        reason = (reason or "").strip()
        if not reason:
            raise DataRejected("say why the case is cancelled", path="reason")
        if len(reason) > MAX_REASON:
            raise DataRejected(f"the reason is longer than {MAX_REASON} characters", path="reason")
        now = now or self.engine.clock.now()
        self._require_running(instance_id)
        resolved: list[int] = []

        def act(ctx: StepContext) -> None:
            status = ctx.conn.execute(
                select(instance_table.c.status).where(instance_table.c.id == instance_id)
            ).scalar()
            if status != "running":
                raise InvalidOperation(
                    f"case {instance_id} is {status}: only a running case is cancelled"
                )
            ctx.workflow.cancel()
            ctx.cancelled = True
            c = incident_table.c
            open_ids = (
                ctx.conn.execute(
                    select(c.id).where(
                        c.instance_id == instance_id, c.status.in_(("open", "needs_attention"))
                    )
                )
                .scalars()
                .all()
            )
            resolved.extend(open_ids)
            _close_incidents(
                ctx.conn,
                c.id.in_(open_ids),
                now=now,
                by=actor,
                resolution="cancelled",
            )
            ctx.record(
                "case_cancelled",
                data_after={"reason": reason, "resolved_incidents": list(open_ids)},
            )

        try:
            self.engine.run_step(
                instance_id, act, actor=actor, now=now, clock=FakeClock(now), record_failure=False
            )
        except EngineError:
            raise
        except Exception:  # the case cannot be restored: it is ended from its rows instead
            log.exception("case %s: cancelling through its workflow failed", instance_id)
            resolved[:] = self._cancel_rows(instance_id, reason=reason, actor=actor, now=now)
        return {
            "instance_id": instance_id,
            "status": "cancelled",
            "reason": reason,
            "resolved_incidents": resolved,
        }

    def _cancel_rows(
        self, instance_id: int, *, reason: str, actor: str, now: datetime
    ) -> list[int]:
        """Cancel a case whose workflow cannot be restored (a corrupt or unloadable state): the
        same outcome for everyone else — its open tasks cancelled, its timers and message waits
        gone, the case `cancelled`, its incidents resolved, `case_cancelled` in its chain — in
        one transaction, without the workflow (its stored state is kept as it was, for study)."""
        p, h, c = instance_table.c, task_table.c, incident_table.c
        with self.engine.db.write() as conn:
            stmt = select(p.status).where(p.id == instance_id)
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            status = conn.execute(stmt).scalar()
            if status != "running":
                raise InvalidOperation(
                    f"case {instance_id} is {status}: only a running case is cancelled"
                )
            tasks = conn.execute(
                select(h.task_guid, h.task_name, h.office_code).where(
                    h.instance_id == instance_id, h.state == "ready"
                )
            ).all()
            conn.execute(
                update(task_table)
                .where(h.instance_id == instance_id, h.state == "ready")
                .values(state="cancelled", completed_at=now)
            )
            conn.execute(delete(timer_table).where(timer_table.c.instance_id == instance_id))
            conn.execute(delete(wait_table).where(wait_table.c.instance_id == instance_id))
            open_ids = list(
                conn.execute(
                    select(c.id).where(
                        c.instance_id == instance_id, c.status.in_(("open", "needs_attention"))
                    )
                ).scalars()
            )
            _close_incidents(conn, c.id.in_(open_ids), now=now, by=actor, resolution="cancelled")
            conn.execute(
                update(instance_table)
                .where(p.id == instance_id)
                .values(
                    status="cancelled",
                    completed_at=now,
                    updated_at=now,
                    revision=p.revision + 1,  # no process keeps a cached workflow of it
                )
            )
            for t in tasks:
                append_case_event(
                    conn,
                    instance_id,
                    now,
                    PendingEvent(
                        "task_cancelled",
                        actor,
                        t.office_code,
                        task_guid=t.task_guid,
                        task_name=t.task_name,
                    ),
                )
            append_case_event(
                conn,
                instance_id,
                now,
                PendingEvent(
                    "case_cancelled",
                    actor,
                    data_after={
                        "reason": reason,
                        "resolved_incidents": open_ids,
                        "workflow_restored": False,
                    },
                ),
            )
        return open_ids

    def _require_running(self, instance_id: int) -> None:
        with self.engine.db.read() as conn:
            status = conn.execute(
                select(instance_table.c.status).where(instance_table.c.id == instance_id)
            ).scalar()
        if status is None:
            raise NotFound(f"case {instance_id} does not exist")
        if status != "running":
            raise InvalidOperation(f"case {instance_id} is {status}, not running: nothing to do")

    def _process_of(self, conn: Any, instance_id: int) -> str | None:
        return conn.execute(
            select(instance_table.c.process_id).where(instance_table.c.id == instance_id)
        ).scalar()

    def _element_name(self, conn: Any, instance_id: int, element_id: str | None) -> str | None:
        """The drawn name of an element of the case's version (None when it has none)."""
        if not element_id:
            return None
        definition_id = conn.execute(
            select(instance_table.c.definition_id).where(instance_table.c.id == instance_id)
        ).scalar()
        return self._name_in(definition_id, element_id) if definition_id else None

    def _name_in(self, definition_id: int, element_id: str) -> str | None:
        try:
            definition = self.engine.repository.get(definition_id)
        except Exception:  # a version that no longer loads: the id is all there is
            return None
        specs = [definition.spec, *getattr(definition, "subprocess_specs", {}).values()]
        for spec in specs:
            for task_spec in spec.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) == element_id:
                    return getattr(task_spec, "bpmn_name", None) or None
        return None

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
        """The next instant a row comes due by itself (rows past the bound never do)."""
        c = timer_table.c
        with self.engine.db.read() as conn:
            return conn.execute(
                select(c.fire_at)
                .where(c.attempts < MAX_AUTOMATIC_ATTEMPTS)
                .order_by(c.fire_at)
                .limit(1)
            ).scalar()


@dataclass(frozen=True)
class ManualRetry:
    """A person's retry of an incident: which one, and who."""

    incident_id: int
    actor: str


#: what an incident says when the case could not even be restored (the log has the details)
RESTORE_FAILED = (
    "the case could not be restored or stepped (a fault inside the server, not in the model's "
    "data; the server's log has the details)"
)


def _close_incidents(conn: Any, where: Any, *, now: datetime, by: str, resolution: str) -> None:
    """Resolve the open incidents `where` selects, saying by whom and how (`resolution`:
    fired, answered, retried, cancelled)."""
    c = incident_table.c
    conn.execute(
        update(incident_table)
        .where(where, c.status.in_(("open", "needs_attention")))
        .values(resolved_at=now, status="resolved", resolved_by=by, resolution=resolution)
    )


def require(value: Any, what: str) -> Any:
    if value is None:
        raise NotFound(f"{what} does not exist")
    return value
