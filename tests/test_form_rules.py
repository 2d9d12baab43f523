"""One set of form rules, enforced by the engine (issue 8, points 1 and 2): what the REST API
sends is held to the published form exactly as the page is, with the same per-field messages,
and values the domain computes can never be set by a client."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.errors import ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import BENCH_MODEL, ROOT
from tests.test_web_queue import csrf, sign_in
from web.app import create_app
from workflows.users import UserDirectory

PENALTY = ROOT / "bpmn" / "penalty_room_check" / "penalty_room_check.bpmn"
ACTS = ROOT / "bpmn" / "act_routing" / "act_routing.bpmn"
PLACEMENT = {
    "institution": "UK-161-2",  # near Taldykorgan: 24 hours, district office ALM-TLG
    "convict_name": "Петров Иван",
    "placed_at": "2026-11-24T09:30:00+05:00",
    "resolution_number": "145",
    "resolution_date": "2026-11-24",
    "grounds": "Отказ от работы",
    "duration_days": 10,
}
ACT = {
    "act_type": "submission",
    "origin_office": "ALM-TLG",
    "addressee": "AKIMAT-TLG",  # a body of the directory (issue 11)
    "summary": "Устранить нарушения",
}


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    for model in (PENALTY, ACTS, BENCH_MODEL):
        domain_engine.repository.publish(model, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


@pytest.fixture
def api(app, domain_engine):  # type: ignore[no-untyped-def]
    client = app.test_client()
    users = UserDirectory(domain_engine.db)
    tokens: dict[str, str] = {}

    def call(method: str, path: str, login: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        if login not in tokens:
            tokens[login] = users.issue_token(login)
        headers = {"Authorization": f"Bearer {tokens[login]}"}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def start(api, process_id: str, payload: dict, login: str = "tlg.prosecutor"):  # type: ignore[no-untyped-def]
    return api("POST", f"/procedures/{process_id}/instances", login, json=payload)


def started(api, process_id: str, payload: dict) -> dict:  # type: ignore[no-untyped-def]
    response = start(api, process_id, payload)
    assert response.status_code == 201, response.json
    return response.json


def task_of(instance: dict, name: str) -> str:
    [task] = [t for t in instance["tasks"] if t["name"] == name]
    return task["id"]


def complete(api, task_id: str, data: dict, login: str = "tlg.prosecutor"):  # type: ignore[no-untyped-def]
    return api("POST", f"/tasks/{task_id}/complete", login, json={"data": data})


def refused(response, *keys: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The 422 answer names exactly `keys`; returns their codes."""
    assert response.status_code == 422, response.json
    body = response.json
    assert body["error"] == "validation"
    assert set(body["fields"]) == set(keys), body
    assert set(body["problems"]) == set(keys)
    return {key: body["problems"][key]["code"] for key in keys}


def open_tasks(engine, instance_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.task_name for t in engine.tasks.list(TaskQuery(instance_id=instance_id))]


# -- point 1: completions through the API -----------------------------------------------------


def test_checkbox_words_are_not_booleans_and_close_nothing(api, domain_engine) -> None:
    case = started(api, "penalty_room_check", PLACEMENT)
    check = task_of(case, "placement_check")
    answer = complete(
        api,
        check,
        {"placement_lawful": "false", "conditions_lawful": "no", "findings": "Проверено"},
    )
    codes = refused(answer, "placement_lawful", "conditions_lawful")
    assert codes == {"placement_lawful": "not_boolean", "conditions_lawful": "not_boolean"}
    assert open_tasks(domain_engine, case["id"]) == ["placement_check"]
    assert "check_result" not in domain_engine.runtime.data(case["id"])


def test_an_absent_checkbox_is_false(api, domain_engine) -> None:
    """A lawful check must say so: leaving the boxes out is an unlawful placement."""
    case = started(api, "penalty_room_check", PLACEMENT)
    answer = complete(api, task_of(case, "placement_check"), {"findings": "Проверено"})
    assert answer.status_code == 200, answer.json
    data = domain_engine.runtime.data(case["id"])
    assert data["placement_lawful"] is False and data["conditions_lawful"] is False
    assert "response_act" in open_tasks(domain_engine, case["id"])


