"""The worker never stops for one case: a case that cannot be restored is an incident and is
skipped, every other due timer still fires, and a backlog is drained whole in one call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from engine.models import ProcessInstance, Timer
from engine.worker import Worker
from tests.test_engine_steps import start_check

DUE = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 24 h after the placement in start_check


def _set_state(engine, instance_id: int, state: str) -> str:  # type: ignore[no-untyped-def]
    """Store `state` as the case's serialized workflow; returns what was there."""
    table = ProcessInstance.__table__
    with engine.db.write() as conn:
        before = conn.execute(select(table.c.state).where(table.c.id == instance_id)).scalar_one()
        conn.execute(update(table).where(table.c.id == instance_id).values(state=state))
    return before


def _timer_rows(engine, instance_id: int) -> list:  # type: ignore[no-untyped-def]
    t = Timer.__table__.c
    with engine.db.read() as conn:
        return conn.execute(
            select(t.fire_at, t.attempts, t.name).where(t.instance_id == instance_id)
        ).all()


def test_a_round_over_an_unrestorable_case_fires_every_other_timer(make_engine, clock) -> None:
    first = make_engine()
    ids = [start_check(first) for _ in range(5)]
    broken = ids[2]
    good_state = _set_state(first, broken, '{"serializer_version": "1.4", "spec": {"trunc')

    worker_engine = make_engine()  # another process: nothing cached, every case restored
    clock.set(DUE + timedelta(minutes=1))
    assert Worker(worker_engine).poll() == 4

    for iid in ids:
        expected = "running" if iid == broken else "completed"
        assert first.runtime.get(iid).status == expected, iid
    [incident] = worker_engine.management.incidents()
    assert incident["instance_id"] == broken
    assert incident["task_name"] == "check_deadline"  # the element: the boundary timer
    assert incident["task_guid"]
    assert "could not be restored" in incident["message"]
    assert "Error" not in incident["message"]  # words, not a Python class name

    # the broken case's timer is postponed with backoff, not tried again every second
    [(fire_at, attempts, _name)] = _timer_rows(first, broken)
    assert attempts == 1 and fire_at.astimezone(UTC) == clock.now() + timedelta(minutes=1)
    assert Worker(worker_engine).poll() == 0
    assert [r[1] for r in _timer_rows(first, broken)] == [1]
    clock.advance(timedelta(minutes=1, seconds=1))
    assert Worker(worker_engine).poll() == 0
    [(fire_at, attempts, _name)] = _timer_rows(first, broken)
    assert attempts == 2 and fire_at.astimezone(UTC) == clock.now() + timedelta(minutes=2)
    # one open incident per failing timer, kept up to date rather than repeated
    [incident] = worker_engine.management.incidents()
    assert incident["attempts"] == 2 and incident["last_attempt_at"] == clock.now()

    # once the case is repaired, its postponed timer fires and the incident is closed
    _set_state(first, broken, good_state)
    clock.advance(timedelta(minutes=2, seconds=1))
    assert Worker(worker_engine).poll() == 1
    assert first.runtime.get(broken).status == "completed"
    assert worker_engine.management.incidents() == []
    assert first.verify_history()["ok"] is True
