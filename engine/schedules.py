"""Scheduled starts: a procedure that starts on a calendar, one case per office.

A model says it starts on a calendar with a **timer start event** of its main process whose
`timeCycle` is an ISO 8601 repeating interval, `R[n]/<start with offset>/<period>`, e.g.
`"R/2026-01-01T00:00:00+05:00/P3M"` (the first day after each quarter, Almaty midnight). The
k-th occurrence is `start + k × period` computed in the start's own offset, so months are
calendar months of that zone (31 January + 1 month is 28/29 February, + 2 months 31 March).
The event's `start_for` property names office levels (`district,regional`); the engine knows
no offices, so the domain gives it `StartOffices` (its levels and a resolver levels -> office
codes). Each started case's data is `{"origin_office", "office_level", "scheduled_at"}` (the
occurrence as an ISO UTC instant) plus the domain's case facts.

Exactly once: the case of (process, start event, occurrence, office) is started in a
transaction that also inserts its `scheduled_start` row; the row's unique constraint decides
between workers racing for it (the loser's insert does nothing and its whole step is rolled
back: no case, no history). Catch-up: a round starts only the **latest** occurrence due at
"now" of each schedule, never one case per missed tick, and never an occurrence from before
the version that last changed the event's cycle or offices was published (`schedule.since`).
Only the newest published version of a process schedules.

Starting does not wait on the timer start event: the occurrence is the start. The chosen
event is marked fired before the case's first step and any other start event of the process
is cancelled; a normal start (a person's) cancels the timer start events instead, and a
process with only timer start events cannot be started by hand.
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .errors import Busy, InvalidOperation, ModelError
from .models import Definition, Incident, Schedule, ScheduledStart
from .services import retry_delay

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("nadzor.worker")

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
schedule_table = Schedule.__table__
start_table = ScheduledStart.__table__
definition_table = Definition.__table__
incident_table = Incident.__table__

#: the actor of a scheduled start in the case's history
ACTOR = "schedule"
_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


# -- the cycle ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """An ISO 8601 repeating interval with a start: occurrences `start + k × period`."""

    text: str
    start: datetime  # aware, in the zone the model wrote
    period: relativedelta
    repeats: int | None  # None: unbounded (`R/`); n: occurrences 0 … n-1

    def at(self, k: int) -> datetime:
        """The k-th occurrence, counted from the start in the start's zone (no drift)."""
        return self.start + self.period * k

    def latest(self, now: datetime) -> datetime | None:
        """The last occurrence at or before `now` (None: the first is still to come)."""
        k = self._index(now)
        return self.at(k) if k is not None else None

    def next_after(self, now: datetime) -> datetime | None:
        """The first occurrence after `now` (None: the cycle has ended)."""
        k = self._index(now)
        k = 0 if k is None else k + 1
        if self.repeats is not None and k >= self.repeats:
            return None
        return self.at(k)

    def _index(self, now: datetime) -> int | None:
        if now < self.start:
            return None
        approx = (self.at(1) - self.start).total_seconds()
        k = max(0, math.floor((now - self.start).total_seconds() / approx) - 1)
        while self.at(k + 1) <= now:
            k += 1
        while k > 0 and self.at(k) > now:
            k -= 1
        if self.repeats is not None:
            k = min(k, self.repeats - 1)
        return k


def cycle_text(expression: str | None) -> str:
    """The timeCycle as written: a quoted literal (as other timers are written, `"R/…"`) or
    the bare text. An expression over case data is refused: a calendar exists before a case."""
    text = (expression or "").strip()
    if text[:1] in ("'", '"'):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"the timeCycle {text} is not a quoted text") from exc
        if not isinstance(value, str):
            raise ValueError(f"the timeCycle {text} is not a text")
        text = value.strip()
    return text


