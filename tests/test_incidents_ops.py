"""Failed cases: incidents name their case, task and element; automatic retries are bounded and
then need attention; a person retries one after a fix or cancels the case with a reason, each
recorded in the case's history; the same rule (methodologists and admins) at every door."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from engine.errors import DataRejected, InvalidOperation
from engine.management import MAX_AUTOMATIC_ATTEMPTS
from engine.models import HumanTask, ProcessInstance, Timer
from engine.tasks import TaskQuery

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_ops_timer"
    targetNamespace="http://nadzor.kz/test">
  <bpmn:process id="ops_timer" name="Wait, then compute" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="One hour">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="compute" name="Compute the total"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="review" name="Review the total"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="compute" />
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="review" />
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
BROKEN = "total = missing_name + 1"
FIXED = "total = 1"


def publish(engine, clock, folder: Path, script: str) -> Any:  # type: ignore[no-untyped-def]
    """Publish the model with `script` from `folder` (one folder per version's files)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ops_timer.bpmn"
    path.write_text(MODEL.replace("SCRIPT", script))
    loaded, _ = engine.repository.publish(path, actor="gp.methodologist", now=clock.now())
    return loaded


def move_case(engine, instance_id: int, definition: Any) -> None:  # type: ignore[no-untyped-def]
    """The case now runs on `definition` (same elements, fixed script): what a migration to
    the fixed version does to the case's row (engine/case_migration.py does it with checks)."""
    c = ProcessInstance.__table__.c
    with engine.db.write() as conn:
        conn.execute(
            update(ProcessInstance.__table__)
            .where(c.id == instance_id)
            .values(definition_id=definition.id, version=definition.version)
        )
    engine.cache.clear()


def failing_case(engine, clock, tmp_path: Path) -> int:  # type: ignore[no-untyped-def]
    publish(engine, clock, tmp_path / "v1" / "ops_timer", BROKEN)
    return engine.runtime.start("ops_timer", {}, actor="ivanov", business_key="OPS-1")


def fire_until_parked(engine, clock) -> list[Any]:  # type: ignore[no-untyped-def]
    """Fire at every instant the worker would (the timer's, then each postponed retry) until
    the automatic attempts are spent; returns the timer row's fire instants tried."""
    clock.set(clock.now() + timedelta(minutes=61))
    tried = []
    for _ in range(MAX_AUTOMATIC_ATTEMPTS + 3):
        due = engine.management.next_fire_at()
        if due is None:
            break
        clock.set(max(clock.now(), due + timedelta(seconds=1)))
        tried.append(clock.now())
        engine.management.fire_due(clock.now())
    return tried


def timer_row(engine, instance_id: int) -> Any:  # type: ignore[no-untyped-def]
    t = Timer.__table__.c
    with engine.db.read() as conn:
        return conn.execute(select(Timer.__table__).where(t.instance_id == instance_id)).first()


def test_an_incident_names_its_case_task_and_element(engine, clock, tmp_path: Path) -> None:
    iid = failing_case(engine, clock, tmp_path)
    clock.set(clock.now() + timedelta(minutes=61))
    engine.management.fire_due(clock.now())
    [incident] = engine.management.incidents(instance_id=iid)
    assert incident["instance_id"] == iid
    assert incident["business_key"] == "OPS-1"
    assert (incident["process_id"], incident["version"]) == ("ops_timer", 1)
    assert incident["task_name"] == "wait" and incident["task_guid"]
    # the element that failed is the script after the timer, with its drawn name
    assert (incident["element_id"], incident["element_name"]) == ("compute", "Compute the total")
    assert "missing_name" in incident["error"]
    assert "<" not in incident["error"] and "Traceback" not in incident["error"]
    assert "NameError" not in incident["error"]  # words, not Python's class names
    assert incident["attempts"] == 1 and incident["status"] == "open"
    assert incident["last_attempt_at"] == clock.now()
    assert engine.management.incident_counts() == {"open": 1, "needs_attention": 0}


def test_a_failing_person_step_names_the_task_and_needs_attention(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "ops_timer"
    folder.mkdir()
    # the review completes into the broken script
    (folder / "ops_timer.bpmn").write_text(
        MODEL.replace("SCRIPT", FIXED)
        .replace('sourceRef="start" targetRef="wait"', 'sourceRef="start" targetRef="review0"')
        .replace(
            "<bpmn:intermediateCatchEvent",
            '<bpmn:userTask id="review0" name="First look"><bpmn:incoming>f1</bpmn:incoming>'
            '<bpmn:outgoing>f0</bpmn:outgoing></bpmn:userTask><bpmn:scriptTask id="broken" '
            'name="Broken step"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f00'
            "</bpmn:outgoing><bpmn:script>x = nothing_here</bpmn:script></bpmn:scriptTask>"
            '<bpmn:endEvent id="end0"><bpmn:incoming>f00</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f0" sourceRef="review0" targetRef="broken" />'
            '<bpmn:sequenceFlow id="f00" sourceRef="broken" targetRef="end0" />'
            "<bpmn:intermediateCatchEvent",
            1,
        )
    )
    engine.repository.publish(folder / "ops_timer.bpmn", actor="gp.methodologist", now=clock.now())
    iid = engine.runtime.start("ops_timer", {}, actor="ivanov")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    with pytest.raises(Exception):  # noqa: B017 - the model's failure, whichever class
        engine.tasks.complete(task.task_guid, {}, actor="ivanov")
    [incident] = engine.management.incidents(instance_id=iid)
    assert incident["task_guid"] == task.task_guid and incident["task_name"] == "review0"
    assert (incident["element_id"], incident["element_name"]) == ("broken", "Broken step")
    assert incident["process_id"] == "ops_timer"
    assert incident["status"] == "needs_attention"  # nothing retries a person's step by itself


def test_automatic_retries_are_bounded_then_it_needs_attention(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iid = failing_case(engine, clock, tmp_path)
    tried = fire_until_parked(engine, clock)
    assert len(tried) == MAX_AUTOMATIC_ATTEMPTS, tried
    # the waits between attempts grow (1, 2, 4, 8 minutes)
    gaps = [round((b - a).total_seconds() / 60) for a, b in zip(tried, tried[1:], strict=False)]
    assert gaps == [1, 2, 4, 8], gaps
    [incident] = engine.management.incidents(instance_id=iid)
    assert incident["attempts"] == MAX_AUTOMATIC_ATTEMPTS
    assert incident["status"] == "needs_attention" and incident["needs_attention"]
    assert engine.management.incident_counts() == {"open": 0, "needs_attention": 1}
    before = timer_row(engine, iid)
    assert before.attempts == MAX_AUTOMATIC_ATTEMPTS
    # no more automatic attempts: later instants fire nothing and change nothing
    assert engine.management.next_fire_at() is None
    for days in (1, 7, 30):
        assert engine.management.fire_due(clock.now() + timedelta(days=days)) == 0
    assert timer_row(engine, iid) == before
    [after] = engine.management.incidents(instance_id=iid)
    assert after["attempts"] == MAX_AUTOMATIC_ATTEMPTS and after["last_attempt_at"] == tried[-1]
    assert engine.runtime.get(iid).status == "running"


def test_a_retry_still_failing_counts_an_attempt_and_is_recorded(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iid = failing_case(engine, clock, tmp_path)
    fire_until_parked(engine, clock)
    [incident] = engine.management.incidents(instance_id=iid)
    clock.set(clock.now() + timedelta(hours=2))
    after = engine.management.retry_incident(incident["id"], actor="gp.methodologist")
    assert after["attempts"] == MAX_AUTOMATIC_ATTEMPTS + 1
    assert after["status"] == "needs_attention" and after["last_attempt_at"] == clock.now()
    assert "missing_name" in after["error"]
    assert engine.management.fire_due(clock.now() + timedelta(days=1)) == 0  # still parked
    [event] = [e for e in engine.history.events(iid) if e["event_type"] == "incident_retried"]
    assert event["actor"] == "gp.methodologist"
    assert event["data_after"]["incident_id"] == incident["id"]
    assert "missing_name" in event["data_after"]["error"]
    assert engine.verify_history()["ok"]


def test_a_retry_after_the_fix_resolves_the_incident(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iid = failing_case(engine, clock, tmp_path)
    fire_until_parked(engine, clock)
    [incident] = engine.management.incidents(instance_id=iid)
    fixed = publish(engine, clock, tmp_path / "v2" / "ops_timer", FIXED)
    assert fixed.version == 2
    move_case(engine, iid, fixed)
    clock.set(clock.now() + timedelta(hours=1))
    after = engine.management.retry_incident(incident["id"], actor="gp.methodologist")
    assert after["status"] == "resolved" and after["resolved_at"] == clock.now()
    assert (after["resolved_by"], after["resolution"]) == ("gp.methodologist", "retried")
    assert engine.management.incidents(instance_id=iid) == []
    assert engine.management.incident_counts() == {"open": 0, "needs_attention": 0}
    # the case went on: the timer fired, the script ran, the review waits in a queue
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    assert task.task_name == "review"
    assert engine.runtime.data(iid)["total"] == 1
    assert timer_row(engine, iid) is None
    kinds = [e["event_type"] for e in engine.history.events(iid)]
    assert kinds[-3:] == ["timer_fired", "incident_retried", "task_created"], kinds
    with pytest.raises(InvalidOperation):  # resolved: nothing left to retry
        engine.management.retry_incident(incident["id"], actor="gp.methodologist")


def test_cancel_a_case_with_a_reason(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iid = failing_case(engine, clock, tmp_path)
    fire_until_parked(engine, clock)
    with pytest.raises(DataRejected):
        engine.management.cancel_case(iid, reason="  ", actor="gp.admin")
    assert engine.runtime.get(iid).status == "running"  # refused: nothing changed
    result = engine.management.cancel_case(
        iid, reason="opened in error; the check was held on paper", actor="gp.admin"
    )
    assert result["status"] == "cancelled" and len(result["resolved_incidents"]) == 1
    view = engine.runtime.get(iid)
    assert view.status == "cancelled"
    assert timer_row(engine, iid) is None
    [incident] = engine.management.incidents(instance_id=iid, open_only=False)
    assert (incident["status"], incident["resolution"]) == ("resolved", "cancelled")
    assert incident["resolved_by"] == "gp.admin"
    [event] = [e for e in engine.history.events(iid) if e["event_type"] == "case_cancelled"]
    assert event["actor"] == "gp.admin"
    assert event["data_after"]["reason"] == "opened in error; the check was held on paper"
    assert "instance_completed" not in [e["event_type"] for e in engine.history.events(iid)]
    assert engine.verify_history()["ok"]
    with pytest.raises(InvalidOperation):
        engine.management.cancel_case(iid, reason="again", actor="gp.admin")


def test_cancelling_takes_the_open_tasks_out_of_the_queues(domain_engine) -> None:  # type: ignore[no-untyped-def]
    from tests.test_web_workspace import PENALTY, placement

    engine = domain_engine
    engine.repository.publish(PENALTY, now=engine.clock.now())
    iid = engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    office_queue = TaskQuery(offices=[task.office_code])
    assert [t.task_guid for t in engine.tasks.list(office_queue)] == [task.task_guid]
    engine.management.cancel_case(iid, reason="duplicate of another case", actor="gp.admin")
    assert engine.tasks.list(TaskQuery(instance_id=iid)) == []
    assert engine.tasks.list(office_queue) == []
    h = HumanTask.__table__.c
    with engine.db.read() as conn:
        states = conn.execute(select(h.state).where(h.instance_id == iid)).scalars().all()
    assert states and set(states) == {"cancelled"}
    t = Timer.__table__.c
    with engine.db.read() as conn:
        assert conn.execute(select(t.id).where(t.instance_id == iid)).all() == []
    kinds = [e["event_type"] for e in engine.history.events(iid)]
    assert "task_cancelled" in kinds and "case_cancelled" in kinds


# -- the CLI ------------------------------------------------------------------------------------


def cli(database_url: str, *args: str) -> Any:
    from web.cli import main

    runner = CliRunner()
    return runner.invoke(main, list(args), env={"NADZOR_DATABASE_URL": database_url})


# -- the doors: page, API, CLI ------------------------------------------------------------------


@pytest.fixture
def parked(domain_engine, clock, tmp_path: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The domain's app over a case whose timer step failed every automatic attempt."""
    from web.app import create_app

    iid = failing_case(domain_engine, clock, tmp_path)
    fire_until_parked(domain_engine, clock)
    [incident] = domain_engine.management.incidents(instance_id=iid)
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    return {"engine": domain_engine, "app": app, "iid": iid, "incident": incident["id"]}


def signed_in(app, login: str) -> Any:  # type: ignore[no-untyped-def]
    from tests.test_web_queue import sign_in

    client = app.test_client()
    assert sign_in(client, login).status_code == 302
    return client


def form_token(client) -> str:  # type: ignore[no-untyped-def]
    from tests.test_web_queue import csrf

    return csrf(client.get("/queue").get_data(as_text=True))


def english(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/language", data={"locale": "en", "csrf_token": form_token(client), "next": "/"})


def test_the_page_lists_the_incident_with_words_and_counts(parked) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(parked["app"], "gp.methodologist")
    english(client)
    html = client.get("/operations/incidents").get_data(as_text=True)
    assert f'data-incident="{parked["incident"]}"' in html
    assert "OPS-1" in html and "Compute the total" in html and "missing_name" in html
    assert "needs attention" in html
    assert 'id="count-needs-attention"><strong>1</strong>' in html
    assert f'href="/procedures/ops_timer/migrate?case={parked["iid"]}"' in html
    # the navigation says how many need attention, on any page
    queue = client.get("/queue").get_data(as_text=True)
    assert 'id="nav-incidents"' in queue and 'id="nav-incidents-count"' in queue
    # the filters: resolved ones only → none; another procedure → none
    assert "no-incidents" in client.get("/operations/incidents?status=resolved").get_data(
        as_text=True
    )
    other = client.get("/operations/incidents?procedure=penalty_room_check")
    assert "no-incidents" in other.get_data(as_text=True)
    assert client.get("/operations/incidents?status=<script>").status_code == 200


def test_retry_and_cancel_through_the_page(parked, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, iid = parked["engine"], parked["iid"]
    client = signed_in(parked["app"], "gp.admin")
    english(client)
    token = form_token(client)
    # still broken: one more attempt, said on the page
    answer = client.post(
        f"/operations/incidents/{parked['incident']}/retry",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "failed again" in answer.get_data(as_text=True)
    assert engine.management.incident(parked["incident"])["attempts"] == MAX_AUTOMATIC_ATTEMPTS + 1
    # no reason: refused, nothing changed
    answer = client.post(
        f"/operations/cases/{iid}/cancel",
        data={"csrf_token": token, "reason": "  "},
        follow_redirects=True,
    )
    assert "Say why the case is cancelled" in answer.get_data(as_text=True)
    assert engine.runtime.get(iid).status == "running"
    # fixed and moved: the retry resolves it
    move_case(engine, iid, publish(engine, clock, tmp_path / "v2" / "ops_timer", FIXED))
    answer = client.post(
        f"/operations/incidents/{parked['incident']}/retry",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "incident is resolved" in answer.get_data(as_text=True)
    assert engine.management.incident(parked["incident"])["resolved_by"] == "gp.admin"
    answer = client.post(
        f"/operations/cases/{iid}/cancel",
        data={"csrf_token": token, "reason": "the check was held on paper"},
        follow_redirects=True,
    )
    assert "is cancelled" in answer.get_data(as_text=True)
    assert engine.runtime.get(iid).status == "cancelled"
    [event] = [e for e in engine.history.events(iid) if e["event_type"] == "case_cancelled"]
    assert (event["actor"], event["data_after"]["reason"]) == (
        "gp.admin",
        "the check was held on paper",
    )


@pytest.mark.parametrize("login", ["tlg.prosecutor", "tlg.auditor", "gp.auditor"])
def test_the_rule_refuses_others_at_every_door(parked, database_url, login) -> None:  # type: ignore[no-untyped-def]
    from workflows.users import UserDirectory

    engine, iid, incident = parked["engine"], parked["iid"], parked["incident"]
    before = engine.management.incident(incident)
    client = signed_in(parked["app"], login)
    english(client)
    token = form_token(client)
    page = client.get("/operations/incidents")
    assert page.status_code == 403
    assert "Only methodologists and administrators" in page.get_data(as_text=True)
    assert 'id="nav-incidents"' not in client.get("/queue").get_data(as_text=True)
    retry = client.post(f"/operations/incidents/{incident}/retry", data={"csrf_token": token})
    cancel = client.post(
        f"/operations/cases/{iid}/cancel", data={"csrf_token": token, "reason": "mine"}
    )
    assert (retry.status_code, cancel.status_code) == (403, 403)
    bearer = UserDirectory(engine.db).issue_token(login)
    api = (
        parked["app"]
        .test_client()
        .get("/api/v1/incidents", headers={"Authorization": f"Bearer {bearer}"})
    )
    assert api.status_code == 403 and api.get_json()["error"] == "forbidden"
    listed = cli(database_url, "incidents", "retry", str(incident), "--actor", login, "--json")
    assert listed.exit_code == 1, listed.output
    assert json.loads(listed.output)["ok"] is False
    cancelled = cli(
        database_url, "cases", "cancel", str(iid), "--reason", "x", "--actor", login, "--json"
    )
    assert cancelled.exit_code == 1, cancelled.output
    assert "methodologists and administrators" in json.loads(cancelled.output)["error"]
    # nothing moved
    assert engine.management.incident(incident) == before
    assert engine.runtime.get(iid).status == "running"


def test_the_api_and_the_cli_list_what_the_page_lists(parked, database_url) -> None:  # type: ignore[no-untyped-def]
    from workflows.users import UserDirectory

    engine, iid = parked["engine"], parked["iid"]
    bearer = UserDirectory(engine.db).issue_token("alm.methodologist")
    answer = (
        parked["app"]
        .test_client()
        .get("/api/v1/incidents", headers={"Authorization": f"Bearer {bearer}"})
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["counts"] == {"open": 0, "needs_attention": 1}
    [row] = body["incidents"]
    assert (row["instance_id"], row["business_key"], row["element_id"]) == (iid, "OPS-1", "compute")
    assert row["needs_attention"] is True and row["attempts"] == MAX_AUTOMATIC_ATTEMPTS
    bad = (
        parked["app"]
        .test_client()
        .get("/api/v1/incidents?status=nope", headers={"Authorization": f"Bearer {bearer}"})
    )
    assert bad.status_code == 400
    listed = cli(database_url, "incidents", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [r["id"] for r in json.loads(listed.output)] == [row["id"]]
    retried = cli(
        database_url, "incidents", "retry", str(row["id"]), "--actor", "gp.admin", "--json"
    )
    assert retried.exit_code == 0, retried.output
    out = json.loads(retried.output)
    assert out["ok"] is False and out["incident"]["attempts"] == MAX_AUTOMATIC_ATTEMPTS + 1
    cancelled = cli(
        database_url,
        "cases",
        "cancel",
        str(iid),
        "--reason",
        "duplicate",
        "--actor",
        "tlg.methodologist",
        "--json",
    )
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.output)["status"] == "cancelled"
    assert json.loads(cli(database_url, "incidents", "list", "--json").output) == []
    everything = json.loads(cli(database_url, "incidents", "list", "--all", "--json").output)
    assert [(r["status"], r["resolution"]) for r in everything] == [("resolved", "cancelled")]


def test_retry_after_publishing_a_fix_and_migrating_the_case(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The issue's path end to end in the engine: the broken version's case is parked, the
    methodologist publishes the fix, migrates the case to it (engine/case_migration.py) and
    retries: the incident is resolved and the case goes on on the fixed version."""
    from engine import case_migration

    iid = failing_case(engine, clock, tmp_path)
    fire_until_parked(engine, clock)
    [incident] = engine.management.incidents(instance_id=iid)
    fixed = publish(engine, clock, tmp_path / "v2" / "ops_timer", FIXED)
    [moved] = case_migration.migrate(
        engine, [iid], fixed.id, actor="gp.methodologist", now=clock.now()
    )
    assert moved["moved"], moved
    # still parked after the move: only a person retries it
    assert engine.management.fire_due(clock.now() + timedelta(days=1)) == 0
    [still] = engine.management.incidents(instance_id=iid)
    assert (still["status"], still["version"]) == ("needs_attention", 2)
    after = engine.management.retry_incident(incident["id"], actor="gp.methodologist")
    assert after["status"] == "resolved", after
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    assert task.task_name == "review"
    kinds = [e["event_type"] for e in engine.history.events(iid)]
    assert kinds.index("case_migrated") < kinds.index("incident_retried"), kinds
    assert engine.verify_history()["ok"]


def test_an_outside_system_is_retried_a_bounded_number_of_times(make_engine, clock) -> None:  # type: ignore[no-untyped-def]
    """A service task whose outside system stays down: the first call and the automatic
    retries make MAX_AUTOMATIC_ATTEMPTS calls in all, then nothing calls it until a person
    retries, and that retry, once the system is up, resolves the incident."""
    from engine.services import ServiceRegistry
    from tests.conftest import FIXTURES

    calls: list[str] = []
    up = {"now": False}

    def register(params: dict, data: dict) -> dict:
        calls.append(params["case_ref"])
        if not up["now"]:
            raise ConnectionError("register unreachable")
        return {"number": "ERDR-1"}

    services = ServiceRegistry()
    services.register("register_case", register)
    engine = make_engine(services=services)
    engine.repository.publish(FIXTURES / "engine" / "service" / "service.bpmn", now=clock.now())
    iid = engine.runtime.start("service_step", {"case_ref": "C-1"}, actor="ivanov")
    for _ in range(MAX_AUTOMATIC_ATTEMPTS + 3):
        due = engine.management.next_fire_at()
        if due is None:
            break
        clock.set(max(clock.now(), due))
        engine.management.fire_due(clock.now())
    assert len(calls) == MAX_AUTOMATIC_ATTEMPTS
    [incident] = engine.management.incidents(instance_id=iid)
    assert (incident["kind"], incident["status"]) == ("service", "needs_attention")
    assert incident["attempts"] == MAX_AUTOMATIC_ATTEMPTS
    assert incident["element_id"] == "register"
    assert incident["element_name"] == "Register in the outside register"
    assert engine.management.fire_due(clock.now() + timedelta(days=3)) == 0
    assert len(calls) == MAX_AUTOMATIC_ATTEMPTS
    up["now"] = True
    after = engine.management.retry_incident(incident["id"], actor="gp.admin")
    assert (after["status"], after["resolved_by"]) == ("resolved", "gp.admin")
    assert engine.runtime.data(iid)["registration"] == {"number": "ERDR-1"}
    assert "incident_retried" in [e["event_type"] for e in engine.history.events(iid)]


def test_migration_0010_fills_in_what_the_old_rows_tell(tmp_path: Path) -> None:
    """Rows recorded before 0010: resolved ones stay resolved, a timer past the automatic
    bound needs attention, a scheduled start gets its procedure, the element its task's id."""
    import sqlalchemy as sa

    from engine.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0009")
    db = sa.create_engine(url)
    with db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO process_instance (id, definition_id, process_id, version, status,"
                " revision, state, summary, started_by, created_at, updated_at, audit_seq,"
                " audit_head)"
                " VALUES (7, 1, 'ops_timer', 1, 'running', 0, '', '{}', 'x',"
                " '2026-11-24 00:00:00', '2026-11-24 00:00:00', 0, '')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO timer (instance_id, task_guid, kind, name, fire_at, attempts)"
                " VALUES (7, 'g-wait', 'timer', 'wait', '2026-11-25 00:00:00', 6)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO incident (id, instance_id, task_guid, task_name, kind, message,"
                " created_at, resolved_at) VALUES"
                " (1, 7, 'g-wait', 'wait', 'timer', 'case 7, timer ''wait'': failed',"
                " '2026-11-24 01:00:00', NULL),"
                " (2, 7, 'g-old', 'compute', 'script', 'old', '2026-11-20 01:00:00',"
                " '2026-11-21 01:00:00'),"
                " (3, NULL, NULL, 'quarter_ended', 'schedule',"
                " 'scheduled start of ''quarterly_duty'' (quarter_ended): down',"
                " '2026-11-24 02:00:00', NULL)"
            )
        )
    upgrade(url)
    with db.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                sa.text(
                    "SELECT id, status, attempts, element_id, process_id, last_attempt_at"
                    " FROM incident"
                )
            )
        }
    db.dispose()
    assert (rows[1].status, rows[1].attempts, rows[1].element_id) == ("needs_attention", 6, "wait")
    assert rows[1].process_id == "ops_timer" and rows[1].last_attempt_at is not None
    assert rows[2].status == "resolved"
    assert (rows[3].status, rows[3].process_id) == ("open", "quarterly_duty")


def test_the_auditors_trace_and_the_case_page_tell_the_reason(domain_engine) -> None:  # type: ignore[no-untyped-def]
    from tests.test_web_workspace import PENALTY, placement
    from web.app import create_app

    engine = domain_engine
    engine.repository.publish(PENALTY, now=engine.clock.now())
    iid = engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    engine.management.cancel_case(iid, reason="duplicate of case 12", actor="gp.admin")
    app = create_app({"NADZOR_ENGINE": engine, "TESTING": True})
    for login, path in (
        ("tlg.auditor", f"/audit/cases/{iid}"),
        ("tlg.prosecutor", f"/cases/{iid}"),
    ):
        client = signed_in(app, login)
        english(client)
        html = client.get(path).get_data(as_text=True)
        assert "case cancelled with a reason" in html, login
        assert "reason: duplicate of case 12" in html, login


def test_a_scheduled_start_is_retried_a_bounded_number_of_times(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A calendar start that keeps failing: 5 attempts, then it needs attention and the
    calendar no longer tries it; a person's retry after the fix starts the cases."""
    from engine.clock import FakeClock
    from tests.test_schedules import MODEL as DUTY
    from tests.test_schedules import (
        PUBLISHED,
        Q4_END,
        _engine,
        _variant,
        district_offices,
        started_cases,
    )
    from workflows.demo import seed_organization

    engine = _engine(database_url, FakeClock(PUBLISHED))
    seed_organization(engine)
    engine.repository.publish(DUTY, actor="gp.methodologist", now=PUBLISHED)
    broken = _variant(
        tmp_path, 'quarter_of = scheduled_at[:7] if scheduled_at else ""', "quarter_of = nope[:7]"
    )
    engine.repository.publish(broken, actor="gp.methodologist", now=PUBLISHED)
    instant = Q4_END
    for minutes in (0, 1, 2, 4, 8, 16, 60, 24 * 60):
        instant = instant + timedelta(minutes=minutes, seconds=1)
        assert engine.management.fire_due_counts(instant)["scheduled_starts"] == 0
    [incident] = engine.management.incidents()
    assert (incident["kind"], incident["process_id"]) == ("schedule", "quarterly_duty")
    assert (incident["attempts"], incident["status"]) == (MAX_AUTOMATIC_ATTEMPTS, "needs_attention")
    assert "NameError" not in incident["error"] and "nope" in incident["error"]
    still = engine.management.retry_incident(incident["id"], actor="gp.admin", now=instant)
    assert (still["status"], still["attempts"]) == ("needs_attention", MAX_AUTOMATIC_ATTEMPTS)
    # the fix: a version whose script works (its calendar unchanged)
    fixed = _variant(tmp_path, "Квартальная обязанность (тест)", "Квартальная обязанность")
    engine.repository.publish(fixed, actor="gp.methodologist", now=PUBLISHED)
    after = engine.management.retry_incident(incident["id"], actor="gp.admin", now=instant)
    assert (after["status"], after["resolved_by"]) == ("resolved", "gp.admin")
    assert len(started_cases(engine)) == len(district_offices(engine)) > 0
    engine.db.dispose()


def test_a_case_that_cannot_be_restored_is_cancelled_from_its_rows(engine, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The case a person most needs to end — its stored state no longer loads — is cancelled
    all the same: its timer gone, its incident resolved, the reason in its verified chain."""
    iid = failing_case(engine, clock, tmp_path)
    c = ProcessInstance.__table__.c
    with engine.db.write() as conn:
        conn.execute(
            update(ProcessInstance.__table__)
            .where(c.id == iid)
            .values(state='{"serializer_version": "1.4", "spec": {"trunc')
        )
    engine.cache.clear()
    clock.set(clock.now() + timedelta(minutes=61))
    engine.management.fire_due(clock.now())
    [incident] = engine.management.incidents(instance_id=iid)
    assert "could not be restored" in incident["error"]
    result = engine.management.cancel_case(iid, reason="state lost", actor="gp.admin")
    assert result["resolved_incidents"] == [incident["id"]]
    assert engine.runtime.get(iid).status == "cancelled"
    assert timer_row(engine, iid) is None
    assert engine.management.incidents(instance_id=iid) == []
    [event] = [e for e in engine.history.events(iid) if e["event_type"] == "case_cancelled"]
    assert event["data_after"]["reason"] == "state lost"
    assert engine.verify_history()["ok"]
