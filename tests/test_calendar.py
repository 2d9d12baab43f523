"""Deadlines the way the regulation counts them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from engine.calendar import add_hours, add_working_days, is_working_day, parse_instant, to_local


def test_hours_are_clock_hours_across_a_weekend() -> None:
    # Friday 18:00 in Almaty + 48 h = Sunday 18:00, weekends do not stop the clock
    assert add_hours("2026-11-27T18:00:00+05:00", 48) == "2026-11-29T13:00:00+00:00"


def test_working_days_skip_the_weekend() -> None:
    # Friday 10:00 + 1 working day = Monday 10:00 (Almaty)
    assert add_working_days("2026-11-27T10:00:00+05:00", 1) == "2026-11-30T05:00:00+00:00"


def test_working_days_skip_independence_day() -> None:
    assert not is_working_day(date(2026, 12, 16))
    # Tuesday 15 Dec + 1 working day skips Wednesday 16 Dec (Independence Day)
    assert add_working_days("2026-12-15T09:00:00+05:00", 1) == "2026-12-17T04:00:00+00:00"


def test_fifteen_working_days_for_an_appeal_over_nauryz() -> None:
    # received Monday 16 March 2026; 21-25 March are Nauryz days (24, 25 observed)
    due = datetime.fromisoformat(add_working_days("2026-03-16T12:00:00+05:00", 15))
    assert to_local(due).date() == date(2026, 4, 9)


def test_an_instant_without_offset_is_almaty_time_not_server_time() -> None:
    assert parse_instant("2026-11-24T10:00:00") == datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


def test_a_month_ends_on_the_same_day_or_the_last_day_of_a_shorter_month() -> None:
    from engine.calendar import add_months

    assert add_months("2026-01-31T10:00:00+05:00", 1) == "2026-02-28T05:00:00+00:00"
    assert add_months("2028-01-31T10:00:00+05:00", 1) == "2028-02-29T05:00:00+00:00"
    assert add_months("2026-12-15T10:00:00+05:00", 1) == "2027-01-15T05:00:00+00:00"