def parse_cycle(expression: str | None) -> Cycle:
    """`R[n]/<start>/<period>` → `Cycle`; a `ValueError` in words otherwise."""
    text = cycle_text(expression)
    example = "e.g. R/2026-01-01T00:00:00+05:00/P3M (each quarter's first day, Almaty midnight)"
    parts = text.split("/")
    if len(parts) != 3 or not parts[0].upper().startswith("R"):
        raise ValueError(
            f"the timeCycle '{text}' is not an ISO 8601 repeating interval "
            f"R[n]/<start>/<period>, {example}"
        )
    count, start_text, period_text = parts
    repeats: int | None = None
    if count[1:]:
        if not count[1:].isdigit() or int(count[1:]) < 1:
            raise ValueError(
                f"the timeCycle '{text}': the number of repetitions after R must be a whole "
                "number of at least 1 (or nothing: unbounded)"
            )
        repeats = int(count[1:])
    try:
        start = datetime.fromisoformat(start_text)
    except ValueError as exc:
        raise ValueError(
            f"the timeCycle '{text}': '{start_text}' is not an ISO date and time, {example}"
        ) from exc
    if start.tzinfo is None:
        raise ValueError(
            f"the timeCycle '{text}': give the start with its offset (+05:00 for Almaty), "
            "so the calendar does not depend on the server's zone"
        )
    period = parse_period(period_text, text)
    if start + period <= start:
        raise ValueError(f"the timeCycle '{text}': the period must be longer than zero")
    return Cycle(text, start, period, repeats)


def parse_period(period_text: str, whole: str) -> relativedelta:
    """An ISO 8601 duration of whole units (P3M, P1Y, P1W, P1D, PT12H) as calendar arithmetic."""
    try:
        if not period_text.upper().startswith("P"):
            raise ValueError
        parts = TimerEventDefinition.parse_iso_duration(period_text)
    except Exception as exc:  # the library raises a bare Exception for a bad duration
        raise ValueError(
            f"the timeCycle '{whole}': '{period_text}' is not an ISO 8601 duration "
            "such as P3M, P1M, P6M, P1Y, P1W, P1D or PT12H"
        ) from exc
    if any(not isinstance(v, int) for v in parts.values()):
        raise ValueError(
            f"the timeCycle '{whole}': the period '{period_text}' must be in whole units"
        )
    return relativedelta(**{unit: parts.get(unit, 0) for unit in _UNITS})


# -- what a model declares ------------------------------------------------------------------------


@dataclass(frozen=True)
class StartOffices:
    """The domain's offices for scheduled starts: the levels a model may name in `start_for`
    and a resolver `levels -> office codes` (e.g. every district office)."""

    levels: tuple[str, ...]
    resolve: Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class StartSchedule:
    """A timer start event of a published version: its calendar and the office levels."""

    process_id: str
    start_event: str
    name: str
    cycle: Cycle
    levels: tuple[str, ...]


def _levels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))


def _is_timer_start(spec: Any) -> bool:
    return isinstance(spec, StartEvent) and isinstance(spec.event_definition, TimerEventDefinition)


def schedules_of(process_id: str, spec: Any) -> list[StartSchedule]:
    """The scheduled starts of a parsed main process (its own timer start events)."""
    found = []
    for task_spec in spec.task_specs.values():
        if not _is_timer_start(task_spec):
            continue
        props = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
        found.append(
            StartSchedule(
                process_id,
                task_spec.bpmn_id,
                task_spec.bpmn_name or task_spec.bpmn_id,
                parse_cycle(task_spec.event_definition.expression),
                _levels(props.get("start_for")),
            )
        )
    return sorted(found, key=lambda s: s.start_event)


