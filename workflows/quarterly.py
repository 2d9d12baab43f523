"""Quarterly reports on the state of supervision (procedure `quarterly_report`).

Instruction 104: a district office sends information on the state of supervision to the
regional office at least once a quarter, unless the regional prosecutor sets other terms
(¶13.17); the regional unit presents its quarterly analysis to the GP unit on the 5th day of the
month following the reporting period (¶11.9); the GP unit analyses the quarter too (¶9.7, no
term: the model's parameter, an internal rule).

What the domain gives the model:
- the regional office's own term for its districts (`report_term`, migration 1006) as the case
  fact `report_due_day` (default the 3rd: internal rule — ¶13.17 lets the region set it and
  fixes no default);
- script functions computing the quarter that just ended and a due instant from the scheduled
  start (`quarter_start`, `quarter_end`, `quarter_name`, `due_after_quarter`), all in Almaty;
- the service operator `quarter_figures` that snapshots the quarter's figures
  (workflows/indicators.py) into the case data, where they stay as they were when sent;
- `district_reports`: which districts of a region have sent theirs for the same occurrence (and
  `subordinate_reports`: which regions have sent their analyses to the GP unit), read from
  indexed rows (case attributes and human tasks), never from workflow states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, select

from engine.calendar import ALMATY, parse_instant
from engine.clock import Clock
from engine.db import Database
from engine.models import CaseAttribute, HumanTask, ProcessInstance, as_utc

from .models import Office, ReportTerm

PROCESS_ID = "quarterly_report"
#: internal rule: ¶13.17 lets the regional prosecutor set the term and fixes no default
DEFAULT_DISTRICT_DUE_DAY = 3
#: the day a term may name: one every month has
DUE_DAYS = range(1, 29)
#: the user task a district completes to send its information (bpmn/quarterly_report)
DISTRICT_TASK = "district_report"


# -- the quarter and its due dates (script functions of the model) ----------------------------


def _ended_quarter(scheduled_at: str | datetime) -> tuple[date, date]:
    """The quarter that ended just before the scheduled instant, as Almaty dates (inclusive).

    The schedule fires at Almaty midnight on the first day after the quarter, so the day before
    the instant's Almaty date lies in the quarter that ended."""
    last_day = parse_instant(scheduled_at).astimezone(ALMATY).date() - timedelta(days=1)
    first_month = 3 * ((last_day.month - 1) // 3) + 1
    start = date(last_day.year, first_month, 1)
    next_start = date(start.year + (first_month + 2) // 12, (first_month + 2) % 12 + 1, 1)
    return start, next_start - timedelta(days=1)


def quarter_start(scheduled_at: str) -> str:
    """First day (ISO date, Almaty) of the quarter that ended before `scheduled_at`."""
    return _ended_quarter(scheduled_at)[0].isoformat()


def quarter_end(scheduled_at: str) -> str:
    """Last day (ISO date, Almaty) of the quarter that ended before `scheduled_at`."""
    return _ended_quarter(scheduled_at)[1].isoformat()


def quarter_name(scheduled_at: str) -> str:
    """The quarter as people write it, e.g. "2027-Q1" (the same in every language)."""
    start, _ = _ended_quarter(scheduled_at)
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def due_after_quarter(period_end: str, day: int) -> str:
    """The end (23:59:59 Almaty) of day `day` of the month following the quarter ending on
    `period_end`: "on the 5th day of the month following the reporting period" (¶11.9) is met
    by a report sent during that day."""
    end = date.fromisoformat(str(period_end)[:10])
    following = end + timedelta(days=1)
    if not 1 <= int(day) <= 28:
        raise ValueError(f"a report's due day is between 1 and 28, not {day}")
    due = datetime.combine(following.replace(day=int(day)), time(23, 59, 59), tzinfo=ALMATY)
    return due.astimezone(UTC).isoformat()


def quarterly_functions() -> dict[str, Callable[..., Any]]:
    """The functions the quarterly_report model calls in its parameters script."""
    return {
        "quarter_start": quarter_start,
        "quarter_end": quarter_end,
        "quarter_name": quarter_name,
        "due_after_quarter": due_after_quarter,
    }


# -- the regional office's own term (¶13.17) --------------------------------------------------


def report_due_day(db: Database, regional_code: str | None) -> int:
    """The day of the month after the quarter by which the region's districts report."""
    if not regional_code:
        return DEFAULT_DISTRICT_DUE_DAY
    t = ReportTerm.__table__
    with db.read() as conn:
        day = conn.execute(
            select(t.c.district_due_day).where(t.c.office_code == regional_code)
        ).scalar()
    return int(day) if day is not None else DEFAULT_DISTRICT_DUE_DAY


def set_report_term(
    db: Database, regional_code: str, day: int, *, actor: str, now: datetime
) -> None:
    """The regional prosecutor's own term for the districts (¶13.17); applies to the reports
    of the quarters that end after it is set (a case keeps the term it opened with)."""
    o, t = Office.__table__, ReportTerm.__table__
    if day not in DUE_DAYS:
        raise ValueError("the term is a day of the month between 1 and 28")
    with db.write() as conn:
        level = conn.execute(select(o.c.level).where(o.c.code == regional_code)).scalar()
        if level != "regional":
            raise ValueError("only a regional office sets a term for its districts")
        row = {"district_due_day": day, "set_by": actor, "set_at": now}
        done = conn.execute(t.update().where(t.c.office_code == regional_code).values(**row))
        if not done.rowcount:
            conn.execute(t.insert().values(office_code=regional_code, **row))


# -- the figures' snapshot --------------------------------------------------------------------


def figures_service(db: Database, clock: Clock) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """Service operator `quarter_figures` (parameters `office`, `period_start`, `period_end`):
    the quarter's figures of the office and its subordinates, stored by the model in the case
    data (`figures`), so what is sent keeps the figures as they were that day."""

    def handler(params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        # imported here: indicators imports organization, which imports this module
        from .indicators import figures

        office = str(params.get("office") or "")
        if not office:
            raise ValueError("the figures need an office")
        start = date.fromisoformat(str(params.get("period_start"))[:10])
        end = date.fromisoformat(str(params.get("period_end"))[:10])
        # as of the engine's clock: "open past the deadline" is judged at the snapshot
        return figures(db.engine, office, start, end, now=clock.now())

    return handler


# -- which districts have sent theirs ---------------------------------------------------------


@dataclass(frozen=True)
class DistrictReport:
    office_code: str
    instance_id: int | None  # the subordinate's case; None: no case opened for this quarter
    sent_at: datetime | None  # when its information was sent; None: not yet


#: office level -> (level of its subordinate offices, the task their report is)
SUBORDINATE_REPORTS: dict[str, tuple[str, str]] = {
    "regional": ("district", DISTRICT_TASK),  # ¶13.17
    "gp": ("regional", "regional_report"),  # ¶11.9
}


def district_reports(db: Database, region_code: str, scheduled_at: str) -> list[DistrictReport]:
    """Each district office of the region with its quarterly_report case of the same scheduled
    occurrence (`scheduled_at`) and when it sent its information (¶13.17)."""
    return subordinate_reports(db, region_code, "regional", scheduled_at)


def subordinate_reports(
    db: Database, office_code: str, level: str, scheduled_at: str
) -> list[DistrictReport]:
    """The offices directly below `office_code` (districts of a region, regions of the GP) with
    their report of the same occurrence and when it was sent, in office code order.

    Reads the indexed rows only (the case's `scheduled_at` attribute, its office, the report
    task's row): no workflow is restored."""
    if level not in SUBORDINATE_REPORTS:
        return []
    child_level, task_name = SUBORDINATE_REPORTS[level]
    o = Office.__table__
    pi, ca, ht = ProcessInstance.__table__, CaseAttribute.__table__, HumanTask.__table__
    with db.read() as conn:
        children = sorted(
            conn.execute(
                select(o.c.code).where(o.c.parent_code == office_code, o.c.level == child_level)
            ).scalars()
        )
        if not children:
            return []
        rows = conn.execute(
            select(pi.c.id, pi.c.office_code, ht.c.state, ht.c.completed_at)
            .join(
                ca,
                and_(
                    ca.c.instance_id == pi.c.id,
                    ca.c.name == "scheduled_at",
                    ca.c.value == str(scheduled_at),
                ),
            )
            .outerjoin(ht, and_(ht.c.instance_id == pi.c.id, ht.c.task_name == task_name))
            .where(pi.c.process_id == PROCESS_ID, pi.c.office_code.in_(children))
        ).all()
    found: dict[str, DistrictReport] = {}
    for r in rows:
        sent = as_utc(r.completed_at) if r.state == "completed" else None
        known = found.get(r.office_code)
        if known is None or (sent is not None and known.sent_at is None):
            found[r.office_code] = DistrictReport(r.office_code, r.id, sent)
    return [found.get(code, DistrictReport(code, None, None)) for code in children]
