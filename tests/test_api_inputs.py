"""Bad input on the REST API's ids, queue parameters and messages (issue 8, point 7).

Each of these used to answer 500 (or, worse, did what it was not asked: `?limit=-1` read every
row). Now each gets a 4xx with a clear message, the error shape, and writes nothing. Both
backends: NUL bytes and huge numbers break PostgreSQL and SQLite in different places.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import BENCH_MODEL, FIXTURES
from web.app import create_app
from workflows.users import UserDirectory

PAYLOAD = {
    "institution": "UK-161-2",
    "convict_name": "Петров",
    "remote": False,
    "placed_at": "2026-11-24T09:30:00+05:00",
}


class Api:
    """A test client speaking as one user of the demo organization."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.client = create_app({"NADZOR_ENGINE": engine, "TESTING": True}).test_client()
        self.users = UserDirectory(engine.db)
        self.tokens: dict[str, str] = {}

    def __call__(self, method: str, path: str, login: str = "tlg.prosecutor", **kwargs: Any):  # type: ignore[no-untyped-def]
        if login not in self.tokens:
            self.tokens[login] = self.users.issue_token(login)
        headers = {"Authorization": f"Bearer {self.tokens[login]}", **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)


@pytest.fixture
def api(domain_engine, clock) -> Api:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(BENCH_MODEL, now=clock.now())
    domain_engine.repository.publish(
        FIXTURES / "engine" / "service" / "service.bpmn", now=clock.now()
    )
    domain_engine.services.register("register_case", lambda params, data: {"number": "1"})
    return Api(domain_engine)


def started_task(api: Api) -> tuple[int, str]:
    """A case of the benchmark procedure in TLG with its one open task."""
    response = api("POST", "/procedures/bench_penalty_check/instances", json=PAYLOAD)
    assert response.status_code == 201, response.json
    return response.json["id"], response.json["tasks"][0]["id"]


def waiting_case(api: Api) -> int:
    """A TLG case waiting for the message `addressee_answer`."""
    return api.engine.runtime.start(
        "service_step", {"case_ref": "C-7", "institution": "UK-161-2"}, actor="tlg.prosecutor"
    )


