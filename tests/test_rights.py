"""Same rights through every door (issue 8, point 5 and the probing part of point 7).

Each test here failed before workflows/rights.py: the API let a colleague release or hand over a
task someone else had claimed, and hand it to an auditor or a methodologist (who can never act on
it); bulk reassignment committed the tasks before the forbidden one; another office's case
answered 403 where a missing one answered 404. They run on both backends.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.errors import InvalidOperation
from engine.history import SYSTEM_CHAIN, events_table
from engine.models import HumanTask
from engine.tasks import TaskQuery
from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY, placement
from web.app import create_app
from workflows.rights import Refusal, gravest
from workflows.users import UserDirectory


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True, "SECRET_KEY": "test"})


def open_check(engine: Any, institution: str = "UK-161-2", name: str = "Петров Иван") -> str:
    iid = engine.runtime.start(
        "penalty_room_check", placement(name, institution), actor="tlg.prosecutor"
    )
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    return task.task_guid


@pytest.fixture
def api(app, domain_engine):  # type: ignore[no-untyped-def]
    users = UserDirectory(domain_engine.db)
    tokens: dict[str, str] = {}

    def call(method: str, path: str, login: str, body: Any = None) -> Any:
        if login not in tokens:
            tokens[login] = users.issue_token(login)
        return app.test_client().open(
            f"/api/v1{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {tokens[login]}"},
        )

    return call


def page_of(app: Any, login: str) -> tuple[Any, str]:
    client = app.test_client()
    assert sign_in(client, login).status_code == 302
    return client, csrf(client.get("/queue").get_data(as_text=True))


def denials(engine: Any) -> list[tuple[str, str]]:
    with engine.db.read() as conn:
        rows = conn.execute(
            select(events_table.c.actor, events_table.c.data_after).where(
                events_table.c.chain == SYSTEM_CHAIN,
                events_table.c.event_type == "access_denied",
            )
        ).all()
    return [(r.actor, r.data_after["path"]) for r in rows]


# -- a task claimed by someone else --------------------------------------------------------------


def test_the_api_does_not_let_a_colleague_release_or_hand_over_anothers_task(
    api, domain_engine
) -> None:
    guid = open_check(domain_engine)
    assert api("POST", f"/tasks/{guid}/claim", "tlg.prosecutor").status_code == 200

    released = api("POST", f"/tasks/{guid}/unclaim", "tlg.prosecutor2")
    assert released.status_code == 403
    assert "claimed by tlg.prosecutor" in released.json["detail"]
    taken = api("POST", f"/tasks/{guid}/delegate", "tlg.prosecutor2", {"to": "tlg.prosecutor2"})
    assert taken.status_code == 403
    assert domain_engine.tasks.get(guid).assignee == "tlg.prosecutor"

    # the head of the office may take it back, as on the page
    assert api("POST", f"/tasks/{guid}/unclaim", "tlg.head").json["assignee"] is None


def test_the_page_refuses_the_same(app, domain_engine) -> None:
    guid = open_check(domain_engine)
    domain_engine.tasks.claim(guid, actor="tlg.prosecutor")
    colleague, token = page_of(app, "tlg.prosecutor2")
    shown = colleague.get(f"/tasks/{guid}").get_data(as_text=True)
    assert "/unclaim" not in shown and 'id="delegate"' not in shown  # no buttons that fail
    for action, form in (("unclaim", {}), ("delegate", {"assignee": "tlg.prosecutor2"})):
        response = colleague.post(f"/tasks/{guid}/{action}", data={"csrf_token": token, **form})
        assert response.status_code == 403, action
    assert domain_engine.tasks.get(guid).assignee == "tlg.prosecutor"


# -- whom a task may be handed to --------------------------------------------------------------


@pytest.mark.parametrize(
    "to", ["tlg.auditor", "tlg.methodologist", "knv.prosecutor", "gp.admin", "nobody", ""]
)
def test_a_task_is_handed_only_to_someone_who_could_do_it(api, app, domain_engine, to) -> None:
    guid = open_check(domain_engine)
    response = api("POST", f"/tasks/{guid}/delegate", "tlg.prosecutor", {"to": to})
    assert response.status_code == 422 and "to" in response.json["fields"]

    client, token = page_of(app, "tlg.prosecutor")
    response = client.post(f"/tasks/{guid}/delegate", data={"csrf_token": token, "assignee": to})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert [kind for kind, _ in session.get("_flashes", [])] == ["error"]
    assert domain_engine.tasks.get(guid).assignee is None  # not stuck with someone who cannot


def test_a_head_of_the_office_may_be_handed_a_task(api, domain_engine) -> None:
    guid = open_check(domain_engine)
    response = api("POST", f"/tasks/{guid}/delegate", "tlg.prosecutor", {"to": "tlg.head"})
    assert response.status_code == 200 and response.json["assignee"] == "tlg.head"


def test_the_task_page_offers_only_colleagues_who_could_do_it(app, domain_engine) -> None:
    guid = open_check(domain_engine)
    client, _ = page_of(app, "tlg.prosecutor")
    form = client.get(f"/tasks/{guid}").text.split('id="delegate"', 1)[1].split("</form>")[0]
    offered = set(re.findall(r'<option value="([^"]+)"', form))
    assert offered == {"tlg.prosecutor2", "tlg.head"}


# -- bulk reassignment: all or nothing ---------------------------------------------------------


def test_bulk_reassignment_with_one_task_out_of_reach_reassigns_nothing(
    api, app, domain_engine
) -> None:
    ours = [open_check(domain_engine, name=f"Осуждённый {n}") for n in range(2)]
    theirs = open_check(domain_engine, institution="SIZO-ALM")  # Konayev's task
    batch = [*ours, theirs]  # the foreign one last: the old loop had committed the others

    head, token = page_of(app, "tlg.head")
    response = head.post(
        "/tasks/reassign",
        data={"csrf_token": token, "assignee": "tlg.prosecutor2", "task": batch},
    )
    assert [domain_engine.tasks.get(g).assignee for g in batch] == [None, None, None]
    assert response.status_code == 404  # as if the foreign task did not exist
    assert theirs in response.text and "Ничего не переназначено" in response.text

    response = api("POST", "/tasks/reassign", "tlg.head", {"tasks": batch, "to": "tlg.prosecutor2"})
    assert response.status_code == 404 and list(response.json["fields"]) == [theirs]
    assert "nothing was reassigned" in response.json["detail"]
    assert [domain_engine.tasks.get(g).assignee for g in batch] == [None, None, None]

    response = api("POST", "/tasks/reassign", "tlg.head", {"tasks": ours, "to": "tlg.prosecutor2"})
    assert response.status_code == 200
    assert [t["assignee"] for t in response.json["reassigned"]] == ["tlg.prosecutor2"] * 2


def test_bulk_reassignment_to_someone_who_cannot_act_reassigns_nothing(
    api, app, domain_engine
) -> None:
    batch = [open_check(domain_engine, name=f"Осуждённый {n}") for n in range(2)]
    head, token = page_of(app, "tlg.head")
    response = head.post(
        "/tasks/reassign", data={"csrf_token": token, "assignee": "tlg.auditor", "task": batch}
    )
    assert response.status_code == 422
    response = api("POST", "/tasks/reassign", "tlg.head", {"tasks": batch, "to": "tlg.auditor"})
    assert response.status_code == 422 and set(response.json["fields"]) == set(batch)
    assert [domain_engine.tasks.get(g).assignee for g in batch] == [None, None]


def test_a_regional_head_does_not_reassign_a_districts_tasks(api, domain_engine) -> None:
    guid = open_check(domain_engine)
    response = api("POST", "/tasks/reassign", "alm.head", {"tasks": [guid], "to": "alm.prosecutor"})
    assert response.status_code == 403 and domain_engine.tasks.get(guid).assignee is None


def test_reassign_many_rolls_back_every_task_when_one_is_no_longer_open(app, domain_engine) -> None:
    first, second = (open_check(domain_engine, name=f"Осуждённый {n}") for n in range(2))
    table = HumanTask.__table__
    with domain_engine.db.write() as conn:  # closed after the check, before the batch ran
        conn.execute(update(table).where(table.c.task_guid == second).values(state="cancelled"))
    with pytest.raises(InvalidOperation):
        domain_engine.tasks.reassign_many([first, second], "tlg.prosecutor2", actor="tlg.head")
    assert domain_engine.tasks.get(first).assignee is None
    iid = domain_engine.tasks.get(first).instance_id
    assert "task_delegated" not in [e["event_type"] for e in domain_engine.history.events(iid)]


# -- outside the scope is the same 404 as missing ----------------------------------------------


def test_another_offices_case_and_task_answer_as_missing_ones_and_are_recorded(
    api, app, domain_engine
) -> None:
    guid = open_check(domain_engine)
    iid = domain_engine.tasks.get(guid).instance_id
    missing_case, missing_task = iid + 1000, str(uuid.uuid4())

    def plain(response: Any, ident: Any) -> str:
        """The answer with the id asked for taken out (a missing id is not another case's)."""
        assert response.status_code == 404
        where = rf"(?:(?<=/)|(?<=case )|(?<=task )){re.escape(str(ident))}(?![\w.])"
        return re.sub(where, "ID", response.get_data(as_text=True))

    client, _ = page_of(app, "kar.prosecutor")
    for ours, none in ((iid, missing_case), (guid, missing_task)):
        kind = "cases" if isinstance(ours, int) else "tasks"
        assert plain(client.get(f"/{kind}/{ours}"), ours) == plain(
            client.get(f"/{kind}/{none}"), none
        )
    for method, path in (
        ("GET", "/instances/{}"),
        ("GET", "/instances/{}/history"),
        ("GET", "/tasks/{}"),
        ("POST", "/tasks/{}/claim"),
        ("POST", "/tasks/{}/delegate"),
    ):
        ours, none = (iid, missing_case) if "instances" in path else (guid, missing_task)
        body = {"to": "kar.prosecutor"} if path.endswith("delegate") else None
        theirs = api(method, path.format(ours), "kar.prosecutor", body)
        missing = api(method, path.format(none), "kar.prosecutor", body)
        assert plain(theirs, ours) == plain(missing, none), path
        assert theirs.json["error"] == "not_found"

    # the probes into another office are recorded as denials; the missing ids are not
    recorded = denials(domain_engine)
    assert ("kar.prosecutor", f"/cases/{iid}") in recorded
    assert ("kar.prosecutor", f"/api/v1/tasks/{guid}/claim") in recorded
    assert not [path for _, path in recorded if str(missing_case) in path or missing_task in path]
    assert domain_engine.verify_history()["ok"] is True


def test_starting_a_case_for_another_offices_institution_is_refused_alike(api, app) -> None:
    response = api(
        "POST", "/procedures/penalty_room_check/instances", "kar.prosecutor", placement()
    )
    assert response.status_code == 403 and "outside your office's scope" in response.json["detail"]
    client, token = page_of(app, "kar.prosecutor")
    response = client.post(
        "/start/penalty_room_check", data={"csrf_token": token, "institution": "UK-161-2"}
    )
    assert response.status_code == 403


# -- the rules themselves ------------------------------------------------------------------------


def test_a_refused_batch_answers_with_its_gravest_reason() -> None:
    def r(kind: Any) -> Refusal:
        return Refusal(kind, kind, kind)

    assert gravest([r("invalid"), r("conflict"), r("hidden")]).status == 404
    assert gravest([r("invalid"), r("forbidden"), r("hidden")]).status == 403
    assert gravest([]) is None
