"""Route × role: nothing an auditor can do writes to a case, and an auditor reads every case
route within their scope.

The routes are not listed by hand: every rule of the Flask app's URL map is taken, so a route
added later is checked too. Each write rule (POST, PUT, PATCH, DELETE; pages with the form's CSRF
token, the API with a bearer token) is tried by the district auditor on a case of their office
and on a case of another district: the answer must be 403 (their scope) or 404 (out of it),
and the case must be exactly as before (its history chain, revision and task rows). A few write
routes change no case and are open to everyone signed in; they are named in NOT_CASE_WRITES
with the reason. Every read rule (GET) answers the auditor 200 on the case of their office,
except the pages for other roles named in OTHER_ROLES_PAGES.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from engine.tasks import TaskQuery
from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY, placement
from web.app import create_app
from workflows.users import UserDirectory

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

#: write routes that change no case (rule -> why an auditor may use them)
NOT_CASE_WRITES = {
    "/login": "signing in",
    "/logout": "signing out",
    "/language": "the user's own language",
    "/filters": "the user's own saved queue filters",
    "/filters/<id:filter_id>/delete": "the user's own saved queue filters",
    "/audit/verification": "runs the verification; writes only its result",
    # an office's setting, no case; its rule refuses auditors (tests/test_report_term.py)
    "/api/v1/offices/<office_code>/report-term": "a regional office's term for its districts",
}
#: read routes for other roles: the auditor is refused (rule -> expected status)
OTHER_ROLES_PAGES = {
    "/queue/team": 403,  # heads: their team's tasks
    "/overview": 403,  # heads: the overview of deadlines
    "/start": 403,  # prosecutors and heads open cases
    "/start/<procedure:process_id>": 403,
    # methodologists and admins: failed cases (tests/test_incidents_ops.py)
    "/operations/incidents": 403,
    "/api/v1/incidents": 403,
    # methodologists and admins: drafts of procedure models (tests/test_drafts.py)
    "/procedures/drafts/": 403,
    "/procedures/drafts/<id:draft_id>": 403,
    "/procedures/drafts/<id:draft_id>/files": 403,
    # methodologists and admins: the procedures' versions (tests/test_procedures_pages.py)
    "/procedures/": 403,
    "/procedures/<procedure:process_id>": 403,
    "/procedures/<procedure:process_id>/v<int:version>": 403,
    "/procedures/<procedure:process_id>/v<int:version>/download": 403,
    "/procedures/<procedure:process_id>/diff": 403,
    # methodologists and admins: moving running cases (tests/test_case_migration.py)
    "/procedures/<procedure:process_id>/migrate": 403,
}
#: values for arguments of the rules that are not ids (the task page's actions, queues)
CHOICES = {
    "action": ["claim", "unclaim", "delegate"],
    "queue": ["office", "mine"],
    "version": [1],  # a procedure's version (drafts, procedures pages)
}
#: what a write sends, so that a route that let the auditor through would change something
FORM = {
    "action": "complete",
    "assignee": "tlg.prosecutor2",
    "to": "tlg.prosecutor2",
    "task": "{guid}",
    "placement_lawful": "on",
    "conditions_lawful": "on",
    "findings": "auditor was here",
    **{k: str(v) for k, v in placement().items()},
}
JSON = {
    "to": "tlg.prosecutor2",
    "tasks": ["{guid}"],
    "data": {"placement_lawful": True, "conditions_lawful": True, "findings": "auditor"},
    "name": "any",
    "correlation": {"case_id": "{iid}"},
    **placement(),
}


@pytest.fixture
def world(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    mine = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    other = domain_engine.runtime.start(
        "penalty_room_check", placement(institution="SIZO-ALM"), actor="knv.prosecutor"
    )
    assert domain_engine.runtime.get(other).office_code == "ALM-KNV"
    client = app.test_client()
    assert sign_in(client, "tlg.auditor").status_code == 302
    token = UserDirectory(domain_engine.db).issue_token("tlg.auditor")
    return {
        "engine": domain_engine,
        "app": app,
        "client": client,
        "token": token,
        "cases": {"mine": mine, "other": other},
    }


def _guid(engine, iid: int) -> str:  # type: ignore[no-untyped-def]
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    return task.task_guid


def urls(rule: Any, iid: int, guid: str) -> list[str] | None:
    """Addresses for a rule on one case (None: an argument this test cannot fill)."""
    built: list[dict[str, Any]] = [{}]
    for arg in rule.arguments:
        converter = type(rule._converters[arg]).__name__
        if converter == "CaseNumber":
            values: list[Any] = [iid]
        elif converter == "TaskId":
            values = [guid]
        elif converter == "ProcedureId":
            values = ["penalty_room_check"]
        elif converter == "RowId":
            values = [1]
        elif arg in CHOICES:
            values = CHOICES[arg]
        else:
            return None
        built = [{**b, arg: v} for b in built for v in values]
    out = []
    for args in built:
        url = rule.rule
        for name, value in args.items():
            url = re.sub(rf"<(?:[^:>]+:)?{name}>", str(value), url)
        out.append(url)
    return out


def _fill(value: Any, iid: int, guid: str) -> Any:
    if isinstance(value, str):
        return value.format(iid=iid, guid=guid)
    if isinstance(value, list):
        return [_fill(v, iid, guid) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, iid, guid) for k, v in value.items()}
    return value


def case_state(engine, iid: int) -> tuple:  # type: ignore[no-untyped-def]
    """What a write would change: the case's chain head, revision, status and task rows."""
    i, t = ProcessInstance.__table__.c, HumanTask.__table__
    with engine.db.read() as conn:
        case = conn.execute(
            select(i.audit_seq, i.audit_head, i.revision, i.status).where(i.id == iid)
        ).one()
        tasks = conn.execute(
            select(t.c.task_guid, t.c.state, t.c.assignee, t.c.completed_by)
            .where(t.c.instance_id == iid)
            .order_by(t.c.id)
        ).all()
    return tuple(case), tuple(tuple(r) for r in tasks)


