"""The engine's notion of "now", injectable so tests move time instead of sleeping.

SpiffWorkflow reads `datetime.now(timezone.utc)` inside its timer module. We replace that module's
`datetime` name once with a subclass whose `now()` asks the clock of the step in progress (a
context variable, so threads and engines with different clocks do not see each other's time).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock for tests and catch-up runs: it shows what it was set to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


_current: ContextVar[Clock | None] = ContextVar("nadzor_clock", default=None)


class _EngineDateTime(datetime):
    """Stands in for `datetime` inside SpiffWorkflow's timer module."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        clock = _current.get()
        instant = clock.now() if clock is not None else datetime.now(UTC)
        return instant.astimezone(tz) if tz is not None else instant.replace(tzinfo=None)


def _install() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

    spiff_timer.datetime = _EngineDateTime  # type: ignore[misc]


_install()


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)
