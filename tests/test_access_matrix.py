"""Every action × every kind of user, through the page and through the API side by side.

The case lives in the Talgar district office (ALM-TLG, under the Almaty region office ALM-OBL);
its first task is for a prosecutor of ALM-TLG. Each row of the table is one action; for each user
of the demo organization the page and the API must give the same answer, and that answer must be
the one the rules (workflows/rights.py) call for:

- ``ok``: done (2xx, or a page's redirect without an error message);
- ``403``: seen but not allowed;
- ``404``: outside the user's scope, answered exactly as a missing case or task;
- ``refused``: allowed to try, but the request itself was refused (409 / 422, or the page
  went back with an error message).

The data is built once for the module on SQLite (the rules do not depend on the backend; the
point-5 regressions in tests/test_rights.py run on both); before each call the task is put back
in the state the row needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from engine.clock import FakeClock
from engine.config import Settings
from engine.models import HumanTask
from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR
from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY, placement
from web.app import create_app
from workflows.demo import seed_organization
from workflows.migrate import upgrade as domain_upgrade
from workflows.runtime import build_engine
from workflows.users import UserDirectory

#: login -> who it is, relative to the case (ALM-TLG)
USERS = {
    "tlg.prosecutor": "district prosecutor of the case's office (holds the task)",
    "tlg.prosecutor2": "a colleague in the same office",
    "tlg.head": "the district head",
    "tlg.auditor": "an auditor of the district",
    "tlg.methodologist": "a methodologist of the district",
    "knv.prosecutor": "prosecutor of another district of the same region",
    "knv.head": "head of another district of the same region",
    "kar.prosecutor": "prosecutor of a district of another region",
    "alm.prosecutor": "regional prosecutor above the case",
    "alm.head": "regional head above the case",
    "gp.prosecutor": "a prosecutor of the General Prosecutor's Office",
    "gp.auditor": "an auditor of the General Prosecutor's Office",
    "gp.admin": "the administrator",
}
HOLDER = "tlg.prosecutor"  # who has claimed the task where the row says "claimed"
WORKERS = {"tlg.prosecutor", "tlg.prosecutor2", "tlg.head"}
READERS = WORKERS | {"tlg.auditor", "alm.prosecutor", "alm.head", "gp.prosecutor", "gp.auditor"}
OUT_OF_SCOPE = {"knv.prosecutor", "knv.head", "kar.prosecutor"}
NO_CASE_ROLE = {"tlg.methodologist", "gp.admin"}
STARTERS = WORKERS | {"alm.prosecutor", "alm.head", "gp.prosecutor"}  # UK-161-2 in their scope


def reading(login: str) -> str:
    if login in NO_CASE_ROLE:
        return "403"
    return "404" if login in OUT_OF_SCOPE else "ok"


def working(login: str, allowed: set[str] = WORKERS, ok: str = "ok") -> str:
    seen = reading(login)
    if seen != "ok":
        return seen
    return ok if login in allowed else "403"


def reassigning(login: str) -> str:
    if login == "tlg.head":
        return "ok"
    if login == "knv.head":
        return "404"  # another district's head: the task is outside their scope
    return "403"  # not a head, or a head of another office (alm.head)


@dataclass
class Row:
    """One action: the task's state before it, the page's request, the API's, the answer."""

    claimed: bool
    page: tuple[str, str, dict[str, Any]]
    api: tuple[str, str, dict[str, Any] | None]
    expected: Any


ROWS: dict[str, Row] = {
    "read task": Row(
        True, ("GET", "/tasks/{guid}", {}), ("GET", "/api/v1/tasks/{guid}", None), reading
    ),
    "claim": Row(
        False,
        ("POST", "/tasks/{guid}/claim", {}),
        ("POST", "/api/v1/tasks/{guid}/claim", {}),
        working,
    ),
    "unclaim (claimed by tlg.prosecutor)": Row(
        True,
        ("POST", "/tasks/{guid}/unclaim", {}),
        ("POST", "/api/v1/tasks/{guid}/unclaim", {}),
        lambda u: working(u, {HOLDER, "tlg.head"}),
    ),
    "delegate (claimed by tlg.prosecutor)": Row(
        True,
        ("POST", "/tasks/{guid}/delegate", {"assignee": "tlg.prosecutor2"}),
        ("POST", "/api/v1/tasks/{guid}/delegate", {"to": "tlg.prosecutor2"}),
        lambda u: working(u, {HOLDER, "tlg.head"}),
    ),
    "delegate to an auditor": Row(
        False,
        ("POST", "/tasks/{guid}/delegate", {"assignee": "tlg.auditor"}),
        ("POST", "/api/v1/tasks/{guid}/delegate", {"to": "tlg.auditor"}),
        lambda u: working(u, ok="refused"),
    ),
    "complete (a required field missing)": Row(
        False,
        ("POST", "/tasks/{guid}", {"action": "complete"}),
        ("POST", "/api/v1/tasks/{guid}/complete", {"data": {}}),
        lambda u: working(u, ok="refused"),
    ),
    "read case": Row(
        True, ("GET", "/cases/{iid}", {}), ("GET", "/api/v1/instances/{iid}", None), reading
    ),
    "history": Row(
        True,
        ("GET", "/cases/{iid}", {}),  # the case page shows the history
        ("GET", "/api/v1/instances/{iid}/history", None),
        reading,
    ),
    "diagram": Row(
        True,
        ("GET", "/cases/{iid}/diagram.bpmn", {}),
        ("GET", "/api/v1/instances/{iid}", None),
        reading,
    ),
    "start a case of UK-161-2": Row(
        False,
        ("POST", "/start/penalty_room_check", {}),  # the form: see START_FORM
        ("POST", "/api/v1/procedures/penalty_room_check/instances", placement()),
        lambda u: "ok" if u in STARTERS else "403",
    ),
    "reassign in bulk (claimed by tlg.prosecutor)": Row(
        True,
        ("POST", "/tasks/reassign", {"task": "{guid}", "assignee": "tlg.prosecutor2"}),
        ("POST", "/api/v1/tasks/reassign", {"tasks": ["{guid}"], "to": "tlg.prosecutor2"}),
        reassigning,
    ),
}