def write_rules(app):  # type: ignore[no-untyped-def]
    return [
        r for r in app.url_map.iter_rules() if r.methods & WRITE_METHODS and r.endpoint != "static"
    ]


#: auditors and whether the other district's case is within their scope
AUDITORS = {"tlg.auditor": False, "alm.auditor": True, "gp.auditor": True}


def test_every_write_route_refuses_the_auditor_and_leaves_the_case_as_it_was(world) -> None:
    engine, app = world["engine"], world["app"]
    rules = write_rules(app)
    assert {r.rule for r in rules} >= {
        "/tasks/<task:task_id>/<action>",
        "/api/v1/tasks/<task:task_id>/complete",
        "/api/v1/messages",
    }
    tried, answers = 0, {}
    for login, sees_other in AUDITORS.items():
        client = app.test_client()
        assert sign_in(client, login).status_code == 302
        token = csrf(client.get("/queue").get_data(as_text=True))
        bearer = UserDirectory(engine.db).issue_token(login)
        for where in ("mine", "other"):
            expected = {403} if where == "mine" or sees_other else {403, 404}
            iid = world["cases"][where]
            guid = _guid(engine, iid)
            before = case_state(engine, iid)
            for rule in rules:
                if rule.rule in NOT_CASE_WRITES:
                    continue
                found = urls(rule, iid, guid)
                assert found is not None, f"{rule.rule}: add its arguments to this test"
                for url in found:
                    for method in sorted(rule.methods & WRITE_METHODS):
                        if url.startswith("/api/"):
                            response = app.test_client().open(
                                url,
                                method=method,
                                json=_fill(JSON, iid, guid),
                                headers={"Authorization": f"Bearer {bearer}"},
                            )
                        else:
                            data = {"csrf_token": token, **_fill(FORM, iid, guid)}
                            response = client.open(url, method=method, data=data)
                        tried += 1
                        answers[f"{login} {where} {method} {url}"] = response.status_code
                        assert response.status_code in expected, (
                            login,
                            where,
                            method,
                            url,
                            response.status_code,
                        )
            assert case_state(engine, iid) == before, (login, where)
    assert tried >= len(AUDITORS) * 2 * 12, answers


def test_the_auditor_reads_every_case_route_within_scope(world) -> None:
    engine, app, client = world["engine"], world["app"], world["client"]
    iid = world["cases"]["mine"]
    guid = _guid(engine, iid)
    before = case_state(engine, iid)
    checked = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        found = urls(rule, iid, guid)
        if found is None:  # an id of something this test does not make (e.g. an attachment)
            continue
        for url in found:
            if url.startswith("/api/"):
                response = app.test_client().get(
                    url, headers={"Authorization": f"Bearer {world['token']}"}
                )
            else:
                response = client.get(url)
            expected = OTHER_ROLES_PAGES.get(rule.rule, 200)
            if rule.rule == "/":
                expected = 302  # sent on to their landing page
            assert response.status_code == expected, (url, response.status_code)
            checked.add(rule.rule)
    assert {
        "/cases/<case:instance_id>",
        "/cases/<case:instance_id>/diagram.bpmn",
        "/tasks/<task:task_id>",
        "/api/v1/instances/<case:instance_id>/history",
        "/audit/cases/<case:instance_id>",
        "/audit/cases/<case:instance_id>/export.json",
        "/audit/verification",
    } <= checked
    assert case_state(engine, iid) == before


def test_the_auditor_may_run_the_verification_and_it_changes_no_case(world) -> None:
    engine, client = world["engine"], world["client"]
    iid = world["cases"]["mine"]
    before = case_state(engine, iid)
    token = csrf(client.get("/audit/verification").get_data(as_text=True))
    answer = client.post("/audit/verification", data={"csrf_token": token})
    assert answer.status_code == 302
    assert case_state(engine, iid) == before
    prosecutor = world["app"].test_client()
    sign_in(prosecutor, "tlg.prosecutor")
    assert prosecutor.get("/audit/verification").status_code == 403
