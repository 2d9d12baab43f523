"""The timer worker: due timers fire once, even with several workers at the same instant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from engine.tasks import TaskQuery
from engine.worker import Worker
from tests.test_engine_steps import start_check

DUE = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 24 h after the placement in start_check


def test_a_worker_round_fires_what_is_due_and_writes_a_checkpoint(engine, clock) -> None:
    iid = start_check(engine)
    worker = Worker(engine)
    assert worker.poll() == 0  # nothing due yet
    clock.set(DUE + timedelta(minutes=1))
    assert worker.poll() == 1
    assert engine.tasks.list(TaskQuery(instance_id=iid)) == []
    assert engine.verify_history()["ok"] is True


def test_several_workers_fire_each_timer_once(make_engine, clock) -> None:
    first = make_engine()
    ids = [start_check(first) for _ in range(6)]
    workers = [make_engine() for _ in range(3)]
    fired: list[int] = []
    barrier = threading.Barrier(len(workers))

    def run(engine) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        fired.append(engine.management.fire_due(DUE + timedelta(minutes=1)))

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(fired) == len(ids)
    for iid in ids:
        kinds = [e["event_type"] for e in first.history.events(iid)]
        assert kinds.count("timer_fired") == 1
        assert first.runtime.get(iid).status == "completed"
    assert first.verify_history()["ok"] is True
