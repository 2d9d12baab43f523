"""Reminders before a deadline, the breach mark, and queue filters on the case's business data."""

from __future__ import annotations

from datetime import timedelta

from engine.engine import Engine
from engine.tasks import TaskQuery
from tests.test_proc_penalty_room_check import IN_24_HOURS, SECOND, place
from tests.test_proc_penalty_room_check import checks as checks  # the fixture


def _events(engine: Engine, instance_id: int, kind: str) -> list[dict]:
    return [e for e in engine.history.events(instance_id) if e["event_type"] == kind]


def test_a_reminder_comes_before_the_deadline_and_the_breach_after_it_once(checks, clock) -> None:
    case = place(checks)  # placed 09:30 Almaty on the 24th, checked by 09:30 on the 25th
    [task] = checks.tasks.list(TaskQuery(instance_id=case.id))
    # given 23.5 h at 10:00, the reminder comes a quarter of that before the deadline
    assert task.due_at == IN_24_HOURS
    assert task.remind_at == IN_24_HOURS - (IN_24_HOURS - clock.now()) / 4

    early = task.remind_at - SECOND
    assert checks.management.fire_alerts(early) == {"reminders": 0, "breaches": 0}
    assert checks.management.fire_alerts(task.remind_at) == {"reminders": 1, "breaches": 0}
    assert checks.management.fire_alerts(task.remind_at) == {"reminders": 0, "breaches": 0}
    [reminder] = _events(checks, case.id, "task_reminder")
    assert reminder["task_name"] == "placement_check"
    assert reminder["data_after"]["office_code"] == task.office_code

    late = IN_24_HOURS + SECOND
    assert checks.management.fire_alerts(late) == {"reminders": 0, "breaches": 1}
    assert checks.management.fire_alerts(late) == {"reminders": 0, "breaches": 0}
    marked = case.task("placement_check")
    assert marked.reminded_at == task.remind_at and marked.breached_at == late
    assert len(_events(checks, case.id, "deadline_breached")) == 1
    assert checks.verify_history()["ok"] is True


def test_a_completed_task_gets_no_reminder(checks, clock) -> None:
    case = place(checks)
    case.complete(
        "placement_check",
        placement_lawful=True,
        conditions_lawful=True,
        findings="Проверено",
    )
    later = clock.now() + timedelta(days=3)
    assert checks.management.fire_alerts(later) == {"reminders": 0, "breaches": 0}
    assert _events(checks, case.id, "task_reminder") == []


def test_queues_filter_on_institution_names_and_case_number(checks) -> None:
    first = place(checks, institution="UK-161-2")
    second = place(checks, institution="UK-161-2")
    checks.runtime.start(
        "penalty_room_check",
        {
            "institution": "UK-161-2",
            "convict_name": "Ахметов Руслан_%",
            "placed_at": "2026-11-24T09:30:00+05:00",
            "resolution_number": "7",
            "resolution_date": "2026-11-24",
            "grounds": "—",
            "duration_days": 5,
        },
        actor="integration",
    )

    def ids(**kw: object) -> set[int]:
        return {t.instance_id for t in checks.tasks.list(TaskQuery(**kw))}  # type: ignore[arg-type]

    every = ids(attributes={"institution": "UK-161-2"})
    assert {first.id, second.id} < every and len(every) == 3
    assert ids(attributes={"institution": "SIZO-ALM"}) == set()
    assert ids(text="петров") == {first.id, second.id}  # case-insensitive, part of the name
    assert ids(text="руслан_%") == every - {first.id, second.id}  # wildcards taken literally
    assert ids(text="руслан%x") == set()
    assert ids(text=str(second.id)) == {second.id}
    assert checks.tasks.count(TaskQuery(text="петров")) == 2
    assert ids(text="7") == every - {first.id, second.id}  # its resolution number, whole
