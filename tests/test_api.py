"""The REST API as an outside system uses it: tokens, scope, the instance shape, conflicts."""

from __future__ import annotations

import pytest

from tests.conftest import BENCH_MODEL
from web.app import create_app
from workflows.users import UserDirectory

PAYLOAD = {
    "institution": "UK-161-2",
    "convict_name": "Петров",
    "remote": False,
    "placed_at": "2026-11-24T09:30:00+05:00",
}
TASK_KEYS = {"id", "name", "title", "role", "office_code", "assignee", "due_at", "state"}


@pytest.fixture
def api(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(BENCH_MODEL, now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    client = app.test_client()
    users = UserDirectory(domain_engine.db)
    tokens: dict[str, str] = {}

    def call(method: str, path: str, login: str | None = None, headers=None, **kwargs):  # type: ignore[no-untyped-def]
        headers = dict(headers or {})
        if login:
            if login not in tokens:
                tokens[login] = users.issue_token(login)
            headers["Authorization"] = f"Bearer {tokens[login]}"
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def start(api) -> dict:  # type: ignore[no-untyped-def]
    response = api(
        "POST", "/procedures/bench_penalty_check/instances", "tlg.prosecutor", json=PAYLOAD
    )
    assert response.status_code == 201, response.json
    return response.json


def test_no_token_is_401_with_the_error_shape(api) -> None:
    response = api("GET", "/procedures")
    assert response.status_code == 401
    assert set(response.json) == {"error", "detail", "fields"}
    assert api("GET", "/procedures", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_start_returns_the_instance_shape_with_its_open_task(api) -> None:
    instance = start(api)
    assert {"id", "procedure", "version", "status", "data", "tasks"} <= set(instance)
    assert instance["procedure"] == "bench_penalty_check" and instance["status"] == "running"
    [task] = instance["tasks"]
    assert set(task) >= TASK_KEYS
    assert (task["role"], task["office_code"]) == ("prosecutor", "ALM-TLG")
    assert task["due_at"] == "2026-11-25T04:30:00+00:00"
    assert instance["data"]["convict_name"] == "Петров"


@pytest.mark.parametrize(
    ("login", "status"),
    [
        ("tlg.prosecutor", 200),
        ("alm.prosecutor", 200),
        ("gp.auditor", 200),
        ("kar.prosecutor", 404),  # outside the scope: as if missing (ids cannot be probed)
        ("krg.head", 404),
        ("gp.methodologist", 403),  # no reading role at all
    ],
)
def test_a_case_is_visible_to_its_office_the_offices_above_and_auditors(api, login, status) -> None:
    instance = start(api)
    assert api("GET", f"/instances/{instance['id']}", login).status_code == status


def test_queues_by_scope(api) -> None:
    instance = start(api)
    task_id = instance["tasks"][0]["id"]
    office = api("GET", "/tasks?scope=office", "tlg.prosecutor").json
    assert [t["id"] for t in office] == [task_id]
    assert api("GET", "/tasks?scope=office", "kar.prosecutor").json == []
    assert [t["id"] for t in api("GET", "/tasks?scope=visible", "alm.prosecutor").json] == [task_id]
    assert api("GET", "/tasks?scope=mine", "tlg.prosecutor").json == []
    api("POST", f"/tasks/{task_id}/claim", "tlg.prosecutor")
    assert [t["id"] for t in api("GET", "/tasks?scope=mine", "tlg.prosecutor").json] == [task_id]
    assert api("GET", "/tasks?scope=everything", "tlg.prosecutor").status_code == 400


def test_only_the_tasks_office_may_act_on_it(api) -> None:
    task_id = start(api)["tasks"][0]["id"]
    assert api("POST", f"/tasks/{task_id}/claim", "kar.prosecutor").status_code == 404
    assert api("POST", f"/tasks/{task_id}/claim", "alm.prosecutor").status_code == 403
    response = api(
        "POST", f"/tasks/{task_id}/delegate", "tlg.prosecutor", json={"to": "kar.prosecutor"}
    )
    assert response.status_code == 422 and "to" in response.json["fields"]
    response = api(
        "POST", f"/tasks/{task_id}/delegate", "tlg.prosecutor", json={"to": "tlg.prosecutor2"}
    )
    assert response.json["assignee"] == "tlg.prosecutor2"


def test_a_second_completion_is_409_and_changes_nothing(api) -> None:
    instance = start(api)
    task_id = instance["tasks"][0]["id"]
    data = {"placement_lawful": True, "conditions_lawful": True, "findings": "ok"}
    done = api("POST", f"/tasks/{task_id}/complete", "tlg.prosecutor", json={"data": data})
    assert done.status_code == 200 and done.json["status"] == "completed"
    again = api(
        "POST",
        f"/tasks/{task_id}/complete",
        "tlg.prosecutor2",
        json={"data": {"placement_lawful": False}},
    )
    assert again.status_code == 409 and "tlg.prosecutor" in again.json["detail"]
    after = api("GET", f"/instances/{instance['id']}", "tlg.prosecutor").json
    assert after["data"]["placement_lawful"] is True
    history = api("GET", f"/instances/{instance['id']}/history", "gp.auditor").json
    assert [e["event_type"] for e in history].count("task_completed") == 1


def test_a_message_nobody_waits_for_is_404(api) -> None:
    response = api(
        "POST",
        "/messages",
        "tlg.prosecutor",
        json={"name": "addressee_answer", "correlation": {"case_id": 1}, "data": {}},
    )
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_the_openapi_document_matches_the_routes(api, domain_engine) -> None:
    import re

    doc = api("GET", "/openapi.json").json
    assert doc["openapi"].startswith("3.")
    app = create_app({"NADZOR_ENGINE": domain_engine})
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1") :])
            path = path.replace("{process_id}", "{procedure_id}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                served.add((path, method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented


def test_a_message_reaches_only_cases_in_the_senders_scope(api, domain_engine, clock) -> None:
    from tests.conftest import FIXTURES

    domain_engine.repository.publish(
        FIXTURES / "engine" / "service" / "service.bpmn", now=clock.now()
    )
    domain_engine.services.register("register_case", lambda params, data: {"number": "1"})
    iid = domain_engine.runtime.start(
        "service_step", {"case_ref": "C-7", "institution": "UK-161-2"}, actor="tlg.prosecutor"
    )
    body = {
        "name": "addressee_answer",
        "correlation": {"case_ref": "C-7"},
        "data": {"result": "satisfied"},
    }
    assert api("POST", "/messages", "kar.prosecutor", json=body).status_code == 404
    delivered = api("POST", "/messages", "tlg.prosecutor", json=body)
    assert delivered.status_code == 200 and delivered.json == {"delivered": [iid]}
