"""Moving running cases to another version of their procedure (engine/case_migration.py).

What a methodologist relies on: the dry run says case by case whether a case can move and why
not; a moved case keeps its legal deadlines (they count from the case's own instants, never from
the migration), continues on the new model, and its history says which versions it moved between;
each case moves in its own transaction, so one failure leaves that case as it was while the
others move. Only methodologists and admins may do it, through every door (the CLI and the page,
side by side at the end).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import case_migration
from engine.calendar import ALMATY
from engine.engine import Engine
from engine.history import verify_case
from engine.models import HumanTask, ProcessInstance, Timer
from tests.test_proc_penalty_room_check import IN_24_HOURS, MODEL, check, place
from web.app import create_app

PLACED_UTC = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)


# -- versions -------------------------------------------------------------------------------------


def publish_variant(engine: Engine, tmp_path: Path, name: str, edit: Any, clock: Any) -> Any:
    """A second version of penalty_room_check: the folder copied, its BPMN edited, published."""
    folder = tmp_path / name / "penalty_room_check"
    shutil.copytree(MODEL.parent, folder)
    path = folder / "penalty_room_check.bpmn"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    definition, created = engine.repository.publish(path, actor="gp.methodologist", now=clock.now())
    assert created
    return definition


def with_review_step(text: str) -> str:
    """12 hours instead of 24 in the parameters script, and a new step after the check."""
    text = text.replace("check_hours_near = 24", "check_hours_near = 12")
    text = text.replace(
        '<bpmn:sequenceFlow id="f_checked" sourceRef="placement_check" targetRef="check_merge" />',
        '<bpmn:sequenceFlow id="f_checked" sourceRef="placement_check" targetRef="check_review" />'
        '<bpmn:sequenceFlow id="f_reviewed" sourceRef="check_review" targetRef="check_merge" />',
    )
    text = text.replace(
        "<bpmn:incoming>f_checked</bpmn:incoming>\n      <bpmn:incoming>f_penalty_checked",
        "<bpmn:incoming>f_reviewed</bpmn:incoming>\n      <bpmn:incoming>f_penalty_checked",
    )
    text = text.replace(
        "<bpmn:flowNodeRef>check_merge</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>check_merge</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>check_review</bpmn:flowNodeRef>",
    )
    return text.replace(
        '<bpmn:exclusiveGateway id="check_merge">',
        '<bpmn:userTask id="check_review" name="Рассмотреть результаты проверки">'
        "<bpmn:incoming>f_checked</bpmn:incoming><bpmn:outgoing>f_reviewed</bpmn:outgoing>"
        '</bpmn:userTask>\n    <bpmn:exclusiveGateway id="check_merge">',
    )


def with_12_hour_timer(text: str) -> str:
    """The timer's own expression changed: 12 hours from the placement."""
    return text.replace(
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">check_due</bpmn:timeDate>',
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">add_hours(placed_at, 12)</bpmn:timeDate>',
    )


def without_the_check(text: str) -> str:
    """The open step placement_check renamed (removed, as far as running cases are concerned)."""
    return re.sub(r"\bplacement_check\b(?!\.form)", "placement_review", text)


@pytest.fixture
def checks(domain_engine: Engine, clock) -> Engine:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def instance(engine: Engine, iid: int) -> Any:
    with engine.db.read() as conn:
        return conn.execute(
            select(ProcessInstance.__table__).where(ProcessInstance.__table__.c.id == iid)
        ).first()


def timers(engine: Engine, iid: int) -> dict[str, datetime]:
    t = Timer.__table__.c
    with engine.db.read() as conn:
        rows = conn.execute(select(t.name, t.fire_at).where(t.instance_id == iid)).all()
    return {r.name: r.fire_at.astimezone(UTC) for r in rows}


def events(engine: Engine, iid: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in engine.history.events(iid) if e["event_type"] == kind]


# -- the dry run ----------------------------------------------------------------------------------


