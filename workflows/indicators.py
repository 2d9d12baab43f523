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
- ``receptions``: receptions of convicts (procedure ``reception``; ¶13.10, ¶10.9). ``held``
  (completed), ``open``, ``expected`` (the calendar: a district office monthly, a regional
  office twice a year — one per started half-year of the period).

`case_ids(…, figure)` returns the cases behind one figure, named by its dotted path
(``penalty_room_checks.late``, ``emergencies.by_kind.riot``, ``notices.1h.overdue``, ``acts``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, select
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
INCIDENT_KINDS = ("self_injury", "hunger_strike", "suicide", "special_means")
ACT_TYPES = ("protest", "submission", "order", "resolution", "warning", "unknown")
ACT_ROUTES = ("district", "regional", "gp")
ACT_OUTCOMES = ("in_review", "refused", "to_dispatch", "dispatched", "no_answer_in_time")
DEADLINE_KEYS = ("total", "in_time", "late", "open", "overdue")
RECEPTION_PROCESS = "reception"
#: the tasks whose forms set an act's type (its review may change it)
ACT_TYPE_TASKS = ("response_act", "onsite_check", "appeal_check", "act_review", "act_rework")
TORTURE_KEYS = ("total", "registered", "not_registered", "pending", "registered_within_24h")

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
    """`from` and `to` as ISO dates (Almaty), both inclusive; missing: the current quarter."""
    default_start, default_end = quarter_of(today)
    try:
        start = date.fromisoformat(raw_from) if raw_from else default_start
    except ValueError:
        raise BadPeriod("from must be a date as YYYY-MM-DD", "from") from None
    try:
        end = date.fromisoformat(raw_to) if raw_to else default_end
    except ValueError:
        raise BadPeriod("to must be a date as YYYY-MM-DD", "to") from None
    if end < start:
        raise BadPeriod("to must not be before from", "to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise BadPeriod("the period may be at most three years long", "to")
    return start, end


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


def _deadline(
    sets: _Sets,
    prefix: str,
    case_id: int,
    due: datetime | None,
    done: datetime | None,
    now: datetime,
) -> None:
    """Done in time, done late, waiting, waiting past the deadline."""
    sets.add(f"{prefix}.total", case_id)
    if done is not None:
        late = due is not None and done > due
        sets.add(f"{prefix}.late" if late else f"{prefix}.in_time", case_id)
    else:
        sets.add(f"{prefix}.open", case_id)
        if due is not None and now > due:
            sets.add(f"{prefix}.overdue", case_id)


def _classify(
    conn: Connection, office_code: str, period_start: date, period_end: date, now: datetime
) -> tuple[_Sets, dict[str, str]]:
    offices = offices_below(conn, office_code)
    begin, end = period_bounds(period_start, period_end)
    pi, ht, ae = ProcessInstance, HumanTask, AuditEvent
    in_scope = (
        pi.office_code.in_(sorted(offices)) if offices else pi.office_code.is_(None),
        pi.created_at >= begin,
        pi.created_at < end,
    )
    sets = _Sets()
    cases = conn.execute(
        select(pi.id, pi.process_id, pi.status, pi.created_at, pi.summary).where(*in_scope)
    ).all()
    if not cases:
        return sets, offices
    info = {c.id: c for c in cases}
    case_ids = select(pi.id).where(*in_scope).scalar_subquery()
    tasks: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(
        select(
            ht.instance_id,
            ht.task_name,
            ht.office_code,
            ht.created_at,
            ht.due_at,
            ht.completed_at,
            ht.state,
            ht.id,
        )
        .where(ht.instance_id.in_(case_ids), ht.task_name.in_(_TASK_NAMES))
        .order_by(ht.instance_id, ht.id)
    ):
        tasks[row.instance_id].append(row)
    # the reviewer's decision, and the act's type as whoever last set it entered it (the
    # events keep only the values a completion changed)
    decisions: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in conn.execute(
        select(ae.instance_id, ae.task_name, ae.data_after)
        .where(
            ae.instance_id.in_(case_ids),
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

    for case_id, case in info.items():
        summary = case.summary or {}
        process = case.process_id
        rows = tasks.get(case_id, [])
        if process in EMERGENCY_PROCESSES:
            kind = "torture" if process == "torture_report" else str(summary.get("kind") or "")
            sets.add("emergencies.total", case_id)
            sets.add(f"emergencies.by_kind.{kind or 'unknown'}", case_id)
        elif process == "incident_report":
            sets.add("incidents.total", case_id)
            sets.add(f"incidents.by_kind.{summary.get('kind') or 'unknown'}", case_id)
        elif process == RECEPTION_PROCESS:
            held = case.status == "completed"
            sets.add("receptions.held" if held else "receptions.open", case_id)
        family = "incident" if process == "incident_report" else "emergency"
        by_name: defaultdict[str, list[Any]] = defaultdict(list)
        for t in rows:
            by_name[t.task_name].append(t)
        for name in PENALTY_TASKS:
            for t in by_name.get(name, [])[:1]:
                due, done = as_utc(t.due_at), as_utc(t.completed_at)
                _deadline(sets, "penalty_room_checks", case_id, due, done, now)
                long_term = due is not None and due - as_utc(t.created_at) > timedelta(hours=30)
                term = "term_48h" if long_term else "term_24h"
                _deadline(sets, f"penalty_room_checks.{term}", case_id, due, done, now)
        for (fam, name), key in NOTICE_TASKS.items():
            if fam != family:
                continue
            for t in by_name.get(name, [])[:1]:
                if t.state == "cancelled":
                    continue
                _deadline(
                    sets, f"notices.{key}", case_id, as_utc(t.due_at), as_utc(t.completed_at), now
                )
        kind = str(summary.get("kind") or "")
        # torture and unlawful influence: their own procedure, the kind, or (called by an
        # appeal) the decision on registration only they have
        if process == "torture_report" or kind in UNLAWFUL_KINDS or "decide" in by_name:
            sets.add("torture_reports.total", case_id)
            if "transfer" in by_name:
                registered = as_utc(by_name["transfer"][0].created_at)
                received = _received(summary, by_name, case)
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
        if process == "npm_pmc_appeal":  # the appeal's term runs from receipt to the reply
            steps = by_name.get("reply") or by_name.get("intake") or []
            reply = by_name.get("reply", [None])[0]
            due = as_utc(steps[0].due_at) if steps else None
            done = as_utc(reply.completed_at) if reply is not None else None
            _deadline(sets, "appeals", case_id, due, done, now)
        if "act_review" in by_name:
            act = {"act_type": summary.get("act_type"), **decisions.get(case_id, {})}
            _act(sets, case_id, by_name, act, offices)
    return sets, offices


def _received(summary: dict[str, Any], by_name: dict[str, list[Any]], case: Any) -> datetime | None:
    """When the report was received: the start data's received_at, else when its check began."""
    value = summary.get("received_at")
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
            return as_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=ALMATY))
        except ValueError:
            pass
    first = by_name.get("onsite_check") or by_name.get("decide")
    return as_utc(first[0].created_at) if first else as_utc(case.created_at)


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
    """The calendar: a district office receives monthly (¶13.10), a regional office at least
    twice a year (¶10.9) — counted per month / half-year the period touches."""
    months = {(d.year, d.month) for d in _month_starts(period_start, period_end)}
    halves = {(y, (m - 1) // 6) for y, m in months}
    total = 0
    for level in offices.values():
        if level == "district":
            total += len(months)
        elif level == "regional":
            total += len(halves)
    return total


def _month_starts(period_start: date, period_end: date) -> list[date]:
    out, day = [], period_start.replace(day=1)
    while day <= period_end:
        out.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _n(sets: _Sets, key: str) -> int:
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
        sets, offices = _classify(conn, office_code, period_start, period_end, now)
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
            "open": _n(sets, "receptions.open"),
            "expected": _expected_receptions(offices, period_start, period_end),
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