def check_model(
    tree: etree._ElementTree, filename: str, main_process: str, levels: tuple[str, ...] | None
) -> None:
    """Refuse at publishing a timer start event the scheduler could not run, naming the file,
    line, element id and name: a cycle that does not parse, a timeDate/timeDuration start, an
    unknown office level, or a calendar on a process other than the procedure's own."""
    for process in tree.iter(f"{{{BPMN_NS}}}process"):
        for event in process.findall(f"{{{BPMN_NS}}}startEvent"):
            timer = event.find(f"{{{BPMN_NS}}}timerEventDefinition")
            if timer is None:
                continue
            element = event.get("id")
            named = f"timer start event '{event.get('name') or element}'"

            def refuse(message: str, at: Any = event, element_id: Any = element) -> None:
                raise ModelError(
                    message, filename=filename, line=at.sourceline, element_id=element_id
                )

            if process.get("id") != main_process:
                refuse(
                    f"{named} is in process '{process.get('id')}', which this procedure calls: "
                    "only a procedure's own process may start on a calendar"
                )
            cycle = timer.find(f"{{{BPMN_NS}}}timeCycle")
            if cycle is None:
                refuse(
                    f"{named} needs a timeCycle (an ISO 8601 repeating interval such as "
                    '"R/2026-01-01T00:00:00+05:00/P3M"); a start on a single date or after a '
                    "duration is not supported"
                )
            try:
                parse_cycle(cycle.text)
            except ValueError as exc:
                refuse(f"{named}: {exc}", at=cycle)
            named_levels = _levels(_property(event, "start_for"))
            if _property(event, "start_for") is not None and not named_levels:
                refuse(f"{named}: start_for names no office level")
            if named_levels and levels is None:
                refuse(f"{named}: start_for names offices, but this engine has none to start for")
            if levels is not None and not named_levels:
                refuse(
                    f"{named} must say which offices get a case: "
                    f'<spiffworkflow:property name="start_for" value="{",".join(levels)}"/> '
                    "(one or more of these levels)"
                )
            unknown = [lv for lv in named_levels if lv not in (levels or ())]
            if unknown:
                refuse(
                    f"{named}: start_for names unknown office level(s) {', '.join(unknown)}; "
                    f"known levels: {', '.join(levels or ())}"
                )


def _property(event: Any, name: str) -> str | None:
    for prop in event.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == name:
            return prop.get("value") or ""
    return None


# -- which start event runs -------------------------------------------------------------------


def begin_at(workflow: BpmnWorkflow, start_event: str | None, process_id: str) -> None:
    """Choose the start event a new case begins at, before its first engine step.

    `start_event` (a scheduled start): that timer start event counts as fired and the other
    start events are cancelled. None (a person's start): the timer start events are cancelled,
    the others run as usual; a process with no other start event is refused. SpiffWorkflow
    never predicts past a cycle timer, so the chosen event's following tasks are predicted
    here as its cycle would have added them.
    """
    starts = [t for t in workflow.get_tasks() if isinstance(t.task_spec, StartEvent)]
    timers = [t for t in starts if _is_timer_start(t.task_spec)]
    if start_event is None:
        if not timers:
            return
        if len(timers) == len(starts):
            names = ", ".join(f"'{t.task_spec.bpmn_name or t.task_spec.bpmn_id}'" for t in timers)
            raise InvalidOperation(
                f"procedure '{process_id}' starts on its calendar only (timer start event "
                f"{names}); it cannot be started by hand"
            )
        for task in timers:
            task.cancel()
        return
    chosen = [t for t in starts if t.task_spec.bpmn_id == start_event]
    if not chosen:
        raise InvalidOperation(f"procedure '{process_id}' has no start event '{start_event}'")
    for task in starts:
        if task is chosen[0]:
            continue
        task.cancel()
    task = chosen[0]
    task._set_internal_data(event_fired=True)
    if _is_timer_start(task.task_spec):
        TaskSpec._predict_hook(task.task_spec, task)
        for child in task.children:
            child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)