def test_values_the_model_computes_cannot_be_sent_on_a_review(api, domain_engine) -> None:
    act = started(api, "act_routing", ACT)
    review = task_of(act, "act_review")
    answer = complete(
        api,
        review,
        {
            "decision": "forward",
            "review_comment": "Согласовано",
            "route": ["ALM-TLG"],
            "returns_here": -100,
            "case_id": 999999,
            "regional_office_code": "NOWHERE",
        },
        login="tlg.head",
    )
    codes = refused(answer, "route", "returns_here", "case_id", "regional_office_code")
    assert set(codes.values()) == {"unknown_field"}
    for key in ("route", "returns_here", "case_id", "regional_office_code"):
        assert key in answer.json["detail"]
    assert open_tasks(domain_engine, act["id"]) == ["act_review"]
    data = domain_engine.runtime.data(act["id"])
    assert data["case_id"] == act["id"] and "regional_office_code" not in data


def test_a_read_only_field_is_never_taken(api, domain_engine) -> None:
    case = started(api, "penalty_room_check", PLACEMENT)
    answer = complete(
        api,
        task_of(case, "placement_check"),
        {"findings": "Проверено", "convict_name": "Другой", "duration_days": 1},
    )
    assert refused(answer, "convict_name", "duration_days") == {
        "convict_name": "read_only",
        "duration_days": "read_only",
    }
    assert domain_engine.runtime.data(case["id"])["convict_name"] == "Петров Иван"


def test_a_required_field_left_out_is_refused(api, domain_engine) -> None:
    case = started(api, "penalty_room_check", PLACEMENT)
    answer = complete(api, task_of(case, "placement_check"), {"placement_lawful": True})
    assert refused(answer, "findings") == {"findings": "required"}
    assert answer.json["fields"]["findings"] == "Обязательное поле."
    blank = complete(api, task_of(case, "placement_check"), {"findings": "   "})
    assert refused(blank, "findings") == {"findings": "required"}


def test_a_date_that_does_not_exist_is_refused(api, domain_engine) -> None:
    act = started(api, "act_routing", ACT)
    forwarded = complete(
        api, task_of(act, "act_review"), {"decision": "forward", "review_comment": "Да"}, "tlg.head"
    )
    assert forwarded.status_code == 200, forwarded.json
    dispatch = task_of(forwarded.json, "act_dispatch")
    for bad in ("2026-13-45", "2026-02-30", "30.11.2026", "2026-11-30T10:00:00+05:00"):
        answer = complete(api, dispatch, {"outgoing_number": "1", "dispatch_date": bad})
        assert refused(answer, "dispatch_date") == {"dispatch_date": "not_a_date"}, bad
    answer = complete(api, dispatch, {"outgoing_number": "1", "dispatch_date": "2026-11-30"})
    assert answer.status_code == 200, answer.json


def test_an_instant_must_exist_and_carry_its_offset(api) -> None:
    for bad in ("2026-13-45T10:00:00+05:00", "2026-11-24T25:00:00+05:00", "2026-11-24T09:30"):
        answer = start(api, "penalty_room_check", {**PLACEMENT, "placed_at": bad})
        assert refused(answer, "placed_at") == {"placed_at": "not_an_instant"}, bad
    for good in ("2026-11-24T04:30:00Z", "2026-11-24T09:30+05:00"):
        assert start(api, "penalty_room_check", {**PLACEMENT, "placed_at": good}).status_code == 201


def test_a_text_of_200000_characters_is_refused(api, domain_engine) -> None:
    case = started(api, "penalty_room_check", PLACEMENT)
    answer = complete(api, task_of(case, "placement_check"), {"findings": "x" * 200_000})
    assert refused(answer, "findings") == {"findings": "too_long"}
    assert answer.json["problems"]["findings"]["params"] == {"max": 20000}
    assert answer.json["fields"]["findings"] == "Не длиннее 20000 символов."
    assert open_tasks(domain_engine, case["id"]) == ["placement_check"]


