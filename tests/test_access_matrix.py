"""Each role against each route: who may read, who may act, and everyone else gets 403.

The case lives in the Talgar district office (ALM-TLG, under the Almaty region office ALM-OBL).
Its own office works it; the offices above read it; other offices and roles without case work
are refused — in the pages and in the API alike.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.tasks import TaskQuery
from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY, placement
from web.app import create_app
from workflows.users import UserDirectory

# who: (relation to the case, roles)
USERS = {
    "tlg.prosecutor": "own office, prosecutor",
    "tlg.head": "own office, head",
    "tlg.auditor": "own office, auditor",
    "tlg.methodologist": "own office, methodologist",
    "alm.prosecutor": "region above, prosecutor",
    "gp.auditor": "GP, auditor",
    "kar.prosecutor": "another region's district, prosecutor",
    "krg.head": "another region, head",
}
WORKERS = {"tlg.prosecutor", "tlg.head"}
READERS = WORKERS | {"tlg.auditor", "alm.prosecutor", "gp.auditor"}
STARTERS = {"tlg.prosecutor", "tlg.head", "alm.prosecutor", "kar.prosecutor", "krg.head"}
HEADS = {"tlg.head", "krg.head"}


def _expect(allowed: set[str], ok: int, login: str) -> int:
    return ok if login in allowed else 403


# (method, url template, form, expected status for a user)
PAGES: list[tuple[str, str, dict[str, Any], Any]] = [
    ("GET", "/queue/office", {}, lambda u: 200),
    ("GET", "/queue/mine", {}, lambda u: 200),
    ("GET", "/queue/overdue", {}, lambda u: 200),
    ("GET", "/queue/soon", {}, lambda u: 200),
    ("GET", "/queue/reminders", {}, lambda u: 200),
    ("GET", "/queue/team", {}, lambda u: _expect(HEADS, 200, u)),
    ("GET", "/cases/{iid}", {}, lambda u: _expect(READERS, 200, u)),
    ("GET", "/cases/{iid}/diagram.bpmn", {}, lambda u: _expect(READERS, 200, u)),
    ("GET", "/tasks/{guid}", {}, lambda u: _expect(READERS, 200, u)),
    ("POST", "/tasks/{guid}", {"action": "complete"}, lambda u: _expect(WORKERS, 422, u)),
    ("POST", "/tasks/{guid}", {"action": "draft"}, lambda u: _expect(WORKERS, 302, u)),
    ("POST", "/tasks/{guid}/claim", {}, lambda u: _expect(WORKERS, 302, u)),
    ("POST", "/tasks/{guid}/unclaim", {}, lambda u: _expect(WORKERS, 302, u)),
    (
        "POST",
        "/tasks/{guid}/delegate",
        {"assignee": "tlg.prosecutor2"},
        lambda u: _expect(WORKERS, 302, u),
    ),
    (
        "POST",
        "/tasks/reassign",
        {"assignee": "tlg.prosecutor2"},
        lambda u: _expect({"tlg.head"}, 302, u) if u != "krg.head" else 400,
    ),
    ("GET", "/start", {}, lambda u: _expect(STARTERS, 200, u)),
    ("GET", "/start/penalty_room_check", {}, lambda u: _expect(STARTERS, 200, u)),
    ("POST", "/filters", {"queue": "office", "name": "x", "q": "y"}, lambda u: 302),
]

API: list[tuple[str, str, dict[str, Any] | None, Any]] = [
    ("GET", "/api/v1/procedures", None, lambda u: 200),
    ("GET", "/api/v1/instances/{iid}", None, lambda u: _expect(READERS, 200, u)),
    ("GET", "/api/v1/instances/{iid}/history", None, lambda u: _expect(READERS, 200, u)),
    ("GET", "/api/v1/tasks/{guid}", None, lambda u: _expect(READERS, 200, u)),
    (
        "GET",
        "/api/v1/tasks?scope=visible",
        None,
        lambda u: 403 if u == "tlg.methodologist" else 200,
    ),
    ("POST", "/api/v1/tasks/{guid}/claim", {}, lambda u: _expect(WORKERS, 200, u)),
    ("POST", "/api/v1/tasks/{guid}/unclaim", {}, lambda u: _expect(WORKERS, 200, u)),
    ("POST", "/api/v1/tasks/{guid}/complete", {}, lambda u: _expect(WORKERS, 422, u)),
    (
        "POST",
        "/api/v1/procedures/penalty_room_check/instances",
        {"institution": "UK-161-2", **placement()},
        lambda u: _expect(STARTERS & READERS, 201, u),  # a case of an office in their scope
    ),
]


@pytest.fixture
def setting(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    iid = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    return app, domain_engine, iid, task.task_guid


@pytest.mark.parametrize("login", sorted(USERS))
def test_pages_answer_each_role_and_office_as_expected(setting, login: str) -> None:
    app, engine, iid, guid = setting
    client = app.test_client()
    assert sign_in(client, login).status_code == 302
    token = csrf(client.get("/queue").get_data(as_text=True))
    got, wanted = {}, {}
    for method, template, form, expected in PAGES:
        url = template.format(iid=iid, guid=guid)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, **form})
        key = f"{method} {url} {form.get('action', '')}".strip()
        got[key], wanted[key] = response.status_code, expected(login)
    assert got == wanted


@pytest.mark.parametrize("login", sorted(USERS))
def test_the_api_answers_each_role_and_office_as_expected(setting, login: str) -> None:
    app, engine, iid, guid = setting
    token = UserDirectory(engine.db).issue_token(login)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    got, wanted = {}, {}
    for method, template, body, expected in API:
        url = template.format(iid=iid, guid=guid)
        response = client.open(url, method=method, json=body, headers=headers)
        got[f"{method} {url}"], wanted[f"{method} {url}"] = response.status_code, expected(login)
    assert got == wanted


def test_anonymous_visitors_are_sent_to_sign_in_or_refused(setting) -> None:
    app, engine, iid, guid = setting
    client = app.test_client()
    for method, template, _form, _expected in PAGES:
        url = template.format(iid=iid, guid=guid)
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        else:
            assert response.status_code in (400, 302), url  # no CSRF token, or sign in first
    for method, template, body, _expected in API:
        response = client.open(template.format(iid=iid, guid=guid), method=method, json=body)
        assert response.status_code == 401