# -- the claim row --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """One case to start: a schedule's occurrence for one office ("" when none is named)."""

    schedule: StartSchedule
    instant: datetime
    office_code: str
    level: str | None

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"scheduled_at": self.instant.astimezone(UTC).isoformat()}
        if self.level is not None:
            data["origin_office"] = self.office_code
            data["office_level"] = self.level
        return data

    def claim(self, conn: Connection, instance_id: int, now: datetime) -> None:
        """Insert the occurrence's row in the starting transaction; a row already there means
        another worker (or an earlier round) started it: the whole step is skipped."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(start_table)
            .values(
                process_id=self.schedule.process_id,
                start_event=self.schedule.start_event,
                occurrence=self.instant,
                office_code=self.office_code,
                instance_id=instance_id,
                started_at=now,
            )
            .on_conflict_do_nothing()
            .returning(start_table.c.id)
        )
        if conn.execute(stmt).first() is None:  # (rowcount is not reliable on every driver)
            from .step import SkipStep  # step.py imports this module

            raise SkipStep


# -- the service ----------------------------------------------------------------------------------


class ScheduleService:
    """Starts the cases of every schedule whose occurrence is due (called by `fire_due`)."""

    def __init__(self, engine: Engine, offices: StartOffices | None = None) -> None:
        self.engine = engine
        self.offices = offices
        self._by_definition: dict[int, list[StartSchedule]] = {}
        #: (process, start event) -> (occurrence, offices) this process knows fully started
        self._complete: dict[tuple[str, str], tuple[datetime, frozenset[str]]] = {}

    def active(self) -> list[tuple[int, StartSchedule]]:
        """(definition id, schedule) of the newest published version of every process."""
        d = definition_table.c
        newest = (
            select(d.process_id, func.max(d.version).label("version"))
            .group_by(d.process_id)
            .subquery()
        )
        with self.engine.db.read() as conn:
            ids = (
                conn.execute(
                    select(d.id).join(
                        newest,
                        (d.process_id == newest.c.process_id) & (d.version == newest.c.version),
                    )
                )
                .scalars()
                .all()
            )
        found = []
        for definition_id in ids:
            cached = self._by_definition.get(definition_id)
            if cached is None:
                definition = self.engine.repository.get(definition_id)
                try:
                    cached = schedules_of(definition.process_id, definition.spec)
                except ValueError:  # published before cycles were checked: it never schedules
                    log.exception("%s: a timer start event's cycle", definition.process_id)
                    cached = []
                self._by_definition[definition_id] = cached
            found.extend((definition_id, s) for s in cached)
        return found

    def status(self, now: datetime) -> list[dict[str, Any]]:
        """Each schedule with its last due and next occurrence (for the CLI and pages)."""
        out = []
        for _definition_id, sched in self.active():
            latest = sched.cycle.latest(now)
            nxt = sched.cycle.next_after(now)
            out.append(
                {
                    "process_id": sched.process_id,
                    "start_event": sched.start_event,
                    "name": sched.name,
                    "cycle": sched.cycle.text,
                    "start_for": list(sched.levels),
                    "last_due": latest.astimezone(UTC).isoformat() if latest else None,
                    "next_at": nxt.astimezone(UTC).isoformat() if nxt else None,
                }
            )
        return out

    def fire(self, now: datetime, clock: Any = None) -> int:
        """Start every case due at `now` that is not started yet; returns how many started.

        A schedule whose latest occurrence this process saw fully started (for the same
        offices) costs no query in the rounds after: a worker's idle round reads only the
        newest versions' ids.
        """
        from .management import MAX_AUTOMATIC_ATTEMPTS as max_attempts  # it imports this module
        from .step import SkipStep  # step.py imports this module

        started = 0
        for definition_id, sched in self.active():
            instant = sched.cycle.latest(now)
            if instant is None:
                continue  # the first occurrence is still to come
            key = (sched.process_id, sched.start_event)
            try:
                wanted = self._wanted(sched, instant)
            except Exception as exc:  # the domain could not name the offices
                self._failed(sched, now, f"the offices for start_for could not be found: {exc}")
                continue
            seen = (instant, frozenset(o.office_code for o in wanted))
            if self._complete.get(key) == seen:
                continue
            state = self._state(sched, definition_id)
            if instant < state.since:
                self._complete[key] = seen  # due before the calendar was published: never
                continue
            if state.retry_at is not None and state.retry_at > now:
                continue  # a start that failed waits for its backoff
            if state.attempts >= max_attempts:
                continue  # failed every automatic attempt: a person retries it (its incident)
            error = None
            left = False
            for occurrence in self._not_started(sched, instant, wanted):
                try:
                    # the steps' start, not the runtime's: a failure is this schedule's one
                    # incident (below), not one per office and attempt
                    self.engine.steps.start(
                        self.engine.repository.get(definition_id),
                        occurrence.data(),
                        ACTOR,
                        None,
                        start_event=sched.start_event,
                        claim=lambda conn, iid, o=occurrence: o.claim(conn, iid, now),
                        clock=clock,
                    )
                    started += 1
                except SkipStep:
                    continue  # started by another worker meanwhile
                except Busy:
                    if self.engine.db.is_sqlite:
                        raise
                    left = True  # left for the next round
                except Exception as exc:
                    log.exception(
                        "scheduled start %s/%s for office %s failed",
                        sched.process_id,
                        sched.start_event,
                        occurrence.office_code,
                    )
                    error = f"office {occurrence.office_code or '-'}: {exc}"
            if error is not None:
                self._failed(sched, now, error)
                continue
            if state.attempts:
                self._recovered(sched, now)
            if not left:
                self._complete[key] = seen
        return started

    def _wanted(self, sched: StartSchedule, instant: datetime) -> list[Occurrence]:
        """One occurrence per office of the levels the event names (one without an office
        when it names none), each office once, in the resolver's order."""
        if not sched.levels:
            return [Occurrence(sched, instant, "", None)]
        if self.offices is None:
            raise InvalidOperation("the engine was given no offices for start_for")
        wanted: list[Occurrence] = []
        seen: set[str] = set()
        for level in sched.levels:
            for code in self.offices.resolve((level,)):
                if code not in seen:
                    seen.add(code)
                    wanted.append(Occurrence(sched, instant, code, level))
        return wanted

    def _not_started(
        self, sched: StartSchedule, instant: datetime, wanted: list[Occurrence]
    ) -> list[Occurrence]:
        c = start_table.c
        with self.engine.db.read() as conn:
            done = set(
                conn.execute(
                    select(c.office_code).where(
                        c.process_id == sched.process_id,
                        c.start_event == sched.start_event,
                        c.occurrence == instant,
                    )
                ).scalars()
            )
        return [o for o in wanted if o.office_code not in done]

    def _state(self, sched: StartSchedule, definition_id: int) -> Any:
        """The schedule's row; registered now (since its version's publication) if missing."""
        c = schedule_table.c
        key = (c.process_id == sched.process_id) & (c.start_event == sched.start_event)
        with self.engine.db.read() as conn:
            row = conn.execute(select(schedule_table).where(key)).first()
        if row is not None:
            return row
        with self.engine.db.write() as conn:
            published = conn.execute(
                select(definition_table.c.published_at).where(
                    definition_table.c.id == definition_id
                )
            ).scalar_one()
            calendar = {sched.start_event: (sched.cycle.text, sched.levels)}
            register(conn, sched.process_id, calendar, calendar, published)
            return conn.execute(select(schedule_table).where(key)).first()

    def _failed(self, sched: StartSchedule, now: datetime, message: str) -> None:
        """Back off (1, 2, 4 … 60 minutes) and keep one open incident per failing schedule."""
        c = schedule_table.c
        key = (c.process_id == sched.process_id) & (c.start_event == sched.start_event)
        text = f"scheduled start of '{sched.process_id}' ({sched.start_event}): {message}"
        try:
            with self.engine.db.write() as conn:
                attempts = (conn.execute(select(c.attempts).where(key)).scalar() or 0) + 1
                retry_at = now + retry_delay(attempts)
                conn.execute(
                    update(schedule_table)
                    .where(key)
                    .values(attempts=attempts, retry_at=retry_at, last_error=message)
                )
                i = incident_table.c
                open_id = conn.execute(
                    select(i.id).where(
                        i.kind == "schedule",
                        i.task_name == sched.start_event,
                        i.instance_id.is_(None),
                        i.message.like(f"scheduled start of '{sched.process_id}'%"),
                        i.resolved_at.is_(None),
                    )
                ).scalar()
                full = f"{text} (attempt {attempts}; next at {retry_at.isoformat()})"
                from .management import MAX_AUTOMATIC_ATTEMPTS  # it imports this module
                from .step import error_words  # step.py imports this module

                full = error_words(full)
                status = "needs_attention" if attempts >= MAX_AUTOMATIC_ATTEMPTS else "open"
                if open_id is None:
                    conn.execute(
                        insert(incident_table).values(
                            instance_id=None,
                            task_name=sched.start_event,
                            process_id=sched.process_id,
                            element_id=sched.start_event,
                            kind="schedule",
                            message=full,
                            created_at=now,
                            attempts=attempts,
                            last_attempt_at=now,
                            status=status,
                        )
                    )
                else:
                    conn.execute(
                        update(incident_table)
                        .where(i.id == open_id)
                        .values(message=full, attempts=attempts, last_attempt_at=now, status=status)
                    )
        except Exception:
            log.exception("recording the failure of %s failed", sched.start_event)

    def retry_now(self, process_id: str, start_event: str) -> None:
        """A person retries a start that failed every automatic attempt: it gets one more
        (the next `fire` tries it at once; success resolves its incident, a failure parks it
        again)."""
        from .management import MAX_AUTOMATIC_ATTEMPTS  # it imports this module

        c = schedule_table.c
        with self.engine.db.write() as conn:
            conn.execute(
                update(schedule_table)
                .where(c.process_id == process_id, c.start_event == start_event, c.attempts > 0)
                .values(attempts=MAX_AUTOMATIC_ATTEMPTS - 1, retry_at=None)
            )
        self._complete.clear()

    def _recovered(self, sched: StartSchedule, now: datetime) -> None:
        """The schedule starts again: its backoff is cleared and its incident resolved."""
        c, i = schedule_table.c, incident_table.c
        with self.engine.db.write() as conn:
            conn.execute(
                update(schedule_table)
                .where(c.process_id == sched.process_id, c.start_event == sched.start_event)
                .values(attempts=0, retry_at=None, last_error=None)
            )
            conn.execute(
                update(incident_table)
                .where(
                    i.kind == "schedule",
                    i.task_name == sched.start_event,
                    i.instance_id.is_(None),
                    i.message.like(f"scheduled start of '{sched.process_id}'%"),
                    i.resolved_at.is_(None),
                )
                .values(resolved_at=now, status="resolved", resolution="fired")
            )


