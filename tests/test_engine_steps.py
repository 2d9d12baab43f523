"""The engine end to end on the penalty-check workload, with a fake clock and both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import ConflictError
from engine.models import HumanTask, ProcessInstance, Timer
from engine.tasks import TaskQuery
from tests.conftest import BENCH_MODEL

PLACED = "2026-11-24T09:30:00+05:00"  # 04:30 UTC


def start_check(engine, remote: bool = False, actor: str = "ivanov") -> int:  # type: ignore[no-untyped-def]
    engine.repository.publish(BENCH_MODEL, actor="methodologist", now=engine.clock.now())
    return engine.runtime.start(
        "bench_penalty_check",
        {"placed_at": PLACED, "remote": remote, "convict_name": "Petrov", "office_code": "D01"},
        actor=actor,
    )


def open_tasks(engine, instance_id: int):  # type: ignore[no-untyped-def]
    return engine.tasks.list(TaskQuery(instance_id=instance_id))


def test_check_task_goes_to_the_lane_role_and_is_due_24_hours_after_placement(engine) -> None:
    iid = start_check(engine)
    [task] = open_tasks(engine, iid)
    assert task.title == "Check the placement"
    assert (task.role, task.office_code) == ("prosecutor", "D01")
    assert task.due_at.astimezone(UTC) == datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


def test_a_remote_institution_gets_48_hours(engine) -> None:
    iid = start_check(engine, remote=True)
    [task] = open_tasks(engine, iid)
    assert task.due_at.astimezone(UTC) == datetime(2026, 11, 26, 4, 30, tzinfo=UTC)


def test_timer_fires_at_the_deadline_not_before(engine, clock) -> None:
    iid = start_check(engine)
    due = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
    assert engine.management.fire_due(due - timedelta(seconds=1)) == 0
    assert [t.state for t in open_tasks(engine, iid)] == ["ready"]

    assert engine.management.fire_due(due + timedelta(seconds=1)) == 1
    assert open_tasks(engine, iid) == []
    assert engine.runtime.get(iid).status == "completed"
    cancelled = engine.tasks.list(TaskQuery(instance_id=iid, state="cancelled"))
    assert [t.task_name for t in cancelled] == ["check"]
    # firing again as of the same instant finds nothing: a timer fires once
    assert engine.management.fire_due(due + timedelta(seconds=2)) == 0
    history = engine.history.events(iid)
    assert [e["event_type"] for e in history][-3:] == [
        "timer_fired",
        "task_cancelled",
        "instance_completed",
    ]
    assert engine.verify_history()["ok"] is True


def test_unlawful_placement_leads_to_an_act_and_then_closes(engine) -> None:
    iid = start_check(engine)
    [check] = open_tasks(engine, iid)
    engine.tasks.complete(
        check.task_guid,
        {"placement_lawful": False, "conditions_lawful": True, "findings": "no resolution"},
        actor="ivanov",
    )
    [act] = open_tasks(engine, iid)
    assert act.task_name == "act"
    assert engine.tasks.get(check.task_guid).completed_by == "ivanov"
    # no timer is left waiting once the check is done
    with engine.db.read() as conn:
        assert conn.execute(select(Timer.__table__)).all() == []
    engine.tasks.complete(act.task_guid, {"act_number": "7"}, actor="ivanov")
    assert engine.runtime.get(iid).status == "completed"
    assert engine.runtime.data(iid)["findings"] == "no resolution"


def test_lawful_placement_closes_the_case(engine) -> None:
    iid = start_check(engine)
    [check] = open_tasks(engine, iid)
    engine.tasks.complete(
        check.task_guid, {"placement_lawful": True, "conditions_lawful": True}, actor="ivanov"
    )
    assert engine.runtime.get(iid).status == "completed"
    completed = [e for e in engine.history.events(iid) if e["event_type"] == "task_completed"]
    assert completed[0]["actor"] == "ivanov"
    assert completed[0]["data_after"] == {"placement_lawful": True, "conditions_lawful": True}


def test_second_completion_of_a_task_is_a_conflict_naming_who_was_first(make_engine) -> None:
    first, second = make_engine(), make_engine()  # two processes: two caches
    iid = start_check(first)
    [check] = open_tasks(first, iid)
    second.runtime.data(iid)  # the second process has the case cached at the old revision
    first.tasks.complete(
        check.task_guid, {"placement_lawful": True, "conditions_lawful": True}, actor="ivanov"
    )
    with pytest.raises(ConflictError, match="already completed by ivanov"):
        second.tasks.complete(check.task_guid, {"placement_lawful": False}, actor="sidorov")
    with first.db.read() as conn:
        row = conn.execute(select(ProcessInstance.__table__).where(ProcessInstance.id == iid)).one()
        tasks = conn.execute(select(HumanTask.__table__)).all()
    assert row.status == "completed" and row.revision == 2
    assert [(t.state, t.completed_by) for t in tasks] == [("completed", "ivanov")]
    assert first.runtime.data(iid)["placement_lawful"] is True
    assert first.verify_history()["ok"] is True


def test_stale_cache_is_never_used(make_engine) -> None:
    a, b = make_engine(), make_engine()
    iid = start_check(a)
    [check] = open_tasks(a, iid)
    b.runtime.data(iid)  # b caches revision 1
    a.tasks.complete(
        check.task_guid, {"placement_lawful": False, "conditions_lawful": False}, actor="ivanov"
    )
    [act] = open_tasks(b, iid)
    b.tasks.complete(act.task_guid, {"act_number": "1"}, actor="sidorov")  # b must restore rev 2
    assert b.runtime.get(iid).status == "completed"
    assert b.runtime.data(iid)["placement_lawful"] is False


def test_claim_unclaim_delegate_are_recorded(engine) -> None:
    iid = start_check(engine)
    [check] = open_tasks(engine, iid)
    assert engine.tasks.claim(check.task_guid, actor="ivanov").assignee == "ivanov"
    with pytest.raises(ConflictError, match="claimed by ivanov"):
        engine.tasks.claim(check.task_guid, actor="sidorov")
    with pytest.raises(ConflictError, match="claimed by ivanov"):
        engine.tasks.complete(check.task_guid, {}, actor="sidorov")
    engine.tasks.delegate(check.task_guid, "sidorov", actor="ivanov")
    assert engine.tasks.list(TaskQuery(assignee="sidorov"))[0].task_guid == check.task_guid
    assert engine.tasks.unclaim(check.task_guid, actor="sidorov").assignee is None
    kinds = [e["event_type"] for e in engine.history.events(iid)]
    assert kinds[-3:] == ["task_claimed", "task_delegated", "task_unclaimed"]
    assert engine.verify_history()["ok"] is True


def test_an_instance_keeps_its_version_after_a_new_one_is_published(engine, tmp_path) -> None:
    iid = start_check(engine)
    folder = tmp_path / "v2"
    folder.mkdir()
    changed = BENCH_MODEL.read_text().replace("Check the placement", "Check the placement (v2)")
    (folder / "penalty_check.bpmn").write_text(changed)
    v2, created = engine.repository.publish(folder / "penalty_check.bpmn", now=engine.clock.now())
    assert created and v2.version == 2
    again, created_again = engine.repository.publish(
        folder / "penalty_check.bpmn", now=engine.clock.now()
    )
    assert not created_again and again.id == v2.id
    assert engine.runtime.get(iid).version == 1
    [old_task] = open_tasks(engine, iid)
    assert old_task.title == "Check the placement"
    engine.tasks.complete(
        old_task.task_guid, {"placement_lawful": True, "conditions_lawful": True}, actor="ivanov"
    )
    new_iid = engine.runtime.start(
        "bench_penalty_check", {"placed_at": PLACED, "remote": False}, actor="ivanov"
    )
    assert engine.runtime.get(new_iid).version == 2
    assert open_tasks(engine, new_iid)[0].title == "Check the placement (v2)"


def test_state_is_stored_without_the_spec(engine) -> None:
    iid = start_check(engine)
    with engine.db.read() as conn:
        state = conn.execute(
            select(ProcessInstance.state).where(ProcessInstance.id == iid)
        ).scalar()
    assert '"spec"' not in state and "subprocess_specs" not in state
    assert len(state) < 6000


def test_a_duration_timer_counts_from_the_engine_clock_not_the_server_clock(
    engine, tmp_path
) -> None:
    """timeDuration starts when the engine reaches the timer: the injected clock's 'now'."""
    folder = tmp_path / "duration"
    folder.mkdir()
    model = BENCH_MODEL.read_text().replace(
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "add_hours(placed_at, 48 if remote else 24)</bpmn:timeDate>",
        '<bpmn:timeDuration>"PT2H"</bpmn:timeDuration>',
    )
    assert "timeDuration" in model
    (folder / "penalty_check.bpmn").write_text(model)
    engine.repository.publish(folder / "penalty_check.bpmn", now=engine.clock.now())
    iid = engine.runtime.start("bench_penalty_check", {"remote": False}, actor="ivanov")
    [task] = open_tasks(engine, iid)
    assert task.due_at == engine.clock.now() + timedelta(hours=2)
