"""Supervision indicators (¶15 and the deadlines of ¶11 and ¶13) for an office and a period.

Why this module: heads, the GP unit and the quarterly reports (issue 12) need the same figures,
computed the same way, fast, from indexed projections only — the `process_instance` row (office,
opened at, start data summary), the `human_task` rows (which task, when created, due, completed)
and, for the reviewer's decision on an act, its `task_completed` audit event. No workflow is ever
restored. Every door (page, CSV, REST API, CLI, quarterly report) calls `figures()`.

Scope and period: the cases of `office_code` and all offices below it (a region with its
districts) that were **opened** (received) between `period_start` and `period_end`, Almaty dates,
both inclusive. A figure says what became of those cases by the moment it is computed ("open"
means the task is still waiting; "overdue" means waiting past its deadline).

Stable keys of the returned dict (all counts are numbers of cases; S2's reports read them):

- ``office``, ``period_start``, ``period_end`` (ISO dates), ``computed_at`` (ISO UTC instant)
- ``penalty_room_checks``: check of a placement in a penalty room (¶11.6, ¶13.9; 24 h, 48 h
  for a remote institution). ``total``, ``in_time``, ``late``, ``open``, ``overdue`` and the
  same five under ``term_24h`` and ``term_48h`` (the term the case's deadline was set with).
- ``emergencies``: emergencies of ¶2.12 (emergency_report, torture_report). ``total``,
  ``by_kind`` {kind: n} with the kinds of the start form (torture, riot, escape, …).
- ``incidents``: single incidents (incident_report, ¶13.5, ¶13.6). ``total``, ``by_kind``
  {self_injury, hunger_strike, suicide, special_means: n}.
- ``notices``: notice deadlines. ``1h`` (notice by phone to the GP unit, ¶11.3), ``3h`` (full
  information to the GP unit, ¶11.3; the district's notice of an incident to the region, internal
  rule), ``24h`` (information on an incident to the GP unit, ¶11.4), ``immediate`` (the district's
  notice of an emergency to the region, ¶13.4). Each: ``total``, ``in_time``, ``late``, ``open``,
  ``overdue``.
- ``torture_reports``: reports of torture and unlawful influence (¶13.8). ``total``,
  ``registered`` (in the pre-trial register), ``not_registered`` (decided not to register, the
  refusal approved), ``pending``, ``registered_within_24h``, ``hours_to_registration``
  {``median``, ``max``} (hours from receipt to registration; null when none registered).
- ``appeals``: NPM / PMC appeals (15 working days from receipt to the reply). ``total``,
  ``in_time``, ``late`` (replied), ``open``, ``overdue`` (not yet replied).
- ``acts``: acts of response through act_routing. ``total``, ``by_route`` {district, regional,
  gp: n — the level of the office that reviews and signs it}, ``by_type`` {protest, submission,
  order, resolution, warning, unknown: n}, ``by_outcome`` {in_review, refused, to_dispatch,
  dispatched, no_answer_in_time: n}.
- ``receptions``: receptions of convicts and inspection rounds (procedure ``reception``;
  ¶13.10, ¶10.9), the cases of the period's scheduled starts. ``held`` (recorded), ``open``
  (not yet recorded), ``expected`` (the calendar: a district office monthly, a regional office
  twice a year for its prosecutor and quarterly for the deputies — per month, half-year and
  quarter the period touches), ``in_time``, ``late`` (held after the term), ``overdue`` (not
  held and the term has passed).

`case_ids(…, figure)` returns the cases behind one figure, named by its dotted path
(``penalty_room_checks.late``, ``emergencies.by_kind.riot``, ``notices.1h.overdue``, ``acts``).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import JSON, Connection, and_, case, func, literal_column, or_, select, type_coerce
from sqlalchemy.engine import Engine as SAEngine

from engine.calendar import ALMATY
from engine.models import AuditEvent, HumanTask, ProcessInstance, as_utc

from .models import Office
from .organization import OrganizationDirectory
from .rights import Refusal
from .users import User

PENALTY_TASKS = ("placement_check", "penalty_check")
EMERGENCY_PROCESSES = ("emergency_report", "torture_report")
#: notice task -> figure key; the same task name may mean another term in another procedure
NOTICE_TASKS: dict[tuple[str, str], str] = {
    ("emergency", "confirm_notice"): "1h",
    ("emergency", "full_report"): "3h",
    ("emergency", "notify_region"): "immediate",
    ("incident", "notify_region"): "3h",
    ("incident", "inform_gp"): "24h",
}
NOTICE_KEYS = ("1h", "3h", "24h", "immediate")
EMERGENCY_KINDS = (
    "disaster",
    "officer_crime",
    "inmate_crime",
    "torture",
    "unlawful_influence",
    "violent_death",
    "group_disobedience",
    "hostage_taking",
    "riot",
    "mass_disorder",
    "evasion",
    "escape",
    "work_refusal",
    "hunger_strike",
)
UNLAWFUL_KINDS = ("torture", "unlawful_influence")
#: the procedures whose start data names a kind
KIND_PROCESSES = ("emergency_report", "incident_report")
INCIDENT_KINDS = ("self_injury", "hunger_strike", "suicide", "special_means")
ACT_TYPES = ("protest", "submission", "order", "resolution", "warning", "unknown")
ACT_ROUTES = ("district", "regional", "gp")
ACT_OUTCOMES = ("in_review", "refused", "to_dispatch", "dispatched", "no_answer_in_time")
DEADLINE_KEYS = ("total", "in_time", "late", "open", "overdue")
RECEPTION_PROCESS = "reception"
#: the reception tasks of bpmn/reception (district monthly, regional prosecutor, deputies)
RECEPTION_TASKS = ("district_reception", "regional_reception", "deputy_reception")
#: the tasks whose forms set an act's type (its review may change it)
ACT_TYPE_TASKS = ("response_act", "onsite_check", "appeal_check", "act_review", "act_rework")
TORTURE_KEYS = ("total", "registered", "not_registered", "pending", "registered_within_24h")

#: the frequent deadline tasks the database counts (`_fast_counts`)
FAST_TASKS = (*PENALTY_TASKS, "confirm_notice", "full_report", "notify_region", "inform_gp")
#: the procedures whose every case is read row by row (their figures need more than a count)
RARE_PROCESSES = ("torture_report", "npm_pmc_appeal", RECEPTION_PROCESS)
#: the rarer tasks read row by row
RARE_TASKS = (
    "onsite_check",
    "decide",
    "approve_refusal",
    "transfer",
    "reply",
    "intake",
    "act_review",
    "act_dispatch",
    "act_answer_control",
    *RECEPTION_TASKS,
)
_TASK_NAMES = (
    *PENALTY_TASKS,
    "confirm_notice",
    "full_report",
    "notify_region",
    "inform_gp",
    "onsite_check",
    "decide",
    "approve_refusal",
    "transfer",
    "reply",
    "intake",
    "act_review",
    "act_dispatch",
    "act_answer_control",
    *RECEPTION_TASKS,
)


#: who reads the indicators (internal rule, issue 12): heads of office for their office and
#: below; the GP unit (any prosecutor or head of the GP office) for every office; auditors,
#: read-only, within their scope. A district or regional prosecutor does not: the figures judge
#: an office's supervision, which is its head's business.
INDICATOR_ROLES = ("head", "auditor")
#: the longest period one request may ask for (a few years' figures stay fast)
MAX_PERIOD_DAYS = 3 * 366


def may_see_indicators(
    directory: OrganizationDirectory, user: User, office_code: str
) -> Refusal | None:
    """The indicators' rule for every door: None when `user` may read `office_code`'s figures."""
    gp_unit = user.office_level == "gp" and user.has_role("prosecutor", "head")
    if not (gp_unit or user.has_role(*INDICATOR_ROLES)):
        return Refusal(
            "forbidden",
            "no_indicators_role",
            "the indicators are read by heads of office, the GP unit and auditors",
        )
    if directory.office(office_code) is None:
        return Refusal(
            "invalid", "unknown_office", f"there is no office {office_code}", {}, "office"
        )
    if office_code not in directory.offices_within(user.office_code):
        return Refusal(
            "forbidden",
            "indicators_out_of_scope",
            f"office {office_code} is outside your office's scope",
            {"office": office_code},
            "office",
        )
    return None


class BadPeriod(ValueError):
    """A period a door cannot use; the message says why in words (English, for API and CLI)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date]:
    """`from` and `to` as ISO dates (Almaty), both inclusive; missing: the current quarter
    (present but empty is a mistake, said as such)."""
    start = _date(raw_from, "from") if raw_from is not None else quarter_of(today)[0]
    end = _date(raw_to, "to") if raw_to is not None else quarter_of(today)[1]
    if end < start:
        raise BadPeriod("to must not be before from", "to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise BadPeriod("the period may be at most three years long", "to")
    return start, end


def _date(raw: str, name: str) -> date:
    """YYYY-MM-DD only (Python would also read "20260101" or week dates, which the API's
    schema does not promise)."""
    if not _ISO_DATE.fullmatch(raw):
        raise BadPeriod(f"{name} must be a date as YYYY-MM-DD", name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadPeriod(f"{name} must be a date as YYYY-MM-DD", name) from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def quarter_of(day: date) -> tuple[date, date]:
    """The calendar quarter holding `day`: its first and last dates."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    next_start = date(day.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return start, next_start - timedelta(days=1)


def quarter_presets(today: date, count: int = 6) -> list[tuple[str, date, date]]:
    """The current quarter and the ones before it: (label like "2026 Q4", start, end)."""
    out = []
    start, end = quarter_of(today)
    for _ in range(count):
        out.append((f"{start.year} Q{(start.month - 1) // 3 + 1}", start, end))
        start, end = quarter_of(start - timedelta(days=1))
    return out


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """The UTC instants of Almaty midnight opening `period_start` and closing `period_end`."""
    begin = datetime.combine(period_start, time(0), ALMATY).astimezone(UTC)
    end = datetime.combine(period_end + timedelta(days=1), time(0), ALMATY).astimezone(UTC)
    return begin, end


def offices_below(conn: Connection, office_code: str) -> dict[str, str]:
    """`office_code` and every office under it, with their levels (read from the office tree)."""
    rows = conn.execute(select(Office.code, Office.parent_code, Office.level)).all()
    children: dict[str, list[str]] = defaultdict(list)
    levels = {}
    for code, parent, level in rows:
        levels[code] = level
        if parent:
            children[parent].append(code)
    seen: dict[str, str] = {}
    stack = [office_code]
    while stack:
        code = stack.pop()
        if code in levels and code not in seen:
            seen[code] = levels[code]
            stack.extend(children[code])
    return seen


@dataclass
class _Sets:
    """Case ids per dotted figure key; the figures are their sizes."""

    sets: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    hours: list[float] = field(default_factory=list)
    #: figures the database counted (`_fast_counts`); they win over the sets
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, case_id: int) -> None:
        self.sets[key].add(case_id)


@contextmanager
def _connection(source: Any) -> Iterator[Connection]:
    """A connection from whatever the caller holds: a Connection, an Engine or a Database."""
    if isinstance(source, Connection):
        yield source
    elif isinstance(source, SAEngine):
        with source.connect() as conn:
            yield conn
    else:  # engine.db.Database
        with source.read() as conn:
            yield conn


def _deadline(sets: _Sets, prefix: str, case_id: int, met: int | None, past: int) -> None:
    """Done in time (`met` 1), done late (0), waiting (None), waiting past the deadline."""
    sets.add(f"{prefix}.total", case_id)
    if met is not None:
        sets.add(f"{prefix}.in_time" if met else f"{prefix}.late", case_id)
    else:
        sets.add(f"{prefix}.open", case_id)
        if past:
            sets.add(f"{prefix}.overdue", case_id)


#: the tasks whose creation instant a figure needs (receipt and registration of a report)
_TIMED_TASKS = ("transfer", "onsite_check", "decide")
#: the cases whose start data a figure reads beyond the kind (received_at, act_type)
_DETAIL_PROCESSES = ("torture_report", "act_routing")


def _deadline_columns(conn: Connection, now: datetime) -> tuple[Any, Any, Any]:
    """A task's deadline compared in the database (see `_task_rows`)."""
    ht = HumanTask
    met = case(
        (ht.completed_at.is_(None), None),
        (or_(ht.due_at.is_(None), ht.completed_at <= ht.due_at), 1),
        else_=0,
    )
    past = case((and_(ht.due_at.is_not(None), ht.due_at < now), 1), else_=0)
    if conn.dialect.name == "sqlite":  # instants are text there, in one sortable format
        later = func.datetime(ht.created_at, "+30 hours")
    else:
        later = ht.created_at + literal_column("interval '30 hours'")
    long_term = case((ht.due_at > later, 1), else_=0)
    return met, past, long_term


def _fast_counts(conn: Connection, in_scope: Any, now: datetime) -> dict[str, int]:
    """The figures of the frequent deadlines (penalty-room checks, notices) counted by the
    database: one grouped query instead of a row per case. `case_ids` lists the same cases
    through `_classify`, which the tests hold equal to these counts."""
    ht, pi = HumanTask, ProcessInstance
    met, past, long_term = _deadline_columns(conn, now)
    n = func.count(func.distinct(ht.instance_id))
    counts: dict[str, int] = defaultdict(int)
    groups = (pi.process_id, ht.task_name, met, past, long_term)
    for process, name, is_met, is_past, is_long, count in conn.execute(
        select(*groups, n)
        .select_from(ht)
        .join(pi, pi.id == ht.instance_id)
        .where(*in_scope, ht.task_name.in_(FAST_TASKS), ht.state != "cancelled")
        .group_by(*groups)
    ):
        if name in PENALTY_TASKS:
            term = "term_48h" if is_long else "term_24h"
            prefixes = ["penalty_room_checks", f"penalty_room_checks.{term}"]
        else:
            family = "incident" if process == "incident_report" else "emergency"
            key = NOTICE_TASKS.get((family, name))
            if key is None:
                continue
            prefixes = [f"notices.{key}"]
        for prefix in prefixes:
            counts[f"{prefix}.total"] += count
            if is_met is not None:
                counts[f"{prefix}.in_time" if is_met else f"{prefix}.late"] += count
            else:
                counts[f"{prefix}.open"] += count
                if is_past:
                    counts[f"{prefix}.overdue"] += count
    for prefix in (
        "penalty_room_checks",
        "penalty_room_checks.term_24h",
        "penalty_room_checks.term_48h",
        *(f"notices.{k}" for k in NOTICE_KEYS),
    ):
        for k in DEADLINE_KEYS:
            counts.setdefault(f"{prefix}.{k}", 0)
    return dict(counts)


def _case_counts(conn: Connection, in_scope: Any) -> dict[str, int]:
    """Emergencies and incidents by kind: counted by the database."""
    pi = ProcessInstance
    kind = pi.summary["kind"].as_string()
    counts: dict[str, int] = defaultdict(int)
    for process, kind_value, n in conn.execute(
        select(pi.process_id, kind, func.count())
        .where(*in_scope, pi.process_id.in_((*KIND_PROCESSES, "torture_report")))
        .group_by(pi.process_id, kind)
    ):
        if process in EMERGENCY_PROCESSES:
            counts["emergencies.total"] += n
            found = "torture" if process == "torture_report" else (kind_value or "unknown")
            counts[f"emergencies.by_kind.{found}"] += n
        else:
            counts["incidents.total"] += n
            counts[f"incidents.by_kind.{kind_value or 'unknown'}"] += n
    keys = [
        "emergencies.total",
        "incidents.total",
        *(f"emergencies.by_kind.{k}" for k in EMERGENCY_KINDS),
        *(f"incidents.by_kind.{k}" for k in INCIDENT_KINDS),
    ]
    for key in keys:
        counts.setdefault(key, 0)
    return dict(counts)


def _task_rows(conn: Connection, case_ids: Any, now: datetime, names: tuple[str, ...] = ()) -> Any:
    """The cases' tasks of the figures' names, each deadline compared in the database: `met`
    (1 done in time, 0 done late, NULL open), `past` (the deadline has passed), `long_term`
    (the deadline was set more than 30 hours after the task: the 48-hour term)."""
    ht = HumanTask
    met, past, long_term = _deadline_columns(conn, now)
    # raw (text on SQLite): converted only where a figure reads it (`as_utc`)
    created = case((ht.task_name.in_(_TIMED_TASKS), ht.created_at))
    return conn.execute(
        select(
            ht.instance_id,
            ht.task_name,
            ht.office_code,
            ht.state,
            met.label("met"),
            past.label("past"),
            long_term.label("long_term"),
            created.label("created_at"),
        )
        .where(ht.instance_id.in_(case_ids), ht.task_name.in_(names or _TASK_NAMES))
        .order_by(ht.instance_id, ht.id)
    )


def _classify(
    conn: Connection,
    office_code: str,
    period_start: date,
    period_end: date,
    now: datetime,
    *,
    fast: bool = False,
) -> tuple[_Sets, dict[str, str]]:
    """Every case of the scope and period into its figures' sets of case ids. `fast`: the
    frequent deadlines are counted by the database (`_fast_counts`) and only the rarer tasks
    (reports, appeals, acts) are read row by row."""
    offices = offices_below(conn, office_code)
    begin, end = period_bounds(period_start, period_end)
    pi, ae = ProcessInstance, AuditEvent
    in_scope = (
        pi.office_code.in_(sorted(offices)) if offices else pi.office_code.is_(None),
        pi.created_at >= begin,
        pi.created_at < end,
    )
    sets = _Sets()
    kind = pi.summary["kind"].as_string()
    # the start data is decoded only for the few cases whose figures read more than the kind
    detailed = or_(
        pi.process_id.in_(_DETAIL_PROCESSES),
        and_(pi.process_id == "emergency_report", kind.in_(UNLAWFUL_KINDS)),
    )
    columns = (
        pi.id,
        pi.process_id,
        pi.status,
        case((detailed, pi.created_at)).label("created_at"),  # raw, read by a few
        case((pi.process_id.in_(KIND_PROCESSES), kind)).label("kind"),
        type_coerce(case((detailed, pi.summary)), JSON()).label("summary"),
    )
    case_ids = select(pi.id).where(*in_scope).scalar_subquery()
    tasks: dict[int, list[Any]] = defaultdict(list)
    for row in _task_rows(conn, case_ids, now, RARE_TASKS if fast else ()):
        tasks[row.instance_id].append(row)
    if fast:
        # the frequent figures counted by the database; the cases read one by one are those
        # with a rarer task (reports, appeals, acts) or of a rarer procedure
        sets.counts = {**_fast_counts(conn, in_scope, now), **_case_counts(conn, in_scope)}
        rare = or_(pi.process_id.in_(RARE_PROCESSES), detailed)
        cases = list(conn.execute(select(*columns).where(*in_scope, rare)))
        seen = {c.id for c in cases}
        missing = sorted(set(tasks) - seen)
        for chunk in range(0, len(missing), 5000):
            ids = missing[chunk : chunk + 5000]
            cases.extend(conn.execute(select(*columns).where(pi.id.in_(ids))))
    else:
        cases = list(conn.execute(select(*columns).where(*in_scope)))
    # the reviewer's decision, and the act's type as whoever last set it entered it (the
    # events keep only the values a completion changed); read for the cases with an act only
    decisions: dict[int, dict[str, Any]] = defaultdict(dict)
    with_acts = sorted(
        i for i, rows in tasks.items() if any(t.task_name == "act_review" for t in rows)
    )
    for chunk in range(0, len(with_acts), 5000):
        for row in conn.execute(
            select(ae.instance_id, ae.task_name, ae.data_after)
            .where(
                ae.instance_id.in_(with_acts[chunk : chunk + 5000]),
                ae.event_type == "task_completed",
                ae.task_name.in_(ACT_TYPE_TASKS),
            )
            .order_by(ae.instance_id, ae.seq)
        ):
            after = row.data_after if isinstance(row.data_after, dict) else {}
            if after.get("act_type"):
                decisions[row.instance_id]["act_type"] = after["act_type"]
            if row.task_name == "act_review" and after.get("decision"):
                decisions[row.instance_id]["decision"] = after["decision"]

    for c in cases:
        _classify_case(sets, c, tasks.get(c.id, []), decisions.get(c.id, {}), offices)
    return sets, offices


def _classify_case(
    sets: _Sets, case_row: Any, rows: list[Any], decision: dict[str, Any], offices: dict[str, str]
) -> None:
    """Put one case into the figures it counts in."""
    case_id, process = case_row.id, case_row.process_id
    summary = case_row.summary if isinstance(case_row.summary, dict) else {}
    kind = str(case_row.kind or "")
    if process in EMERGENCY_PROCESSES:
        kind = "torture" if process == "torture_report" else kind
        sets.add("emergencies.total", case_id)
        sets.add(f"emergencies.by_kind.{kind or 'unknown'}", case_id)
    elif process == "incident_report":
        sets.add("incidents.total", case_id)
        sets.add(f"incidents.by_kind.{kind or 'unknown'}", case_id)
    if not rows:
        return
    by_name: dict[str, list[Any]] = {}
    for t in rows:
        by_name.setdefault(t.task_name, []).append(t)
    for name in PENALTY_TASKS:
        open_or_done = [t for t in by_name.get(name, ()) if t.state != "cancelled"]
        if open_or_done:
            t = open_or_done[0]
            _deadline(sets, "penalty_room_checks", case_id, t.met, t.past)
            term = "term_48h" if t.long_term else "term_24h"
            _deadline(sets, f"penalty_room_checks.{term}", case_id, t.met, t.past)
    family = "incident" if process == "incident_report" else "emergency"
    for (fam, name), key in NOTICE_TASKS.items():
        if fam == family and name in by_name:
            t = by_name[name][0]
            if t.state != "cancelled":
                _deadline(sets, f"notices.{key}", case_id, t.met, t.past)
    # torture and unlawful influence: their own procedure, the kind, or (called by an
    # appeal) the decision on registration only they have
    if process == "torture_report" or kind in UNLAWFUL_KINDS or "decide" in by_name:
        _torture(sets, case_row, summary, by_name)
    if process == "npm_pmc_appeal":  # the appeal's term runs from receipt to the reply
        reply = by_name.get("reply", [None])[0]
        first = reply or (by_name.get("intake") or [None])[0]
        if reply is not None:
            _deadline(sets, "appeals", case_id, reply.met, reply.past)
        elif first is not None:
            _deadline(sets, "appeals", case_id, None, first.past)
        else:
            _deadline(sets, "appeals", case_id, None, 0)
    for name in RECEPTION_TASKS:  # held (in time or late), or not yet (past its term)
        if name in by_name:
            t = by_name[name][0]
            _deadline(sets, "receptions", case_id, t.met, t.past)
            sets.add("receptions.held" if t.met is not None else "receptions.not_held", case_id)
    if "act_review" in by_name:
        act = {"act_type": summary.get("act_type"), **decision}
        _act(sets, case_id, by_name, act, offices)


def _torture(sets: _Sets, case_row: Any, summary: dict[str, Any], by_name: Any) -> None:
    case_id = case_row.id
    sets.add("torture_reports.total", case_id)
    if "transfer" in by_name:
        registered = as_utc(by_name["transfer"][0].created_at)
        received = _received(summary, by_name, case_row)
        sets.add("torture_reports.registered", case_id)
        if registered is not None and received is not None:
            hours = max(0.0, (registered - received).total_seconds() / 3600)
            sets.hours.append(hours)
            if hours <= 24:
                sets.add("torture_reports.registered_within_24h", case_id)
    elif "decide" in by_name and not any(
        t.state == "ready" for n in ("decide", "approve_refusal") for t in by_name[n]
    ):  # decided not to register, the refusal approved
        sets.add("torture_reports.not_registered", case_id)
    else:
        sets.add("torture_reports.pending", case_id)


def _received(summary: dict[str, Any], by_name: Any, case_row: Any) -> datetime | None:
    """When the report was received: the start data's received_at, else when its check began."""
    value = summary.get("received_at")
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
            return as_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=ALMATY))
        except ValueError:
            pass
    first = by_name.get("onsite_check") or by_name.get("decide")
    return as_utc(first[0].created_at) if first else as_utc(case_row.created_at)


