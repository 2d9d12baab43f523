"""Single incidents: self-injury, hunger strike, suicide, use of special means (Instruction 104,
¶11.4, ¶13.5, ¶13.6).

¶13.6: the district prosecutor checks single facts of self-injury, hunger strike and suicide —
their causes, the actions of the institution's employees, a procedural decision — and promptly
notifies the regional prosecutor. ¶13.5: he checks the legality of the use of special means and
draws up a conclusion (the person, place, time and circumstances, the employees who used them,
the grounds, the conclusions on legality) with the corroborative materials attached. ¶11.4: the
regional unit informs the GP unit within 24 hours, with the reasons and the decision taken. The
terms the text leaves open (the notice's "promptly", the district check) are internal rules set
in the model's parameters; every term counts from the receipt of the report.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.attachments import MAX_FILE_BYTES, attachments_of, read_attachment
from engine.engine import Engine
from engine.errors import ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_proc_act_routing import Case

MODEL = ROOT / "bpmn" / "incident_report" / "incident_report.bpmn"
RECEIVED_AT = "2026-11-24T10:00:00+05:00"  # the fixture clock's instant, in Almaty
RECEIVED = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
NOTICE_DUE = RECEIVED + timedelta(hours=3)  # internal rule: ¶13.6 says "promptly"
CHECK_DUE = RECEIVED + timedelta(hours=20)  # internal rule: ¶13.5, ¶13.6 fix no term
GP_DUE = RECEIVED + timedelta(hours=24)  # ¶11.4, from receipt of the report

CHECKED_KINDS = ["self_injury", "hunger_strike", "suicide"]  # ¶13.6
KINDS = [*CHECKED_KINDS, "special_means"]  # ¶11.4

DESCRIPTIONS = {
    "self_injury": "Осуждённый нанёс себе порезы предплечья в отряде № 3",
    "hunger_strike": "Осуждённый объявил голодовку в знак протеста против водворения в ШИЗО",
    "suicide": "Осуждённый обнаружен без признаков жизни в камере",
    "special_means": "К осуждённому применены наручники и резиновая палка",
}

CHECK = {
    "person_name": "Ермеков Данияр",
    "causes": "Конфликт с администрацией по поводу свиданий",
    "staff_actions": "Сотрудники своевременно оказали медицинскую помощь",
    "procedural_decision": "pretrial_registered",
    "decision_details": "ЕРДР № 261500031000123 от 24.11.2026, ДП Талгарского района",
}
CONCLUSION = {
    "person_name": "Ермеков Данияр",
    "means_place": "Дежурная часть учреждения",
    "means_time": "2026-11-24T08:40:00+05:00",
    "means_circumstances": "Осуждённый оказал сопротивление при водворении в ШИЗО",
    "means_employees": "Ст. лейтенант Абенов К., младший инспектор Серіков Т.",
    "means_grounds": "Пресечение неповиновения законным требованиям администрации",
    "means_legality": "lawful",
    "means_conclusion": "Применение обоснованно: соразмерно характеру сопротивления",
}
NOTICE = {
    "region_notified_at": "2026-11-24T10:30:00+05:00",
    "region_notified_to": "Заместитель прокурора области Сейткали А.",
}
INFORMATION = {
    "gp_reasons": "Конфликт с администрацией",
    "gp_decision": "Начато досудебное расследование, ЕРДР № 261500031000123",
    "gp_informed_at": "2026-11-24T18:00:00+05:00",
    "gp_informed_to": "Управление ГП по надзору за исполнением наказаний",
}


@pytest.fixture
def incidents(domain_engine: Engine, clock) -> Engine:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def report(
    engine: Engine,
    kind: str,
    institution: str = "UK-161-2",
    received_at: str = RECEIVED_AT,
    **extra: Any,
) -> Case:
    payload = {
        "institution": institution,
        "kind": kind,
        "received_at": received_at,
        "description": DESCRIPTIONS.get(kind, "…"),
        **extra,
    }
    return Case(engine, engine.runtime.start("incident_report", payload, actor="tlg.prosecutor"))


def district_work(case: Case, kind: str) -> None:
    """What the district prosecutor does: the check and the notice (¶13.6), or the conclusion
    (¶13.5)."""
    if kind == "special_means":
        case.complete("special_means_conclusion", **conclusion())
    else:
        case.complete("notify_region", **NOTICE)
        case.complete("incident_check", **CHECK)


ACT = b"%PDF-1.4\n% act on the use of special means, 24.11.2026\n"
VIDEO_FRAME = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16  # a still of the video record


def upload(name: str, content: bytes, content_type: str) -> dict[str, str]:
    """A file as every door hands it to the engine (engine/attachments.py)."""
    return {
        "name": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


def conclusion(**items: Any) -> dict[str, Any]:
    """The conclusion of ¶13.5 with its corroborative materials attached as files."""
    materials = [
        upload("акт_применения_спецсредств.pdf", ACT, "application/pdf"),
        upload("кадр_видеозаписи.png", VIDEO_FRAME, "image/png"),
    ]
    return {**CONCLUSION, "materials": materials, **items}


def events(engine: Engine, case: Case) -> list[tuple[str, str | None]]:
    return [(e["event_type"], e["task_name"]) for e in engine.history.events(case.id)]


# -- who does what first ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CHECKED_KINDS)
def test_the_district_prosecutor_checks_the_fact_and_notifies_the_region(incidents, kind) -> None:
    case = report(incidents, kind)
    assert case.open_task_names() == ["incident_check", "notify_region"]
    assert case.holder("notify_region") == ("prosecutor", "ALM-TLG")
    assert case.holder("incident_check") == ("prosecutor", "ALM-TLG")
    assert case.due("notify_region") == NOTICE_DUE
    assert case.due("incident_check") == CHECK_DUE


def test_special_means_get_the_conclusion_of_13_5_and_no_notice(incidents) -> None:
    # ¶13.5 asks a conclusion, not a notice to the region (that is ¶13.6's, for the other kinds)
    case = report(incidents, "special_means")
    assert case.open_task_names() == ["special_means_conclusion"]
    assert case.holder("special_means_conclusion") == ("prosecutor", "ALM-TLG")
    assert case.due("special_means_conclusion") == CHECK_DUE


@pytest.mark.parametrize(
    ("institution", "district", "region"),
    [("UK-159-11", "KRG-KAR", "KRG-OBL"), ("SIZO-AST", "AST-ESL", "AST-CITY")],
)
@pytest.mark.parametrize("kind", KINDS)
def test_the_tasks_go_to_the_offices_of_the_institution(
    incidents, kind, institution, district, region
) -> None:
    case = report(incidents, kind, institution)
    for name in case.open_task_names():
        assert case.holder(name) == ("prosecutor", district)
    district_work(case, kind)
    assert case.open_task_names() == ["inform_gp"]
    assert case.holder("inform_gp") == ("prosecutor", region)


# -- ¶11.4: the regional unit informs the GP unit within 24 hours of receipt ----------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_regional_unit_informs_the_gp_unit_within_24_hours_of_receipt(incidents, kind) -> None:
    case = report(incidents, kind)
    district_work(case, kind)
    assert case.open_task_names() == ["inform_gp"]
    assert case.holder("inform_gp") == ("prosecutor", "ALM-OBL")
    assert case.due("inform_gp") == GP_DUE  # counted from receipt, not from the district's check
    assert incidents.management.fire_due(GP_DUE) == 0  # at the instant itself: not in breach
    case.complete("inform_gp", **INFORMATION)
    assert case.status == "completed"
    assert case.open_tasks() == []
    data = case.data()
    assert data["gp_decision"] == INFORMATION["gp_decision"]
    for breach in ("notice_breached", "check_breached", "gp_info_breached"):
        assert breach not in data
    # the deadlines went with their tasks: nothing fires later
    assert incidents.management.fire_due(GP_DUE + timedelta(days=30)) == 0
    assert incidents.verify_history()["ok"] is True


@pytest.mark.parametrize("kind", CHECKED_KINDS)
def test_the_region_shows_the_districts_findings_to_the_officer_informing_the_gp(
    incidents, kind
) -> None:
    case = report(incidents, kind)
    district_work(case, kind)
    data = case.data()
    assert data["causes"] == CHECK["causes"]
    assert data["procedural_decision"] == "pretrial_registered"
    assert data["region_notified_to"] == NOTICE["region_notified_to"]
    assert case.task("inform_gp").form == "incident_report/inform_gp.form.json"
    form = json.loads((MODEL.parent / "inform_gp.form.json").read_text())
    shown = {c["key"] for c in form["components"] if c.get("readonly")}
    assert {"causes", "procedural_decision", "description", "gp_info_due"} <= shown


@pytest.mark.parametrize("kind", KINDS)
def test_the_24_hours_missed_are_recorded_and_the_gp_unit_controls_them(incidents, kind) -> None:
    case = report(incidents, kind)
    district_work(case, kind)
    assert incidents.management.fire_due(GP_DUE + SECOND) == 1
    # the information is still owed; the GP unit's officer for the region controls (¶2.7, ¶9.1)
    assert case.open_task_names() == ["gp_control", "inform_gp"]
    assert case.holder("gp_control") == ("prosecutor", "GP")
    assert case.due("inform_gp") == GP_DUE
    assert case.data()["gp_info_breached"] is True
    assert ("timer_fired", "gp_info_deadline") in events(incidents, case)
    assert incidents.management.fire_due(GP_DUE + timedelta(days=3)) == 0  # fires once
    case.complete("inform_gp", **INFORMATION)
    assert case.status == "running"  # the control is not finished
    case.complete("gp_control", gp_control_measures="Прокурору области указано на нарушение")
    assert case.status == "completed"
    assert incidents.verify_history()["ok"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_a_district_check_past_24_hours_brings_the_information_in_breach_at_once(
    incidents, clock, kind
) -> None:
    case = report(incidents, kind)
    clock.set(GP_DUE + timedelta(hours=2))  # the district is late: 26 hours after receipt
    incidents.management.fire_due()
    district_work(case, kind)  # the region's task arrives with its 24 hours already gone
    names = case.open_task_names()
    assert "inform_gp" in names and "gp_control" in names
    assert case.due("inform_gp") == GP_DUE
    data = case.data()
    assert data["check_breached"] is True and data["gp_info_breached"] is True


# -- the district's terms: breaches recorded and controlled by the regional head (¶10.6) -----------


@pytest.mark.parametrize("kind", CHECKED_KINDS)
def test_a_late_notice_to_the_region_is_recorded_and_the_regional_head_controls_it(
    incidents, kind
) -> None:
    case = report(incidents, kind)
    case.complete("incident_check", **CHECK)
    assert incidents.management.fire_due(NOTICE_DUE) == 0
    assert incidents.management.fire_due(NOTICE_DUE + SECOND) == 1
    assert case.open_task_names() == ["notice_control", "notify_region"]
    assert case.holder("notice_control") == ("head", "ALM-OBL")
    assert case.holder("notify_region") == ("prosecutor", "ALM-TLG")  # still owed
    assert case.data()["notice_breached"] is True
    head_queue = TaskQuery(offices=["ALM-OBL"], roles=["head"], unassigned=True)
    assert [t.task_name for t in incidents.tasks.list(head_queue)] == ["notice_control"]
    case.complete("notice_control", notice_control_measures="Истребовано объяснение")
    case.complete("notify_region", **NOTICE)
    # the notice came late; the region still informs the GP unit, with its own 24 hours
    assert case.open_task_names() == ["inform_gp"]
    assert "gp_info_breached" not in case.data()


@pytest.mark.parametrize("kind", KINDS)
def test_a_late_check_is_recorded_and_the_regional_head_controls_it(incidents, kind) -> None:
    case = report(incidents, kind)
    if kind != "special_means":
        case.complete("notify_region", **NOTICE)
    work = "special_means_conclusion" if kind == "special_means" else "incident_check"
    assert incidents.management.fire_due(CHECK_DUE) == 0
    assert incidents.management.fire_due(CHECK_DUE + SECOND) == 1
    assert case.open_task_names() == sorted(["check_control", work])
    assert case.holder("check_control") == ("head", "ALM-OBL")
    assert case.data()["check_breached"] is True
    assert case.due(work) == CHECK_DUE  # the check is not cancelled
    case.complete("check_control", check_control_measures="Районному прокурору указано")
    district_work_left(case, kind)
    assert case.open_task_names() == ["inform_gp"]


def district_work_left(case: Case, kind: str) -> None:
    if kind == "special_means":
        case.complete("special_means_conclusion", **conclusion())
    else:
        case.complete("incident_check", **CHECK)


# -- what each form requires -----------------------------------------------------------------------


@pytest.mark.parametrize("item", [*sorted(CONCLUSION), "materials"])
def test_the_special_means_conclusion_requires_each_item_of_13_5(incidents, item) -> None:
    case = report(incidents, "special_means")
    task = case.task("special_means_conclusion")
    data = {k: v for k, v in conclusion().items() if k != item}
    with pytest.raises(ValidationFailed) as refused:
        incidents.tasks.complete(task.task_guid, data, actor="tlg.prosecutor")
    assert set(refused.value.fields) == {item}
    expected = "file_required" if item == "materials" else "required"
    assert refused.value.fields[item].code == expected
    assert case.open_task_names() == ["special_means_conclusion"]  # nothing happened
    assert stored_files(incidents, case) == []  # and no file was kept


# -- ¶13.5: corroborative materials attached to the conclusion -------------------------------------


def stored_files(engine: Engine, case: Case) -> list[Any]:
    with engine.db.read() as conn:
        return attachments_of(conn, case.id)


def test_the_materials_are_stored_with_their_sha256_in_the_cases_history(incidents) -> None:
    case = report(incidents, "special_means")
    case.complete("special_means_conclusion", **conclusion())
    files = {f.name: f for f in stored_files(incidents, case)}
    assert set(files) == {"акт_применения_спецсредств.pdf", "кадр_видеозаписи.png"}
    act = files["акт_применения_спецсредств.pdf"]
    assert act.sha256 == hashlib.sha256(ACT).hexdigest() and act.size == len(ACT)
    assert (act.task_name, act.field) == ("special_means_conclusion", "materials")
    with incidents.db.read() as conn:
        assert read_attachment(conn, case.id, act.attachment_id).content == ACT
    # the completion's audit event carries each file's SHA-256, the case data only references
    [done] = [
        e
        for e in incidents.history.events(case.id)
        if e["event_type"] == "task_completed" and e["task_name"] == "special_means_conclusion"
    ]
    refs = done["data_after"]["materials"]
    assert {r["name"]: r["sha256"] for r in refs} == {n: f.sha256 for n, f in files.items()}
    assert "content_base64" not in json.dumps(done["data_after"])
    assert case.data()["materials"] == refs
    assert case.data()["means_legality"] == "lawful"
    assert incidents.verify_history()["ok"] is True
    # the conclusion with its materials goes on to the regional unit (¶11.4)
    assert case.open_task_names() == ["inform_gp"]


def test_a_material_over_the_size_limit_is_refused_in_words(incidents) -> None:
    case = report(incidents, "special_means")
    too_big = upload("видео.mp4", b"\0" * (MAX_FILE_BYTES + 1), "video/mp4")
    with pytest.raises(ValidationFailed) as refused:
        case.complete("special_means_conclusion", **conclusion(materials=[too_big]))
    problem = refused.value.fields["materials"]
    assert problem.code == "file_too_large" and "видео.mp4" in problem.message
    assert stored_files(incidents, case) == []
    assert case.open_task_names() == ["special_means_conclusion"]


def test_the_region_sees_and_downloads_the_materials_on_the_case_page(incidents) -> None:
    from tests.test_web_queue import sign_in
    from web.app import create_app

    case = report(incidents, "special_means")
    case.complete("special_means_conclusion", **conclusion())
    files = {f.name: f for f in stored_files(incidents, case)}
    app = create_app({"NADZOR_ENGINE": incidents, "TESTING": True})
    region = app.test_client()
    sign_in(region, "alm.prosecutor")  # the regional unit that informs the GP unit
    page = region.get(f"/cases/{case.id}", headers={"Accept-Language": "ru"})
    text = page.get_data(as_text=True)
    step = text[text.index("Подтверждающие материалы") :]
    act = files["акт_применения_спецсредств.pdf"]
    assert "акт_применения_спецсредств.pdf" in step and act.sha256 in step
    link = f"/cases/{case.id}/attachments/{act.attachment_id}"
    assert link in step
    got = region.get(link)
    assert got.status_code == 200 and got.data == ACT
    assert got.headers["X-Content-SHA256"] == act.sha256
    outsider = app.test_client()
    sign_in(outsider, "kar.prosecutor")  # another region's district: the case does not exist
    assert outsider.get(link).status_code == 404


@pytest.mark.parametrize("item", ["causes", "staff_actions", "procedural_decision"])
def test_the_check_requires_the_causes_the_staff_assessment_and_the_decision(
    incidents, item
) -> None:
    case = report(incidents, "suicide")
    data = {k: v for k, v in CHECK.items() if k != item}
    with pytest.raises(ValidationFailed) as refused:
        incidents.tasks.complete(case.task("incident_check").task_guid, data, actor="x")
    assert refused.value.fields[item].code == "required"


def test_the_information_to_the_gp_states_the_reasons_and_the_decision(incidents) -> None:
    case = report(incidents, "hunger_strike")
    district_work(case, "hunger_strike")
    with pytest.raises(ValidationFailed) as refused:
        incidents.tasks.complete(case.task("inform_gp").task_guid, {}, actor="x")
    assert {"gp_reasons", "gp_decision"} <= set(refused.value.fields)


# -- the start payload -----------------------------------------------------------------------------


def test_an_unknown_kind_is_refused_with_the_kinds_named(incidents) -> None:
    with pytest.raises(ValidationFailed) as refused:
        report(incidents, "escape")  # an emergency (¶2.12), not a single incident
    problem = refused.value.fields["kind"]
    assert problem.code == "not_an_option"
    for kind in KINDS:
        assert kind in problem.message
    assert incidents.tasks.list(TaskQuery(process_id="incident_report")) == []


def test_the_payload_takes_exactly_its_four_keys(incidents) -> None:
    with pytest.raises(ValidationFailed) as refused:
        report(incidents, "suicide", victim_name="Иванов")
    assert refused.value.fields["victim_name"].code == "unknown_field"
    with pytest.raises(ValidationFailed) as refused:
        incidents.runtime.start(
            "incident_report", {"institution": "UK-161-2", "kind": "suicide"}, actor="x"
        )
    assert {"received_at", "description"} <= set(refused.value.fields)
    assert incidents.tasks.list(TaskQuery(process_id="incident_report")) == []


def test_a_receipt_without_its_offset_is_refused(incidents) -> None:
    with pytest.raises(ValidationFailed) as refused:
        report(incidents, "suicide", received_at="2026-11-24T10:00:00")
    assert refused.value.fields["received_at"].code == "not_an_instant"


def test_the_start_form_names_the_kinds_in_three_languages() -> None:
    form = json.loads((MODEL.parent / "start.form.json").read_text())
    assert [c["key"] for c in form["components"]] == [
        "institution",
        "kind",
        "received_at",
        "description",
    ]
    [kind] = [c for c in form["components"] if c["key"] == "kind"]
    assert kind["type"] == "select"
    assert [o["value"] for o in kind["values"]] == KINDS
    for option in kind["values"]:
        assert option["label"] and option["label_kk"] and option["label_en"]


# -- the model -------------------------------------------------------------------------------------

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
BASIS = {
    "notify_region": "13.6",
    "incident_check": "13.6",
    "special_means_conclusion": "13.5",
    "inform_gp": "11.4",
    "notice_control": "10.6, 13.6",
    "check_control": "10.6",
    "gp_control": "11.4, 2.7, 9.1",
}


def test_every_user_task_states_its_basis_and_its_deadline_rule_in_three_languages() -> None:
    root = ET.parse(MODEL).getroot()
    tasks = root.findall(".//bpmn:userTask", NS)
    assert {t.get("id") for t in tasks} == set(BASIS)
    for task in tasks:
        props = {
            p.get("name"): p.get("value") for p in task.findall(".//spiffworkflow:property", NS)
        }
        assert props["basis"] == BASIS[task.get("id")]
        assert props["title_kk"] and props["title_en"] and props["name_kk"] and props["name_en"]
        if "deadline" in props:
            assert props["deadline_rule"] and props["deadline_rule_kk"]
            assert props["deadline_rule_en"]
    inform = next(t for t in tasks if t.get("id") == "inform_gp")
    rule = {p.get("name"): p.get("value") for p in inform.findall(".//spiffworkflow:property", NS)}
    assert rule["deadline_rule_en"] == "24 hours from receipt of the report of the incident"


def test_the_parameters_say_which_terms_are_internal_rules() -> None:
    root = ET.parse(MODEL).getroot()
    [parameters] = [
        s for s in root.findall(".//bpmn:scriptTask", NS) if s.get("id") == "parameters"
    ]
    assert parameters.get("name") == "Параметры процедуры"
    doc = parameters.find("bpmn:documentation", NS).text or ""
    assert "region_notice_hours = 3: internal rule" in doc
    assert "district_check_hours = 20: internal rule" in doc
    assert "gp_info_hours = 24: ¶11.4" in doc
    script = parameters.find("bpmn:script", NS).text or ""
    assert "gp_info_due = add_hours(received_at, gp_info_hours)" in script


# -- the doors: REST API and the start page --------------------------------------------------------


@pytest.fixture
def app(incidents):  # type: ignore[no-untyped-def]
    from web.app import create_app

    return create_app({"NADZOR_ENGINE": incidents, "TESTING": True})


@pytest.fixture
def api(app, incidents):  # type: ignore[no-untyped-def]
    from workflows.users import UserDirectory

    client = app.test_client()
    users = UserDirectory(incidents.db)

    def call(method: str, path: str, login: str, locale: str | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        if locale:  # the language is the user's own choice, remembered on the account
            users.set_locale(users.get(login).id, locale)
        headers = {"Authorization": f"Bearer {users.issue_token(login)}"}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def test_through_the_api_a_special_means_case_runs_with_its_materials(api, incidents) -> None:
    started = api(
        "POST",
        "/procedures/incident_report/instances",
        "tlg.prosecutor",
        json={
            "institution": "UK-161-2",
            "kind": "special_means",
            "received_at": RECEIVED_AT,
            "description": DESCRIPTIONS["special_means"],
        },
    )
    assert started.status_code == 201, started.json
    [task] = started.json["tasks"]
    assert (task["name"], task["office_code"]) == ("special_means_conclusion", "ALM-TLG")
    assert task["due_at"] == "2026-11-25T01:00:00+00:00"  # 20 hours (internal rule)
    done = api(
        "POST", f"/tasks/{task['id']}/complete", "tlg.prosecutor", json={"data": conclusion()}
    )
    assert done.status_code == 200, done.json
    refs = {r["name"]: r for r in done.json["data"]["materials"]}
    assert refs["акт_применения_спецсредств.pdf"]["sha256"] == hashlib.sha256(ACT).hexdigest()
    [inform] = [t for t in done.json["tasks"] if t["state"] == "ready"] or done.json["tasks"]
    assert (inform["name"], inform["office_code"]) == ("inform_gp", "ALM-OBL")
    assert inform["due_at"] == "2026-11-25T05:00:00+00:00"  # 24 hours from receipt (¶11.4)
    iid = started.json["id"]
    ref = refs["акт_применения_спецсредств.pdf"]
    got = api("GET", f"/cases/{iid}/attachments/{ref['attachment_id']}", "alm.prosecutor")
    assert got.status_code == 200 and got.data == ACT


CHOOSE = {
    "ru": "Выберите значение из списка.",
    "kk": "Тізімнен мән таңдаңыз.",
    "en": "Choose a value from the list.",
}


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_api_refuses_an_unknown_kind_in_the_users_words(api, incidents, locale) -> None:
    refused = api(
        "POST",
        "/procedures/incident_report/instances",
        "tlg.prosecutor",
        locale,
        json={
            "institution": "UK-161-2",
            "kind": "riot",  # an emergency of ¶2.12: emergency_report, not a single incident
            "received_at": RECEIVED_AT,
            "description": "…",
        },
    )
    assert refused.status_code == 422
    assert refused.json["problems"]["kind"]["code"] == "not_an_option"
    assert refused.json["problems"]["kind"]["params"]["options"] == KINDS
    assert refused.json["fields"]["kind"] == CHOOSE[locale]
    assert incidents.tasks.list(TaskQuery(process_id="incident_report")) == []


def test_the_start_page_offers_the_four_kinds_in_the_users_language(app, incidents) -> None:
    from tests.test_web_queue import csrf, sign_in
    from workflows.users import UserDirectory

    web = app.test_client()
    sign_in(web, "tlg.prosecutor")
    users = UserDirectory(incidents.db)
    for locale, labels in {
        "ru": ["Членовредительство", "Голодовка", "Суицид", "Применение специальных средств"],
        "kk": ["Өзіне-өзі зақым келтіру", "Аштық жариялау", "Арнаулы құралдарды қолдану"],
        "en": ["Self-injury", "Hunger strike", "Suicide", "Use of special means"],
    }.items():
        users.set_locale(users.get("tlg.prosecutor").id, locale)
        form = web.get("/start/incident_report")
        assert form.status_code == 200
        text = form.get_data(as_text=True)
        for label in labels:
            assert label in text, (locale, label)
    users.set_locale(users.get("tlg.prosecutor").id, "ru")
    form = web.get("/start/incident_report").get_data(True)
    bad = web.post(
        "/start/incident_report",
        data={
            "csrf_token": csrf(form),
            "institution": "UK-161-2",
            "kind": "riot",
            "received_at": "2026-11-24T10:00",
            "description": "…",
        },
    )
    assert bad.status_code == 422 and 'data-field="kind"' in bad.get_data(True)
    assert incidents.tasks.list(TaskQuery(process_id="incident_report")) == []


def test_the_case_page_reads_the_incident_in_words(app, incidents) -> None:
    from tests.test_web_queue import sign_in

    case = report(incidents, "suicide")
    district_work(case, "suicide")
    case.complete("inform_gp", **INFORMATION)
    web = app.test_client()
    sign_in(web, "alm.prosecutor")
    text = web.get(f"/cases/{case.id}").get_data(as_text=True)
    for words in (
        "Суицид",  # the kind by its label
        "Зарегистрировано в ЕРДР, начато досудебное расследование",  # the decision's label
        CHECK["causes"],
        INFORMATION["gp_decision"],
        "24.11.2026",  # dates in Almaty time, four-digit year
    ):
        assert words in text, words
    for engine_value in ("pretrial_registered", "suicide<", "2026-11-24T10:00:00+05:00"):
        assert engine_value not in text, engine_value


def test_the_conclusion_is_filed_on_its_task_page_with_the_materials(app, incidents) -> None:
    from tests.test_web_queue import csrf, sign_in

    case = report(incidents, "special_means")
    guid = case.task("special_means_conclusion").task_guid
    web = app.test_client()
    sign_in(web, "tlg.prosecutor")
    form = web.get(f"/tasks/{guid}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file"' in form and "multiple" in form
    assert "Подтверждающие материалы" in form
    sent = web.post(
        f"/tasks/{guid}",
        data={
            "csrf_token": csrf(form),
            "action": "complete",
            **{k: v for k, v in CONCLUSION.items() if k != "means_time"},
            "means_time": "2026-11-24T08:40",  # the page's local input, Almaty time
            "materials": [(io.BytesIO(ACT), "акт_применения_спецсредств.pdf", "application/pdf")],
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    [stored] = stored_files(incidents, case)
    assert stored.sha256 == hashlib.sha256(ACT).hexdigest()
    assert case.data()["means_time"].startswith("2026-11-24T08:40:00+05:00")
    assert case.open_task_names() == ["inform_gp"]
