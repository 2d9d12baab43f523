"""Legal deadlines: clock hours, or working days that skip weekends and Kazakhstan's holidays.

Deadlines are computed and stored in UTC and shown in Asia/Almaty. Working days are counted in
Almaty's calendar: "3 working days from Friday 17:00" ends on Wednesday 17:00 local time.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ALMATY = ZoneInfo("Asia/Almaty")


@lru_cache(maxsize=64)
def _kz_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("KZ", years=year)


def preload(year: int) -> None:
    """Load the holiday calendar now (the `holidays` package loads a country's module lazily,
    ~0.15 s of CPU), for last year to two years ahead: the first working-day deadline must not
    pay that cold start inside a script's or a step's CPU limit."""
    for y in range(year - 1, year + 3):
        _kz_holidays(y)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _kz_holidays(day.year)


def parse_instant(value: str | datetime) -> datetime:
    """An ISO instant from case data; without an offset it is Almaty time, never server time."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ALMATY)
    return instant.astimezone(UTC)


def add_hours(start: str | datetime, hours: float) -> str:
    """Clock hours: 24 h from a placement is 24 h later, across nights and holidays."""
    return (parse_instant(start) + timedelta(hours=hours)).isoformat()


def add_working_days(start: str | datetime, days: int) -> str:
    """`days` working days after `start`, at the same local time of day."""
    local = parse_instant(start).astimezone(ALMATY)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    end = datetime.combine(day, local.time(), tzinfo=ALMATY)
    return end.astimezone(UTC).isoformat()


def add_months(start: str | datetime, months: int) -> str:
    """Calendar months in Almaty: 31 January + 1 month is the last day of February."""
    local = parse_instant(start).astimezone(ALMATY)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC).isoformat()


def to_local(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(ALMATY)


DEADLINE_FUNCTIONS = {
    "add_hours": add_hours,
    "add_working_days": add_working_days,
    "add_months": add_months,
}