def _act(
    sets: _Sets,
    case_id: int,
    by_name: dict[str, list[Any]],
    decision: dict[str, Any],
    offices: dict[str, str],
) -> None:
    """One act per case: its route (who signs it), type and where it stands."""
    review = by_name["act_review"][-1]
    sets.add("acts.total", case_id)
    route = offices.get(review.office_code or "", "")
    sets.add(f"acts.by_route.{route if route in ACT_ROUTES else 'district'}", case_id)
    act_type = str(decision.get("act_type") or "unknown")
    sets.add(f"acts.by_type.{act_type if act_type in ACT_TYPES else 'unknown'}", case_id)
    dispatch = by_name.get("act_dispatch", [])
    if review.state == "ready":
        outcome = "in_review"
    elif decision.get("decision") == "refuse" and not dispatch:
        outcome = "refused"
    elif not dispatch or dispatch[-1].state == "ready":
        outcome = "to_dispatch" if dispatch else "in_review"
    elif "act_answer_control" in by_name:
        outcome = "no_answer_in_time"
    else:
        outcome = "dispatched"
    sets.add(f"acts.by_outcome.{outcome}", case_id)


def _expected_receptions(offices: dict[str, str], period_start: date, period_end: date) -> int:
    """The calendar: a district office receives monthly (¶13.10), a regional prosecutor at
    least twice a year and his deputies quarterly (¶10.9) — counted per month, half-year and
    quarter the period touches (the procedure `reception` starts one case for each)."""
    months = {(d.year, d.month) for d in _month_starts(period_start, period_end)}
    halves = {(y, (m - 1) // 6) for y, m in months}
    quarters = {(y, (m - 1) // 3) for y, m in months}
    total = 0
    for level in offices.values():
        if level == "district":
            total += len(months)
        elif level == "regional":
            total += len(halves) + len(quarters)
    return total


def _month_starts(period_start: date, period_end: date) -> list[date]:
    out, day = [], period_start.replace(day=1)
    while day <= period_end:
        out.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _n(sets: _Sets, key: str) -> int:
    if key in sets.counts:
        return sets.counts[key]
    return len(sets.sets.get(key, ()))


def _deadline_figure(sets: _Sets, prefix: str) -> dict[str, int]:
    return {k: _n(sets, f"{prefix}.{k}") for k in DEADLINE_KEYS}


def figures(
    conn_or_engine: Any,
    office_code: str,
    period_start: date,
    period_end: date,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The indicators of `office_code` and its subordinates for the cases received in the
    period (Almaty dates, inclusive). Keys: see the module docstring; JSON-able."""
    now = as_utc(now) if now is not None else datetime.now(UTC)
    assert now is not None
    with _connection(conn_or_engine) as conn:
        sets, offices = _classify(conn, office_code, period_start, period_end, now, fast=True)
    return _assemble(sets, offices, office_code, period_start, period_end, now)


def empty_figures() -> dict[str, Any]:
    """The figures' shape with every count 0 (the doors check a figure's name against it)."""
    day = date(2000, 1, 1)
    return _assemble(_Sets(), {}, "", day, day, datetime(2000, 1, 1, tzinfo=UTC))


def _assemble(
    sets: _Sets,
    offices: dict[str, str],
    office_code: str,
    period_start: date,
    period_end: date,
    now: datetime,
) -> dict[str, Any]:
    hours = sorted(sets.hours)
    pen = _deadline_figure(sets, "penalty_room_checks")
    pen["term_24h"] = _deadline_figure(sets, "penalty_room_checks.term_24h")  # type: ignore[assignment]
    pen["term_48h"] = _deadline_figure(sets, "penalty_room_checks.term_48h")  # type: ignore[assignment]
    return {
        "office": office_code,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "computed_at": now.isoformat(),
        "penalty_room_checks": pen,
        "emergencies": {
            "total": _n(sets, "emergencies.total"),
            "by_kind": {k: _n(sets, f"emergencies.by_kind.{k}") for k in EMERGENCY_KINDS},
        },
        "incidents": {
            "total": _n(sets, "incidents.total"),
            "by_kind": {k: _n(sets, f"incidents.by_kind.{k}") for k in INCIDENT_KINDS},
        },
        "notices": {k: _deadline_figure(sets, f"notices.{k}") for k in NOTICE_KEYS},
        "torture_reports": {
            **{k: _n(sets, f"torture_reports.{k}") for k in TORTURE_KEYS},
            "hours_to_registration": {
                "median": round(statistics.median(hours), 2) if hours else None,
                "max": round(hours[-1], 2) if hours else None,
            },
        },
        "appeals": _deadline_figure(sets, "appeals"),
        "acts": {
            "total": _n(sets, "acts.total"),
            "by_route": {k: _n(sets, f"acts.by_route.{k}") for k in ACT_ROUTES},
            "by_type": {k: _n(sets, f"acts.by_type.{k}") for k in ACT_TYPES},
            "by_outcome": {k: _n(sets, f"acts.by_outcome.{k}") for k in ACT_OUTCOMES},
        },
        "receptions": {
            "held": _n(sets, "receptions.held"),
            "open": _n(sets, "receptions.not_held"),
            "expected": _expected_receptions(offices, period_start, period_end),
            "in_time": _n(sets, "receptions.in_time"),
            "late": _n(sets, "receptions.late"),
            "overdue": _n(sets, "receptions.overdue"),
        },
    }


def case_ids(
    conn_or_engine: Any,
    office_code: str,
    period_start: date,
    period_end: date,
    figure: str,
    *,
    now: datetime | None = None,
) -> list[int]:
    """The cases behind one figure (dotted key, e.g. ``notices.1h.late``), newest first; a
    section name alone (``acts``) means its total."""
    now = as_utc(now) if now is not None else datetime.now(UTC)
    assert now is not None
    with _connection(conn_or_engine) as conn:
        sets, _ = _classify(conn, office_code, period_start, period_end, now)
    key = figure if figure in sets.sets or "." in figure else f"{figure}.total"
    if key.startswith("torture_reports.hours_to_registration"):
        key = "torture_reports.registered"
    return sorted(sets.sets.get(key, ()), reverse=True)


def case_rows(conn_or_engine: Any, ids: list[int]) -> list[Any]:
    """The listed cases' rows (id, procedure, office, opened, status), in the order of `ids`."""
    if not ids:
        return []
    pi = ProcessInstance
    with _connection(conn_or_engine) as conn:
        rows = conn.execute(
            select(pi.id, pi.process_id, pi.office_code, pi.created_at, pi.status).where(
                pi.id.in_(ids)
            )
        ).all()
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def flat(result: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The figures as (dotted key, value) rows, in the dict's order (CSV, tables)."""
    rows: list[tuple[str, Any]] = []
    for key, value in result.items():
        if key in ("office", "period_start", "period_end", "computed_at") and not prefix:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flat(value, f"{path}."))
        else:
            rows.append((path, value))
    return rows