def register(
    conn: Connection,
    process_id: str,
    current: dict[str, tuple[str, tuple[str, ...]]],
    previous: dict[str, tuple[str, tuple[str, ...]]],
    now: datetime,
) -> None:
    """At publishing: a timer start event counts from the publication of the version that
    last changed its cycle or its offices (`since`), so a new or changed calendar never starts
    an occurrence from before it existed; an unchanged one keeps its `since`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    c = schedule_table.c
    for event, calendar in current.items():
        stmt = dialect.insert(schedule_table).values(
            process_id=process_id, start_event=event, since=now, attempts=0
        )
        if previous.get(event) == calendar:
            conn.execute(stmt.on_conflict_do_nothing())
        else:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[c.process_id, c.start_event],
                    set_={"since": now, "attempts": 0, "retry_at": None, "last_error": None},
                )
            )


def calendars(spec: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    """A parsed main process's timer start events: id -> (cycle text, office levels)."""
    out = {}
    for task_spec in spec.task_specs.values():
        if _is_timer_start(task_spec):
            props = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
            out[task_spec.bpmn_id] = (
                cycle_text(task_spec.event_definition.expression),
                _levels(props.get("start_for")),
            )
    return out


__all__ = [
    "Cycle",
    "Occurrence",
    "ScheduleService",
    "StartOffices",
    "StartSchedule",
    "begin_at",
    "check_model",
    "parse_cycle",
    "calendars",
    "register",
    "schedules_of",
]