START_FORM = {
    "institution": "UK-161-2",
    "convict_name": "Нуров Асхат",
    "placed_at": "2026-11-24T09:30",
    "resolution_number": "12",
    "resolution_date": "2026-11-24",
    "grounds": "Нарушение режима",
    "duration_days": "7",
}


@dataclass
class World:
    engine: Any
    app: Any
    iid: int
    guid: str
    pages: dict[str, Any]  # login -> signed-in test client
    csrf: dict[str, str]
    tokens: dict[str, str]

    def put(self, assignee: str | None) -> None:
        """Put the task back: open, held by `assignee` (or nobody)."""
        table = HumanTask.__table__
        with self.engine.db.write() as conn:
            conn.execute(
                update(table).where(table.c.task_guid == self.guid).values(assignee=assignee)
            )
        assert self.engine.tasks.get(self.guid).state == "ready"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'nadzor.db'}"
    domain_upgrade(url)
    clock = FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    settings = Settings(database_url=url, secret_key="test", bpmn_dir=BPMN_DIR)
    engine = build_engine(settings, clock=clock)
    seed_organization(engine)
    engine.repository.publish(PENALTY, now=clock.now())
    app = create_app({"NADZOR_ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    iid = engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    users = UserDirectory(engine.db)
    pages, tokens, csrfs = {}, {}, {}
    for login in USERS:
        client = app.test_client()
        assert sign_in(client, login).status_code == 302, login
        csrfs[login] = csrf(client.get("/login").get_data(as_text=True))
        pages[login], tokens[login] = client, users.issue_token(login)
    yield World(engine, app, iid, task.task_guid, pages, csrfs, tokens)
    engine.db.dispose()


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str):
        return value.format(iid=world.iid, guid=world.guid)
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _class(status: int, error_said: bool = False) -> str:
    if status in (403, 404):
        return str(status)
    if status in (409, 422) or (status < 400 and error_said):
        return "refused"
    return "ok" if status < 400 else str(status)


def page_answer(world: World, login: str, row: Row) -> str:
    method, url, form = row.page
    client = world.pages[login]
    url = _fill(url, world)
    if method == "GET":
        response = client.get(url)
    else:
        data = START_FORM if url.startswith("/start/") else _fill(form, world)
        response = client.post(url, data={"csrf_token": world.csrf[login], **data})
    with client.session_transaction() as session:
        flashes = session.pop("_flashes", [])
    return _class(response.status_code, any(kind == "error" for kind, _ in flashes))


def api_answer(world: World, login: str, row: Row) -> str:
    method, url, body = row.api
    response = world.app.test_client().open(
        _fill(url, world),
        method=method,
        json=_fill(body, world),
        headers={"Authorization": f"Bearer {world.tokens[login]}"},
    )
    return _class(response.status_code)


@pytest.mark.parametrize("action", list(ROWS))
def test_the_page_and_the_api_answer_every_user_alike(world: World, action: str) -> None:
    row = ROWS[action]
    got, wanted = {}, {}
    for login in USERS:
        world.put(HOLDER if row.claimed else None)
        page = page_answer(world, login, row)
        world.put(HOLDER if row.claimed else None)
        api = api_answer(world, login, row)
        got[login] = {"page": page, "api": api}
        wanted[login] = {"page": row.expected(login), "api": row.expected(login)}
    assert got == wanted


# Pages without an API counterpart: the queues and drafts.
PAGE_ONLY: list[tuple[str, str, dict[str, Any], Any]] = [
    ("GET", "/queue/office", {}, lambda u: "ok"),
    ("GET", "/queue/mine", {}, lambda u: "ok"),
    ("GET", "/queue/team", {}, lambda u: "ok" if u.endswith(".head") else "403"),
    ("POST", "/tasks/{guid}", {"action": "draft"}, working),
    (
        "GET",
        "/start",
        {},
        lambda u: "ok" if u.rsplit(".", 1)[1].startswith(("pros", "head")) else "403",
    ),
]


def test_pages_without_an_api_counterpart_answer_by_the_same_rules(world: World) -> None:
    got, wanted = {}, {}
    world.put(None)
    for login in USERS:
        for method, url, form, expected in PAGE_ONLY:
            row = Row(False, (method, url, form), ("GET", "", None), expected)
            key = f"{login} {method} {url} {form.get('action', '')}".strip()
            got[key], wanted[key] = page_answer(world, login, row), expected(login)
    assert got == wanted


def test_anonymous_visitors_are_sent_to_sign_in_or_refused(world: World) -> None:
    client = world.app.test_client()
    for row in ROWS.values():
        method, url, _form = row.page
        response = client.open(_fill(url, world), method=method)
        if method == "GET":
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        else:
            assert response.status_code in (400, 302), url  # no CSRF token, or sign in first
        method, url, body = row.api
        response = client.open(_fill(url, world), method=method, json=_fill(body, world))
        assert response.status_code == 401, url