def test_a_key_the_task_form_does_not_offer_is_refused(api, domain_engine) -> None:
    case = started(
        api,
        "bench_penalty_check",
        {"institution": "UK-161-2", "placed_at": "2026-11-24T09:30:00+05:00", "remote": False},
    )
    check = task_of(case, "check")
    unlawful = complete(api, check, {"placement_lawful": False, "findings": "нет"})
    assert unlawful.status_code == 200, unlawful.json
    act = task_of(unlawful.json, "act")
    answer = complete(api, act, {"act_number": "A-1", "extra": 1})
    assert refused(answer, "extra") == {"extra": "unknown_field"}
    assert open_tasks(domain_engine, case["id"]) == ["act"]


def test_a_conditional_field_is_required_only_when_shown(domain_engine, clock) -> None:
    """The appeal check asks for the victim only when torture was found (form-js condition)."""
    rules = domain_engine.repository.publish(
        ROOT / "bpmn" / "npm_pmc_appeal" / "npm_pmc_appeal.bpmn", now=clock.now()
    )[0].form_rules("npm_pmc_appeal/appeal_check.form.json")
    with pytest.raises(ValidationFailed) as torture:
        rules.validate({"findings": "none", "torture_found": True, "check_report": "Проверено"})
    assert {k: p.code for k, p in torture.value.fields.items()} == {
        "victim_name": "required",
        "torture_description": "required",
        "torture_found_at": "required",
    }
    # hidden fields are neither required nor stored
    cleaned = rules.validate(
        {"findings": "none", "check_report": "Проверено", "victim_name": "Болатов С."}
    )
    assert cleaned == {"findings": "none", "check_report": "Проверено", "torture_found": False}


def test_a_task_without_a_form_takes_no_data(engine, tmp_path) -> None:
    from tests.test_engine_failures import publish_script_model

    publish_script_model(engine, tmp_path, "total = a + 1")
    iid = engine.runtime.start("script_step", {"a": 1}, actor="ivanov")
    [prepare] = engine.tasks.list(TaskQuery(instance_id=iid))
    with pytest.raises(ValidationFailed) as refused_data:
        engine.tasks.complete(prepare.task_guid, {"a": 100, "total": 5}, actor="ivanov")
    assert {k: p.code for k, p in refused_data.value.fields.items()} == {
        "a": "unknown_field",
        "total": "unknown_field",
    }
    assert "no form" in refused_data.value.fields["a"].message
    engine.tasks.complete(prepare.task_guid, {}, actor="ivanov")
    assert engine.runtime.data(iid)["total"] == 2


# -- point 2: start payloads ------------------------------------------------------------------


def test_a_start_payload_cannot_set_the_domain_facts(api, domain_engine) -> None:
    answer = start(
        api,
        "penalty_room_check",
        {**PLACEMENT, "institution_remote": True, "district_office": "KRG-KAR"},
    )
    codes = refused(answer, "institution_remote", "district_office")
    assert set(codes.values()) == {"unknown_field"}
    assert domain_engine.tasks.list(TaskQuery(process_id="penalty_room_check")) == []


def test_domain_facts_override_a_payload_without_a_start_form(domain_engine, clock) -> None:
    """Even where a version has no start form, the organization's facts win."""
    domain_engine.repository.publish(BENCH_MODEL, now=clock.now())
    iid = domain_engine.runtime.start(
        "bench_penalty_check",
        {
            "institution": "UK-161-2",
            "institution_remote": True,
            "district_office": "KRG-KAR",
            "case_id": 999999,
            "placed_at": "2026-11-24T09:30:00+05:00",
            "remote": False,
        },
        actor="tlg.prosecutor",
    )
    data = domain_engine.runtime.data(iid)
    assert data["institution_remote"] is False and data["district_office"] == "ALM-TLG"
    assert data["case_id"] == iid
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    assert task.office_code == "ALM-TLG"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (-5, "too_small"),
        ("ten", "not_a_number"),
        (1e308, "too_large"),
        (2.5, "not_a_whole_number"),
        (True, "not_a_number"),
        (None, "required"),
    ],
)
def test_a_duration_must_be_a_whole_number_of_days_within_a_year(api, value, code) -> None:
    answer = start(api, "penalty_room_check", {**PLACEMENT, "duration_days": value})
    assert refused(answer, "duration_days") == {"duration_days": code}