def test_a_case_whose_open_step_was_removed_cannot_move_and_the_plan_says_why(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    case = place(checks)
    v2 = publish_variant(checks, tmp_path, "v2", without_the_check, clock)
    [row] = case_migration.plan(checks, [case.id], v2.id)
    assert row["can_move"] is False
    assert row["from_version"] == 1 and row["to_version"] == 2
    assert any(
        "open step 'Проверить законность водворения и условия содержания' does not exist in "
        "version 2" in r
        for r in row["reasons"]
    ), row["reasons"]
    assert {"open_task_missing"} <= {r["code"] for r in row["reason_codes"]}
    # its deadline as it stands is still shown
    assert row["deadlines"][0]["before"] == IN_24_HOURS.isoformat()
    [moved] = case_migration.migrate(
        checks, [case.id], v2.id, actor="gp.methodologist", now=clock.now()
    )
    assert moved["moved"] is False
    assert instance(checks, case.id).version == 1
    assert events(checks, case.id, "case_migrated") == []


def test_a_finished_case_and_a_case_on_the_target_cannot_move(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    done = place(checks)
    check(done)
    assert done.status == "completed"
    v2 = publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    on_v2 = place(checks)  # new cases start on the latest version
    rows = {r["instance_id"]: r for r in case_migration.plan(checks, [done.id, on_v2.id], v2.id)}
    assert rows[done.id]["can_move"] is False
    assert "the case is completed: only running cases move" in rows[done.id]["reasons"]
    assert rows[on_v2.id]["reasons"] == ["the case is already on version 2"]


# -- moving ---------------------------------------------------------------------------------------


def test_a_moved_case_keeps_its_deadline_and_continues_on_the_new_model(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    case = place(checks)
    clock.advance(timedelta(hours=3))  # the migration happens later than the placement
    v2 = publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    [row] = case_migration.plan(checks, [case.id], v2.id)
    assert row["can_move"] is True, row["reasons"]
    timer = next(d for d in row["deadlines"] if d["element"] == "check_deadline")
    assert timer["before"] == timer["after"] == IN_24_HOURS.isoformat()
    # the changed parameter only acts when its script runs, which it does not for this case
    assert timer["note_code"]["code"] == "computed_at_start"
    assert "the deadline stays: it was computed when the case reached" in timer["note"]

    [moved] = case_migration.migrate(
        checks, [case.id], v2.id, actor="gp.methodologist", now=clock.now()
    )
    assert moved["moved"] is True
    row = instance(checks, case.id)
    assert (row.version, row.definition_id) == (2, v2.id)
    assert timers(checks, case.id) == {"check_deadline": IN_24_HOURS}  # identical: not restarted
    assert case.due("placement_check") == IN_24_HOURS
    [event] = events(checks, case.id, "case_migrated")
    assert event["actor"] == "gp.methodologist"
    assert event["data_before"]["version"] == 1 and event["data_after"]["version"] == 2
    assert event["data_after"]["definition_id"] == v2.id
    assert event["data_after"]["deadlines"] == []  # nothing moved

    check(case)  # the next step is the one only version 2 has
    assert case.open_task_names() == ["check_review"]
    with checks.db.read() as conn:
        assert verify_case(conn, case.id)["ok"] is True
    assert checks.verify_history()["ok"] is True


def test_a_changed_deadline_counts_from_the_cases_own_instant(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    case = place(checks)
    clock.advance(timedelta(hours=5))
    v2 = publish_variant(checks, tmp_path, "v2", with_12_hour_timer, clock)
    [row] = case_migration.plan(checks, [case.id], v2.id)
    twelve = PLACED_UTC + timedelta(hours=12)  # from placed_at, not from now (which is +5 h)
    timer = next(d for d in row["deadlines"] if d["element"] == "check_deadline")
    assert (timer["before"], timer["after"]) == (IN_24_HOURS.isoformat(), twelve.isoformat())
    assert timer["note_code"]["code"] == "recomputed_from_data"
    case_migration.migrate(checks, [case.id], v2.id, actor="gp.methodologist", now=clock.now())
    assert timers(checks, case.id) == {"check_deadline": twelve}
    assert case.due("placement_check") == twelve
    [event] = events(checks, case.id, "case_migrated")
    assert {"element": "check_deadline", "kind": "timer"}.items() <= event["data_after"][
        "deadlines"
    ][0].items()
    assert event["data_after"]["deadlines"][0]["after"] == twelve.isoformat()


def test_a_shortened_deadline_already_behind_is_said_and_fires_at_once(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    case = place(checks)
    clock.advance(timedelta(hours=14))  # 19:00 UTC: placed_at + 12 h (16:30) is behind
    v2 = publish_variant(checks, tmp_path, "v2", with_12_hour_timer, clock)
    [row] = case_migration.plan(checks, [case.id], v2.id)
    timer = next(d for d in row["deadlines"] if d["element"] == "check_deadline")
    assert (
        timer["past"] is True and timer["after"] == (PLACED_UTC + timedelta(hours=12)).isoformat()
    )
    case_migration.migrate(checks, [case.id], v2.id, actor="gp.methodologist", now=clock.now())
    assert checks.management.fire_due(clock.now()) == 1  # the breach is recorded, not lost
    assert case.open_task_names() == ["breach_control", "placement_check"]
    assert case.data()["deadline_breached"] is True


DURATION_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs"
  targetNamespace="http://nadzor.kz/test">
  <bpmn:process id="mig_review" name="Review" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review the file">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="review_due" name="Review due" cancelActivity="false"
      attachedToRef="review">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="review_due_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"HOURS"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="late"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="review_due" targetRef="late" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_changed_duration_counts_from_when_the_task_opened(
    engine: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    def publish(name: str, duration: str) -> Any:
        folder = tmp_path / name / "mig_review"
        folder.mkdir(parents=True)
        path = folder / "mig_review.bpmn"
        path.write_text(DURATION_MODEL.replace("HOURS", duration), encoding="utf-8")
        return engine.repository.publish(path, actor="gp.methodologist", now=clock.now())[0]

    publish("v1", "PT24H")
    opened = clock.now()
    iid = engine.runtime.start("mig_review", {}, actor="someone")
    assert timers(engine, iid) == {"review_due": opened + timedelta(hours=24)}
    clock.advance(timedelta(hours=7))
    v2 = publish("v2", "PT48H")
    [row] = case_migration.migrate(engine, [iid], v2.id, actor="gp.methodologist", now=clock.now())
    assert row["moved"] is True, row["reasons"]
    # 48 hours from when the task opened, not from the migration (+7 h)
    assert timers(engine, iid) == {"review_due": opened + timedelta(hours=48)}
    timer = next(d for d in row["deadlines"] if d["kind"] == "timer")
    assert timer["note_code"]["code"] == "recomputed_from_opened"
    t = HumanTask.__table__.c
    with engine.db.read() as conn:
        due = conn.execute(select(t.due_at).where(t.instance_id == iid)).scalar()
    assert due.astimezone(UTC) == opened + timedelta(hours=48)


def test_each_case_moves_in_its_own_transaction(
    checks: Engine, tmp_path: Path, clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    first, broken, third = place(checks), place(checks), place(checks)
    v2 = publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    before = instance(checks, broken.id)
    save = checks.steps._save

    def failing_save(ctx, *args):  # type: ignore[no-untyped-def]
        if ctx.instance_id == broken.id:
            raise RuntimeError("disk full")
        return save(ctx, *args)

    monkeypatch.setattr(checks.steps, "_save", failing_save)
    rows = case_migration.migrate(
        checks, [first.id, broken.id, third.id], v2.id, actor="gp.methodologist", now=clock.now()
    )
    assert [r["moved"] for r in rows] == [True, False, True]
    assert rows[1]["reasons"] == [
        "it could not be moved: an unexpected error, written to the server's log"
    ]
    after = instance(checks, broken.id)
    assert (after.version, after.revision, after.state, after.audit_seq) == (
        before.version,
        before.revision,
        before.state,
        before.audit_seq,
    )
    assert events(checks, broken.id, "case_migrated") == []
    assert instance(checks, first.id).version == instance(checks, third.id).version == 2
    monkeypatch.undo()
    check(broken)  # the case left behind still works on its own version
    assert broken.status == "completed"


def test_a_case_that_changed_since_the_dry_run_is_left_alone(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    case = place(checks)
    v2 = publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    [planned] = case_migration.plan(checks, [case.id], v2.id)
    checks.run_step(case.id, lambda ctx: None, actor="worker")  # a step taken meanwhile
    [row] = case_migration.migrate(
        checks,
        [case.id],
        v2.id,
        actor="gp.methodologist",
        now=clock.now(),
        revisions={case.id: planned["revision"]},
    )
    assert row["moved"] is False
    assert "the case changed since the dry run" in row["reasons"][0]
    assert instance(checks, case.id).version == 1


# -- the CLI door ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(checks: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(_cli_main(), list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def _cli_main() -> Any:
    from web.cli import main

    return main


def test_cli_dry_run_then_migrate_and_refusal(
    checks: Engine, cli_env, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    case = place(checks)
    publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    base = ["cases", "migrate", "--process", "penalty_room_check", "--to-version", "2"]
    dry = json.loads(
        cli_env(*base, "--from-version", "1", "--dry-run", "--actor", "gp.methodologist", "--json")
    )
    assert [(r["instance_id"], r["can_move"]) for r in dry] == [(case.id, True)]
    assert instance(checks, case.id).version == 1  # a dry run writes nothing

    refused = cli_env(*base, "--case", str(case.id), "--actor", "tlg.prosecutor", "--json", code=1)
    assert "only methodologists and administrators" in json.loads(refused)["error"]
    assert instance(checks, case.id).version == 1

    moved = json.loads(
        cli_env(*base, "--case", str(case.id), "--actor", "gp.methodologist", "--json")
    )
    assert [(r["instance_id"], r["moved"]) for r in moved] == [(case.id, True)]
    assert instance(checks, case.id).version == 2
    # nothing left on version 1: nothing matched
    cli_env(*base, "--from-version", "1", "--actor", "gp.methodologist", "--json", code=1)
    missing = cli_env(*base, "--case", "999999", "--actor", "gp.methodologist", "--json", code=1)
    assert json.loads(missing)[0]["reasons"] == ["case 999999 does not exist"]


# -- the page door --------------------------------------------------------------------------------


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def _sign_in(client: Any, login: str) -> None:
    token = _csrf(client.get("/login").get_data(as_text=True))
    answer = client.post(
        "/login", data={"login": login, "password": "nadzor-demo", "csrf_token": token}
    )
    assert answer.status_code == 302


def test_page_dry_run_migrate_and_refusal(checks: Engine, tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    stays, moves = place(checks), place(checks)
    publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    app = create_app({"NADZOR_ENGINE": checks, "TESTING": True})

    prosecutor = app.test_client()
    _sign_in(prosecutor, "tlg.prosecutor")
    assert prosecutor.get("/procedures/penalty_room_check/migrate").status_code == 403

    web = app.test_client()
    _sign_in(web, "gp.methodologist")
    page = web.get(f"/procedures/penalty_room_check/migrate?from=1&to=2&case={moves.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Проверить водворение и условия содержания" in html  # words, not ids
    assert "25.11.2026, 09:30" in html  # the deadline in Almaty time
    # the case the failed-cases view sent here is the one checked
    assert re.search(rf'value="{moves.id}" id="case-{moves.id}" checked', html)
    assert not re.search(rf'value="{stays.id}" id="case-{stays.id}" checked', html)
    token = _csrf(html)
    # a prosecutor's POST is refused and changes nothing
    refused = prosecutor.post(
        "/procedures/penalty_room_check/migrate",
        data={"from": "1", "to": "2", "case": str(moves.id), "csrf_token": token},
    )
    assert refused.status_code in (400, 403)
    assert instance(checks, moves.id).version == 1

    answer = web.post(
        "/procedures/penalty_room_check/migrate",
        data={
            "from": "1",
            "to": "2",
            "case": str(moves.id),
            f"rev_{moves.id}": str(instance(checks, moves.id).revision),
            "csrf_token": token,
        },
    )
    assert answer.status_code == 200
    assert instance(checks, moves.id).version == 2
    assert instance(checks, stays.id).version == 1
    assert "Перенесено дел: 1 из 1." in answer.get_data(as_text=True)
    # from the failed-cases view, a case already on the newest version: said, not an error
    again = web.get(f"/procedures/penalty_room_check/migrate?case={moves.id}")
    assert again.status_code == 200
    assert "сначала опубликуйте исправленную версию" in again.get_data(as_text=True)


# -- inside a called procedure --------------------------------------------------------------------


def test_a_case_inside_a_called_procedure_moves_or_says_why_not(
    checks: Engine, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    from tests.test_proc_penalty_room_check import prepare_act

    case = place(checks)
    check(case, placement=False)
    prepare_act(case)
    assert case.open_task_names() == ["act_review"]  # inside act_routing (the call activity)
    v2 = publish_variant(checks, tmp_path, "v2", with_review_step, clock)
    [row] = case_migration.plan(checks, [case.id], v2.id)
    assert row["can_move"] is True, row["reasons"]

    # a version whose call activity calls another procedure: the case cannot stay inside it
    def calls_another(text: str) -> str:
        lite = (
            '<bpmn:process id="act_routing_lite" isExecutable="true">'
            '<bpmn:startEvent id="lite_start"><bpmn:outgoing>lf1</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:endEvent id="lite_end"><bpmn:incoming>lf1</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="lf1" sourceRef="lite_start" targetRef="lite_end" />'
            "</bpmn:process>\n  <bpmndi:BPMNDiagram"
        )
        text = text.replace("<bpmndi:BPMNDiagram", lite, 1)
        return text.replace('calledElement="act_routing"', 'calledElement="act_routing_lite"')

    v3 = publish_variant(checks, tmp_path, "v3", calls_another, clock)
    [row] = case_migration.plan(checks, [case.id], v3.id)
    assert row["can_move"] is False
    assert row["reasons"] == [
        "it is inside the called procedure 'act_routing', which version 3 does not include"
    ]
    moved = case_migration.migrate(
        checks, [case.id], v2.id, actor="gp.methodologist", now=clock.now()
    )
    assert moved[0]["moved"] is True
    assert case.open_task_names() == ["act_review"]
    with checks.db.read() as conn:
        assert verify_case(conn, case.id)["ok"] is True


def test_the_trace_says_the_move_in_words(checks: Engine, tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    """An auditor reading a migrated case sees which versions and which deadline moved, in
    Almaty time — not the event's code and raw instants."""
    case = place(checks)
    v2 = publish_variant(checks, tmp_path, "v2", with_12_hour_timer, clock)
    case_migration.migrate(checks, [case.id], v2.id, actor="gp.methodologist", now=clock.now())
    app = create_app({"NADZOR_ENGINE": checks, "TESTING": True})
    web = app.test_client()
    _sign_in(web, "gp.auditor")
    html = web.get(f"/audit/cases/{case.id}", headers={"Accept-Language": "ru"}).get_data(
        as_text=True
    )
    assert "дело переведено на другую версию процедуры" in html
    assert "версия 1 → 2" in html
    twelve = (PLACED_UTC + timedelta(hours=12)).astimezone(ALMATY).strftime("%d.%m.%Y, %H:%M")
    assert twelve in html