def assert_error(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The answer is `status` with the API's error shape and a message in words."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert {"error", "detail", "fields"} <= set(body), body
    assert len(body["detail"]) > 15, body["detail"]
    if field is not None:
        assert field in body["fields"], body
    return body


# -- queue parameters ----------------------------------------------------------------------------


def test_limit_that_is_not_a_number_is_400(api: Api) -> None:
    body = assert_error(api("GET", "/tasks?limit=abc"), 400, "limit")
    assert "500" in body["detail"]  # says what is allowed


def test_negative_limit_is_400_and_does_not_lift_the_row_cap(api: Api) -> None:
    started_task(api)
    assert_error(api("GET", "/tasks?limit=-1"), 400, "limit")
    assert_error(api("GET", "/tasks?limit=0"), 400, "limit")
    assert_error(api("GET", "/tasks?limit=501"), 400, "limit")
    assert len(api("GET", "/tasks?limit=500").json) == 1


def test_negative_offset_is_400(api: Api) -> None:
    assert_error(api("GET", "/tasks?offset=-5"), 400, "offset")
    assert_error(api("GET", "/tasks?offset=99999999999999999999"), 400, "offset")


def test_digits_of_other_scripts_are_not_numbers(api: Api) -> None:
    # int() would read Arabic-Indic digits and spaces; a query string is ASCII digits
    assert_error(api("GET", "/tasks?limit=%D9%A5"), 400, "limit")
    assert_error(api("GET", "/tasks?limit=%205"), 400, "limit")


def test_unknown_scope_is_400_naming_the_scopes(api: Api) -> None:
    for scope in ("everything", "", "%00"):
        body = assert_error(api("GET", f"/tasks?scope={scope}"), 400, "scope")
        assert "mine, office or visible" in body["fields"]["scope"]


def test_overdue_is_0_or_1(api: Api) -> None:
    assert_error(api("GET", "/tasks?overdue=yes"), 400, "overdue")
    assert api("GET", "/tasks?overdue=0").status_code == 200


def test_procedure_filter_with_a_nul_byte_is_400(api: Api) -> None:
    started_task(api)
    assert_error(api("GET", "/tasks?procedure=bench%00"), 400, "procedure")
    assert_error(api("GET", f"/tasks?procedure={'p' * 201}"), 400, "procedure")
    listed = api("GET", "/tasks?procedure=bench_penalty_check").json
    assert [t["procedure"] for t in listed] == ["bench_penalty_check"]


# -- ids in paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/instances/{}", "/instances/{}/history"])
def test_an_id_of_twenty_digits_is_404(api: Api, path: str) -> None:
    for bad in ("99999999999999999999", "9223372036854775808", "0", "007"):
        assert_error(api("GET", path.format(bad)), 404)
    assert api("GET", path.format("9223372036854775807")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tasks/{}"),
        ("POST", "/tasks/{}/claim"),
        ("POST", "/tasks/{}/unclaim"),
        ("POST", "/tasks/{}/delegate"),
        ("POST", "/tasks/{}/complete"),
    ],
)
def test_a_task_id_that_is_not_a_uuid_is_404_without_a_query(
    api: Api, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    def no_query(task_guid: str) -> None:
        raise AssertionError(f"the database was asked for task {task_guid!r}")

    monkeypatch.setattr(api.engine.tasks, "get", no_query)
    for bad in ("not-a-task", "%00", "1" * 40, "12345678-1234-1234-1234-1234567890123"):
        assert_error(api(method, path.format(bad), json={"to": "tlg.prosecutor2"}), 404)


def test_a_task_id_in_capitals_is_the_same_task(api: Api) -> None:
    _, task_id = started_task(api)
    assert api("GET", f"/tasks/{task_id.upper()}").json["id"] == task_id


def test_a_procedure_id_with_a_nul_byte_is_404(api: Api) -> None:
    """PostgreSQL refused the NUL in the query (500); now the router answers."""
    assert_error(api("POST", "/procedures/bench%00/instances", json=PAYLOAD), 404)
    assert_error(api("POST", f"/procedures/{'p' * 201}/instances", json=PAYLOAD), 404)


# -- messages ------------------------------------------------------------------------------------


def deliver(api: Api, body: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return api("POST", "/messages", data=raw, content_type="application/json")


def event_count(api: Api, instance_id: int) -> int:
    return len(api.engine.history.events(instance_id))


BAD_CASE_NUMBERS = [
    "{}",
    '"abc"',
    '"12"',
    "1e30",
    "NaN",
    "true",
    "-1",
    "0",
    "1.5",
    "[1]",
    str(2**70),
]
BAD_CORRELATION_VALUES = [
    '{"a": 1}',
    '["C-7"]',
    '"C-7\\u0000"',
    "NaN",
    "Infinity",
    "1e300",
    str(2**2000),
    f'"{"x" * 301}"',
]
BAD_NAMES = ['"addressee_answer\\u0000"', '"\\u0000"', f'"{"m" * 201}"', '"a\\nb"', "7", "null"]


@pytest.mark.parametrize("key", ["instance_id", "case_id"])
def test_a_message_to_a_case_number_that_is_not_one_is_422(api: Api, key: str) -> None:
    iid = waiting_case(api)
    before = event_count(api, iid)
    for target in BAD_CASE_NUMBERS:
        raw = f'{{"name": "addressee_answer", "correlation": {{"{key}": {target}}}, "data": {{}}}}'
        body = assert_error(deliver(api, raw), 422, f"correlation.{key}")
        assert "whole number" in body["fields"][f"correlation.{key}"], target
    assert event_count(api, iid) == before
    # the same message to the right number is delivered
    good = deliver(api, {"name": "addressee_answer", "correlation": {key: iid}, "data": {}})
    assert good.status_code == 200 and good.json == {"delivered": [iid]}


def test_correlation_values_must_be_short_scalars(api: Api) -> None:
    iid = waiting_case(api)
    before = event_count(api, iid)
    for value in BAD_CORRELATION_VALUES:
        raw = f'{{"name": "addressee_answer", "correlation": {{"case_ref": {value}}}}}'
        assert_error(deliver(api, raw), 422, "correlation.case_ref")
    assert event_count(api, iid) == before


def test_correlation_that_is_not_an_object_is_422(api: Api) -> None:
    for correlation in ('"C-7"', "[]", "7", "false"):
        raw = f'{{"name": "addressee_answer", "correlation": {correlation}}}'
        assert_error(deliver(api, raw), 422, "correlation")


def test_a_message_name_with_a_nul_byte_or_too_long_is_422(api: Api) -> None:
    iid = waiting_case(api)
    before = event_count(api, iid)
    for name in BAD_NAMES:
        raw = f'{{"name": {name}, "correlation": {{"case_ref": "C-7"}}}}'
        assert_error(deliver(api, raw), 422, "name")
    assert event_count(api, iid) == before


def test_the_engine_refuses_the_same_correlation_whoever_calls(api: Api) -> None:
    from engine.errors import ValidationFailed

    iid = waiting_case(api)
    with pytest.raises(ValidationFailed) as caught:
        api.engine.runtime.deliver_message(
            "addressee_answer", {}, correlation={"instance_id": {}}, actor="cli"
        )
    assert set(caught.value.fields) == {"correlation.instance_id"}
    assert api.engine.runtime.deliver_message(
        "addressee_answer", {}, correlation={"instance_id": iid}, actor="cli"
    ) == [iid]


# -- the same ids in the pages' addresses --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cases/99999999999999999999"),
        ("GET", "/cases/99999999999999999999/diagram.bpmn"),
        ("GET", "/start/bench%00"),
        ("GET", "/tasks/%00"),
        ("POST", "/tasks/%00/claim"),
        ("POST", "/filters/99999999999999999999/delete"),
    ],
)
def test_impossible_ids_in_page_addresses_are_the_404_page(
    domain_engine: Any, method: str, path: str
) -> None:
    """A 20-digit filter id was a 500 on both backends, a NUL task or procedure id on
    PostgreSQL; the pages use the API's converters (web/ids.py)."""
    import re

    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failure is the 500 page, as users see it
    web = app.test_client()
    page = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    form = {"login": "tlg.prosecutor", "password": "nadzor-demo", "csrf_token": token}
    assert web.post("/login", data=form).status_code == 302
    response = web.open(path, method=method, data={"csrf_token": token})
    assert response.status_code == 404, response.get_data(as_text=True)[:300]


def test_a_bulk_reassignment_of_impossible_ids_is_refused_without_a_query(api: Api) -> None:
    """A NUL byte in a task id was a 500 on PostgreSQL; a list of 27,000 ids meant 27,000
    queries."""
    body = {"tasks": ["\u0000"], "to": "tlg.prosecutor"}
    assert_error(api("POST", "/tasks/reassign", "tlg.head", json=body), 404)
    many = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(501)]
    body = {"tasks": many, "to": "tlg.prosecutor"}
    answer = assert_error(api("POST", "/tasks/reassign", "tlg.head", json=body), 422, "tasks")
    assert "500" in answer["fields"]["tasks"]