def test_a_name_is_text(api) -> None:
    answer = start(api, "penalty_room_check", {**PLACEMENT, "convict_name": {"a": "b"}})
    assert refused(answer, "convict_name") == {"convict_name": "not_text"}
    listed = start(api, "penalty_room_check", {**PLACEMENT, "institution": ["UK-161-2"]})
    assert refused(listed, "institution") == {"institution": "not_text"}


def test_an_unknown_institution_is_refused(api) -> None:
    answer = start(api, "penalty_room_check", {**PLACEMENT, "institution": "UK-000-0"})
    assert refused(answer, "institution") == {"institution": "unknown_institution"}


def test_an_option_must_have_its_exact_type(api) -> None:
    answer = start(api, "act_routing", {**ACT, "act_type": ["submission"]})
    assert refused(answer, "act_type") == {"act_type": "not_an_option"}


@pytest.mark.parametrize(
    "payload",
    [
        {"typename": "scan"},
        {"len": 0},
        {"nested": {"typename": "scan"}},
    ],
)
def test_keys_outside_the_start_form_are_refused(api, domain_engine, payload) -> None:
    answer = start(api, "penalty_room_check", {**PLACEMENT, **payload})
    [key] = payload
    assert refused(answer, key) == {key: "unknown_field"}
    assert domain_engine.tasks.list(TaskQuery(process_id="penalty_room_check")) == []


def test_nesting_600_deep_is_refused_with_4xx(api) -> None:
    deep: Any = "x"
    for _ in range(600):
        deep = {"a": deep}
    answer = start(api, "penalty_room_check", {**PLACEMENT, "grounds": deep})
    assert refused(answer, "grounds") == {"grounds": "not_text"}
    extra = start(api, "penalty_room_check", {**PLACEMENT, "deep": deep})
    assert refused(extra, "deep") == {"deep": "unknown_field"}


def test_the_start_forms_cover_the_documented_contracts(domain_engine, clock) -> None:
    """README "Procedures": each start payload is an integration contract."""
    readme = (ROOT / "README.md").read_text().split("## Procedures")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", readme, re.MULTILINE)
    # a calendar starts these (issue 12): no payload from outside, and no start form
    calendar_only = {pid for pid, keys in rows if keys.startswith("none: started by the calendar")}
    assert calendar_only == {"reception", "quarterly_report"}
    contracts = {
        # a key's allowed values and notes are in parentheses after it: not keys themselves
        pid: set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", keys)))
        for pid, keys in rows
        if pid not in calendar_only
    }
    assert set(contracts) == {
        "penalty_room_check",
        "torture_report",
        "npm_pmc_appeal",
        "act_routing",
        "emergency_report",
        "incident_report",
    }
    for pid, keys in contracts.items():
        definition, _ = domain_engine.repository.publish(
            ROOT / "bpmn" / pid / f"{pid}.bpmn", now=clock.now()
        )
        rules = definition.start_rules()
        assert {f.key for f in rules.inputs} == keys, pid


# -- page and API side by side ----------------------------------------------------------------


def _page_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="(\w+)">([^<]+)</div>', html))


def test_the_page_and_the_api_give_the_same_messages(app, api) -> None:
    web = app.test_client()
    sign_in(web, "tlg.prosecutor")
    form_page = web.get("/start/penalty_room_check").get_data(as_text=True)
    typed = {
        "institution": "UK-161-2",
        "convict_name": "",
        "placed_at": "2026-11-24T09:30",
        "resolution_number": "145",
        "resolution_date": "2026-13-45",
        "grounds": "Отказ от работы",
        "duration_days": "ten",
    }
    on_page = web.post("/start/penalty_room_check", data={**typed, "csrf_token": csrf(form_page)})
    assert on_page.status_code == 422
    page_errors = _page_errors(on_page.get_data(as_text=True))

    sent = {
        **typed,
        "placed_at": "2026-11-24T09:30:00+05:00",
        "convict_name": None,
    }
    by_api = start(api, "penalty_room_check", sent)
    assert refused(by_api, "convict_name", "resolution_date", "duration_days")
    # the same rules broken; a date is explained in the format each door takes: the page's text
    # input reads ДД.ММ.ГГГГ, the API takes ISO
    assert page_errors.keys() == by_api.json["fields"].keys()
    assert page_errors == {
        "convict_name": "Обязательное поле.",
        "resolution_date": "Дату не удалось распознать. Формат: ДД.ММ.ГГГГ, например 24.11.2026.",
        "duration_days": "Введите число.",
    }
    assert by_api.json["fields"] == {
        **page_errors,
        "resolution_date": "Введите существующую дату (ГГГГ-ММ-ДД).",
    }

    # the same on a task: -5 days on the page and in the API
    case = started(api, "penalty_room_check", PLACEMENT)
    check = task_of(case, "placement_check")
    task_page = web.get(f"/tasks/{check}").get_data(as_text=True)
    posted = web.post(
        f"/tasks/{check}",
        data={"findings": "", "placement_lawful": "on", "csrf_token": csrf(task_page)},
    )
    assert posted.status_code == 422
    answer = complete(api, check, {"placement_lawful": True})
    assert _page_errors(posted.get_data(as_text=True)) == answer.json["fields"]


def test_the_api_answers_in_the_users_language(app, api, domain_engine) -> None:
    users = UserDirectory(domain_engine.db)
    users.set_locale(users.get("tlg.prosecutor").id, "kk")
    answer = start(api, "penalty_room_check", {**PLACEMENT, "duration_days": "ten"})
    assert refused(answer, "duration_days")
    assert answer.json["fields"]["duration_days"] != "Введите число."
    assert answer.json["problems"]["duration_days"] == {"code": "not_a_number", "params": {}}


# -- the FEEL subset of conditions and what publishing refuses --------------------------------


@pytest.mark.parametrize(
    ("expression", "data", "hidden"),
    [
        ('=findings != "torture"', {"findings": "torture"}, False),
        ('=findings != "torture"', {}, True),
        ("=n > 2 and n < 5", {"n": 3}, True),
        ("=n > 2 and n < 5", {"n": 5}, False),
        ("=n >= 2", {"n": "3"}, False),  # unlike types never compare
        ('=a = "x" or not(b)', {"a": "y", "b": False}, True),
        ('=a = "x" or not(b)', {"a": "y", "b": True}, False),
        ("=flag = true", {"flag": 1}, False),  # a number is not a boolean
        ("=(a = 1 or a = 2) and b = null", {"a": 2}, True),
        ("=x <= 1.5", {"x": 1.5}, True),
    ],
)
def test_conditions_use_a_small_feel_subset(expression, data, hidden) -> None:
    from engine.forms import compile_condition

    assert (compile_condition(expression)(data) is True) is hidden


@pytest.mark.parametrize(
    "component",
    [
        {"type": "textfield", "key": "a", "conditional": {"hide": "=foo(1)"}},
        {"type": "textfield", "key": "a", "conditional": {"hide": "a = 1"}},
        {"type": "textfield", "key": "a", "conditional": {"hide": "=a = "}},
        {"type": "textfield", "key": "a", "validate": {"pattern": "("}},
        {"type": "textfield", "key": "a-b"},
        {"type": "select", "key": "a", "valuesKey": "options"},
        {"type": "number", "key": "a", "validate": {"min": "one"}},
    ],
)
def test_a_form_the_engine_cannot_enforce_is_not_published(component) -> None:
    from engine.errors import ModelError
    from engine.forms import parse_form

    with pytest.raises(ModelError):
        parse_form({"components": [component]}, "x.form.json")
