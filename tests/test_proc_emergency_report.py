"""Emergency report: every emergency of ¶2.12 and unlawful influence (¶13.8) — the district's
on-site check and immediate notice (¶13.4, ¶10.7), the region's 1 h / 3 h reports to the GP unit
(¶11.3), the regional prosecutor's immediate response to torture (¶10.4), registration in the
pre-trial register without waiting for the region (¶13.8), acts of response through act_routing,
the legality check of the criminal case (¶11.8); every missed deadline recorded and escalated."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR

FOLDER = BPMN_DIR / "emergency_report"
MODEL = FOLDER / "emergency_report.bpmn"
KINDS = (
    "disaster",
    "officer_crime",
    "inmate_crime",
    "torture",
    "unlawful_influence",
    "violent_death",
    "group_disobedience",
    "hostage_taking",
    "riot",
    "mass_disorder",
    "evasion",
    "escape",
    "work_refusal",
    "hunger_strike",
)
UNLAWFUL = ("torture", "unlawful_influence")
OTHER = tuple(k for k in KINDS if k not in UNLAWFUL)
RECEIVED = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # Tuesday 10:00 in Almaty, the fixture clock
PAYLOAD = {
    "institution": "UK-161-2",  # district office ALM-TLG, regional office ALM-OBL
    "kind": "riot",
    "received_at": "2026-11-24T10:00:00+05:00",
    "description": "Осуждённые отряда 5 повредили имущество в жилой зоне",
}
#: 10 working days after Tuesday 24 November 2026, 10:00 Almaty: Tuesday 8 December
LEGALITY_DUE = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
#: 30 working days (16-17 December are Independence Day): Monday 11 January 2027
OUTCOME_DUE = datetime(2027, 1, 11, 5, 0, tzinfo=UTC)

REPORT = {
    "event_datetime": "2026-11-24T08:00:00+05:00",
    "event_place": "Жилая зона, отряд 5",
    "circumstances": "…",
    "causes": "…",
    "goals": "…",
    "methods": "…",
    "objects_tools": "…",
    "persons_count": 3,
    "persons": "А. (ст. 188), Б. (ст. 190), В. (ст. 188)",
    "criminal_articles": "ст. 188, 190 УК",
    "persons_on_register": "Не состоят",
}
#: what each task's form requires, unless a test says otherwise
REQUIRED = {
    "notify_region": {
        "region_notified_at": "2026-11-24T10:15:00+05:00",
        "region_notified_to": "Дежурный прокурор области",
    },
    "confirm_notice": {
        "gp_notified_at": "2026-11-24T10:40:00+05:00",
        "gp_notified_to": "Дежурный ГП",
    },
    "full_report": REPORT,
    "onsite_check": {"visited_at": "2026-11-24T11:00:00+05:00", "check_findings": "Проверено"},
    "regional_response": {"response_measures": "Выезд заместителя прокурора области"},
    "decide": {"register": True, "decision_reasons": "п. 13.8"},
    "transfer": {"investigative_body": "АФМ", "transferred_at": "2026-11-24T15:00:00+05:00"},
    "legality_check": {"procedural_decisions_lawful": True, "legality_findings": "Законны"},
    "outcome_control": {"investigation_status": "Идёт расследование"},
    "approve_refusal": {"approval_comment": "Согласен"},
}
CONTROL = {"control_notes": "Истребованы объяснения"}


def start(engine, **changes) -> int:  # type: ignore[no-untyped-def]
    engine.repository.publish(MODEL, now=engine.clock.now())
    payload = {**PAYLOAD, **changes}
    return engine.runtime.start("emergency_report", payload, actor="tlg.prosecutor")


def tasks(engine, iid: int) -> dict:  # type: ignore[no-untyped-def]
    return {t.task_name: t for t in engine.tasks.list(TaskQuery(instance_id=iid))}


def who(engine, iid: int, name: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    task = tasks(engine, iid)[name]
    return task.role, task.office_code


def complete(engine, iid: int, name: str, **data) -> None:  # type: ignore[no-untyped-def]
    values = {**REQUIRED.get(name, CONTROL if name.endswith("_control") else {}), **data}
    engine.tasks.complete(tasks(engine, iid)[name].task_guid, values, actor="someone")


def fire(engine, at: datetime) -> int:  # type: ignore[no-untyped-def]
    return engine.management.fire_due(at)


# -- the district: on site and an immediate notice (¶13.4, ¶10.7) -----------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_district_goes_on_site_and_notifies_the_region_at_once(domain_engine, kind) -> None:
    iid = start(domain_engine, kind=kind)
    open_tasks = tasks(domain_engine, iid)
    assert set(open_tasks) == {"notify_region", "onsite_check"}
    notify, check = open_tasks["notify_region"], open_tasks["onsite_check"]
    assert (notify.role, notify.office_code) == ("prosecutor", "ALM-TLG")
    assert notify.due_at == RECEIVED + timedelta(minutes=30)  # "immediately": internal rule
    assert (check.role, check.office_code) == ("prosecutor", "ALM-TLG")
    assert check.due_at == RECEIVED + timedelta(hours=24)  # internal rule
    assert fire(domain_engine, RECEIVED + timedelta(minutes=29)) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_missed_district_notice_is_recorded_and_the_regional_head_controls_it(
    domain_engine, kind
) -> None:
    iid = start(domain_engine, kind=kind)
    assert fire(domain_engine, RECEIVED + timedelta(minutes=30, seconds=1)) == 1
    assert who(domain_engine, iid, "district_notice_control") == ("head", "ALM-OBL")
    assert "notify_region" in tasks(domain_engine, iid)  # the late notice is still owed
    assert domain_engine.runtime.data(iid)["district_notice_breached"] is True
    complete(domain_engine, iid, "district_notice_control")
    complete(domain_engine, iid, "notify_region")
    assert "confirm_notice" in tasks(domain_engine, iid)


# -- the region: 1 hour, 3 hours, the immediate response (¶11.3, ¶10.4) -----------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_regional_unit_reports_to_the_gp_unit_in_one_and_three_hours(
    domain_engine, kind
) -> None:
    iid = start(domain_engine, kind=kind)
    complete(domain_engine, iid, "notify_region")
    assert who(domain_engine, iid, "confirm_notice") == ("prosecutor", "ALM-OBL")
    assert tasks(domain_engine, iid)["confirm_notice"].due_at == RECEIVED + timedelta(hours=1)
    # the region's prosecutor responds at once to torture and unlawful influence only (¶10.4)
    response = tasks(domain_engine, iid).get("regional_response")
    if kind in UNLAWFUL:
        assert (response.role, response.office_code) == ("head", "ALM-OBL")
        assert response.due_at == RECEIVED + timedelta(hours=24)
    else:
        assert response is None
    complete(domain_engine, iid, "confirm_notice")
    full = tasks(domain_engine, iid)["full_report"]
    assert (full.role, full.office_code, full.due_at) == (
        "prosecutor",
        "ALM-OBL",
        RECEIVED + timedelta(hours=3),
    )
    complete(domain_engine, iid, "full_report")
    assert fire(domain_engine, RECEIVED + timedelta(hours=3, seconds=1)) == 0
    data = domain_engine.runtime.data(iid)
    assert not any(key in data for key in ("notice_breached", "report_breached"))


@pytest.mark.parametrize("kind", KINDS)
def test_missed_hour_and_three_hours_are_recorded_and_escalated_to_the_gp_unit(
    domain_engine, kind
) -> None:
    iid = start(domain_engine, kind=kind)
    complete(domain_engine, iid, "notify_region")
    assert fire(domain_engine, RECEIVED + timedelta(hours=1, seconds=1)) == 1
    assert who(domain_engine, iid, "notice_control") == ("prosecutor", "GP")
    assert domain_engine.runtime.data(iid)["notice_breached"] is True
    complete(domain_engine, iid, "confirm_notice")
    assert fire(domain_engine, RECEIVED + timedelta(hours=3, seconds=1)) == 1
    assert who(domain_engine, iid, "report_control") == ("prosecutor", "GP")
    assert {"full_report", "notice_control"} <= set(tasks(domain_engine, iid))
    assert domain_engine.runtime.data(iid)["report_breached"] is True


def test_the_one_hour_counts_from_receipt_even_when_the_district_notifies_late(
    domain_engine,
) -> None:
    """¶11.3 read with ¶13.4: the hour runs from the receipt; a late district notice is its own
    breach and does not give the region a new hour."""
    iid = start(domain_engine)
    fire(domain_engine, RECEIVED + timedelta(minutes=50))
    complete(domain_engine, iid, "notify_region")
    assert tasks(domain_engine, iid)["confirm_notice"].due_at == RECEIVED + timedelta(hours=1)


def test_a_missed_immediate_response_is_escalated_to_the_gp_unit(domain_engine) -> None:
    iid = start(domain_engine, kind="torture")
    complete(domain_engine, iid, "notify_region")
    complete(domain_engine, iid, "confirm_notice")
    complete(domain_engine, iid, "full_report")
    assert fire(domain_engine, RECEIVED + timedelta(hours=24, seconds=1)) >= 1
    assert who(domain_engine, iid, "response_control") == ("prosecutor", "GP")
    assert who(domain_engine, iid, "onsite_control") == ("head", "ALM-OBL")  # due at 24 h too
    assert domain_engine.runtime.data(iid)["response_breached"] is True


def test_more_than_five_persons_need_a_list(domain_engine) -> None:
    iid = start(domain_engine)
    complete(domain_engine, iid, "notify_region")
    complete(domain_engine, iid, "confirm_notice")
    many = {**REPORT, "persons_count": 6}
    del many["persons"]
    with pytest.raises(ValidationFailed) as refused:
        complete(domain_engine, iid, "full_report", **many)
    assert set(refused.value.fields) == {"persons_list"}
    assert refused.value.fields["persons_list"].code == "required"
    assert "full_report" in tasks(domain_engine, iid)  # nothing moved
    complete(domain_engine, iid, "full_report", **many, persons_list="1. А.\n2. Б.\n…\n6. Е.")
    complete(domain_engine, iid, "onsite_check")
    assert domain_engine.runtime.get(iid).status == "completed"
    assert domain_engine.runtime.data(iid)["persons_list"].startswith("1. А.")


# -- on site: deadline, regional control, acts of response (¶13.4, ¶10.6, ¶10.7) ---------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_missed_on_site_check_is_recorded_and_the_regional_head_controls_it(
    domain_engine, kind
) -> None:
    iid = start(domain_engine, kind=kind)
    complete(domain_engine, iid, "notify_region")
    complete(domain_engine, iid, "confirm_notice")
    complete(domain_engine, iid, "full_report")
    if kind in UNLAWFUL:
        complete(domain_engine, iid, "regional_response")
    assert fire(domain_engine, RECEIVED + timedelta(hours=24)) == 0
    assert fire(domain_engine, RECEIVED + timedelta(hours=24, seconds=1)) == 1
    assert who(domain_engine, iid, "onsite_control") == ("head", "ALM-OBL")
    assert "onsite_check" in tasks(domain_engine, iid)
    assert domain_engine.runtime.data(iid)["onsite_breached"] is True


@pytest.mark.parametrize("kind", ("riot", "torture"))
def test_breaches_found_on_site_go_as_an_act_through_act_routing(domain_engine, kind) -> None:
    iid = start(domain_engine, kind=kind)
    complete(
        domain_engine,
        iid,
        "onsite_check",
        violations_found=True,
        act_type="submission",
        addressee="ADM-LA-155-2",  # a local body of the directory: the act goes directly
        act_summary="Устранить причины происшествия",
    )
    assert who(domain_engine, iid, "act_review") == ("head", "ALM-TLG")
    data = domain_engine.runtime.data(iid)
    assert (data["origin_office"], data["summary"]) == ("ALM-TLG", "Устранить причины происшествия")
    assert data["addressee_name"] == "Администрация учреждения ЛА-155/2"  # from the directory


def test_an_addressee_the_directory_does_not_know_is_refused_on_the_check(domain_engine) -> None:
    iid = start(domain_engine)
    with pytest.raises(ValidationFailed) as refused:
        complete(
            domain_engine,
            iid,
            "onsite_check",
            violations_found=True,
            act_type="warning",
            addressee="NO-SUCH-BODY",
            act_summary="…",
        )
    assert refused.value.fields["addressee"].code == "unknown_body"
    assert "onsite_check" in tasks(domain_engine, iid)  # the check is not taken


def test_an_act_needs_its_addressee_when_breaches_are_found(domain_engine) -> None:
    iid = start(domain_engine)
    with pytest.raises(ValidationFailed) as refused:
        complete(domain_engine, iid, "onsite_check", violations_found=True)
    assert {"act_type", "addressee", "act_summary"} <= set(refused.value.fields)


# -- torture and unlawful influence: the pre-trial register (¶13.8) ---------------------------


@pytest.mark.parametrize("kind", UNLAWFUL)
def test_registered_and_transferred_without_waiting_for_the_regions_reports(
    domain_engine, kind
) -> None:
    iid = start(domain_engine, kind=kind)
    complete(domain_engine, iid, "onsite_check")
    open_tasks = tasks(domain_engine, iid)
    assert "notify_region" in open_tasks  # the region has not even been told yet
    assert who(domain_engine, iid, "decide") == ("prosecutor", "ALM-TLG")
    complete(domain_engine, iid, "decide")
    assert domain_engine.runtime.data(iid)["registration"]["number"].startswith("ERDR-2026-")
    assert who(domain_engine, iid, "transfer") == ("prosecutor", "ALM-TLG")
    complete(domain_engine, iid, "transfer")
    legality = tasks(domain_engine, iid)["legality_check"]
    assert (legality.role, legality.office_code) == ("prosecutor", "ALM-OBL")
    assert legality.due_at == LEGALITY_DUE


@pytest.mark.parametrize("kind", OTHER)
def test_other_emergencies_are_not_registered_by_this_procedure(domain_engine, kind) -> None:
    iid = start(domain_engine, kind=kind)
    complete(domain_engine, iid, "onsite_check")
    assert set(tasks(domain_engine, iid)) == {"notify_region"}


def test_the_case_waits_for_the_outcome_and_closes_after_the_legality_check(domain_engine) -> None:
    iid = start(domain_engine, kind="torture")
    for name in ("notify_region", "confirm_notice", "full_report", "regional_response"):
        complete(domain_engine, iid, name)
    complete(domain_engine, iid, "onsite_check")
    complete(domain_engine, iid, "decide")
    complete(domain_engine, iid, "transfer")
    delivered = domain_engine.runtime.deliver_message(
        "investigation_outcome", {"result": "charged"}, correlation={"case_id": iid}, actor="erdr"
    )
    assert delivered == [iid]
    assert set(tasks(domain_engine, iid)) == {"legality_check"}  # ¶11.8 still owed
    complete(domain_engine, iid, "legality_check")
    assert domain_engine.runtime.get(iid).status == "completed"
    data = domain_engine.runtime.data(iid)
    assert data["emergency_result"] == "investigated" and data["outcome"] == {"result": "charged"}


def test_no_outcome_by_the_control_date_gives_the_region_a_control_task(domain_engine) -> None:
    iid = start(domain_engine, kind="unlawful_influence")
    for name in ("notify_region", "confirm_notice", "full_report", "regional_response"):
        complete(domain_engine, iid, name)
    complete(domain_engine, iid, "onsite_check")
    complete(domain_engine, iid, "decide")
    complete(domain_engine, iid, "transfer")
    complete(domain_engine, iid, "legality_check")
    assert fire(domain_engine, OUTCOME_DUE) == 0
    assert fire(domain_engine, OUTCOME_DUE + timedelta(seconds=1)) == 1
    assert who(domain_engine, iid, "outcome_control") == ("prosecutor", "ALM-OBL")
    complete(domain_engine, iid, "outcome_control")
    assert domain_engine.runtime.get(iid).status == "running"  # still waiting for the outcome
    domain_engine.runtime.deliver_message(
        "investigation_outcome", {"result": "closed"}, correlation={"case_id": iid}, actor="erdr"
    )
    assert domain_engine.runtime.get(iid).status == "completed"


def test_a_refusal_to_register_needs_the_regional_heads_approval(domain_engine) -> None:
    iid = start(domain_engine, kind="torture")
    for name in ("notify_region", "confirm_notice", "full_report", "regional_response"):
        complete(domain_engine, iid, name)
    complete(domain_engine, iid, "onsite_check")
    complete(domain_engine, iid, "decide", register=False, decision_reasons="Факт не подтверждён")
    assert who(domain_engine, iid, "approve_refusal") == ("head", "ALM-OBL")
    assert "registration" not in domain_engine.runtime.data(iid)
    complete(domain_engine, iid, "approve_refusal", refusal_approved=True)
    assert domain_engine.runtime.get(iid).status == "completed"
    assert domain_engine.runtime.data(iid)["emergency_result"] == "not_registered"


def test_a_refusal_the_region_does_not_approve_is_registered(domain_engine) -> None:
    iid = start(domain_engine, kind="unlawful_influence")
    complete(domain_engine, iid, "onsite_check")
    complete(domain_engine, iid, "decide", register=False, decision_reasons="Нет оснований")
    complete(domain_engine, iid, "approve_refusal", approval_comment="Зарегистрировать: есть следы")
    assert domain_engine.runtime.data(iid)["registration"]["number"].startswith("ERDR-")
    assert "transfer" in tasks(domain_engine, iid)


# -- a criminal case on the emergency: legality of procedural decisions (¶11.8) ----------------


@pytest.mark.parametrize("kind", OTHER)
def test_a_criminal_case_on_the_emergency_gets_a_legality_check(domain_engine, kind) -> None:
    iid = start(domain_engine, kind=kind)
    complete(
        domain_engine,
        iid,
        "onsite_check",
        criminal_case_opened=True,
        criminal_case_number="261500031000123",
    )
    legality = tasks(domain_engine, iid)["legality_check"]
    assert (legality.role, legality.office_code, legality.due_at) == (
        "prosecutor",
        "ALM-OBL",
        LEGALITY_DUE,
    )


def test_a_missed_legality_check_is_recorded_and_the_regional_head_controls_it(
    domain_engine,
) -> None:
    iid = start(domain_engine, kind="escape")
    for name in ("notify_region", "confirm_notice", "full_report"):
        complete(domain_engine, iid, name)
    complete(
        domain_engine, iid, "onsite_check", criminal_case_opened=True, criminal_case_number="1"
    )
    assert fire(domain_engine, LEGALITY_DUE + timedelta(seconds=1)) == 1
    assert who(domain_engine, iid, "legality_control") == ("head", "ALM-OBL")
    assert domain_engine.runtime.data(iid)["legality_breached"] is True
    complete(domain_engine, iid, "legality_control")
    complete(domain_engine, iid, "legality_check", procedural_decisions_lawful=False)
    assert domain_engine.runtime.get(iid).status == "completed"


def test_no_criminal_case_and_no_breaches_close_the_case_after_the_reports(domain_engine) -> None:
    iid = start(domain_engine, kind="hunger_strike")
    for name in ("notify_region", "confirm_notice", "full_report", "onsite_check"):
        complete(domain_engine, iid, name)
    assert domain_engine.runtime.get(iid).status == "completed"


# -- the start payload ---------------------------------------------------------------------------


def test_an_unknown_kind_is_refused_with_words_and_nothing_is_started(domain_engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start(domain_engine, kind="fire_drill")
    problem = refused.value.fields["kind"]
    assert problem.code == "not_an_option"
    assert "choose one of" in problem.message and "hunger_strike" in problem.message
    assert domain_engine.tasks.list(TaskQuery(process_id="emergency_report")) == []


def test_the_start_payload_is_exactly_the_four_fields(domain_engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start(domain_engine, victim_name="Иванов")
    assert set(refused.value.fields) == {"victim_name"}
    with pytest.raises(ValidationFailed) as refused:
        domain_engine.runtime.start(
            "emergency_report",
            {k: v for k, v in PAYLOAD.items() if k != "received_at"},
            actor="tlg.prosecutor",
        )
    assert set(refused.value.fields) == {"received_at"}


# -- the model ---------------------------------------------------------------------------------

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}


def properties(element: ET.Element) -> dict[str, str]:
    return {
        p.get("name", ""): p.get("value", "")
        for p in element.findall("bpmn:extensionElements/spiff:properties/spiff:property", NS)
    }


def test_the_model_publishes_with_its_forms_and_act_routing(domain_engine) -> None:
    loaded, _ = domain_engine.repository.publish(MODEL, now=domain_engine.clock.now())
    names = {Path(p).name for p in loaded.files}
    assert {"emergency_report.bpmn", "start.form.json", "full_report.form.json"} <= names
    assert "act_routing.bpmn" in names


def test_every_user_task_names_its_basis_and_deadline_rule_in_three_languages() -> None:
    root = ET.parse(MODEL).getroot()
    user_tasks = root.findall(".//bpmn:userTask", NS)
    assert len(user_tasks) >= 10
    for task in user_tasks:
        props = properties(task)
        assert props.get("basis"), task.get("id")
        assert props.get("title_kk") and props.get("title_en"), task.get("id")
        if "deadline" in props:
            assert all(
                props.get(k) for k in ("deadline_rule", "deadline_rule_kk", "deadline_rule_en")
            )
    for lane in root.findall(".//bpmn:lane", NS):
        assert {"name_ru", "name_kk", "name_en"} <= set(properties(lane))
    [parameters] = [
        t for t in root.findall(".//bpmn:scriptTask", NS) if t.get("id") == "parameters"
    ]
    documentation = parameters.findtext("bpmn:documentation", "", NS)
    assert "internal rule" in documentation and "¶11.3" in documentation


def test_the_start_form_offers_the_fourteen_kinds_in_three_languages() -> None:
    import json

    form = json.loads((FOLDER / "start.form.json").read_text(encoding="utf-8"))
    assert [c["key"] for c in form["components"]] == [
        "institution",
        "kind",
        "received_at",
        "description",
    ]
    [kind] = [c for c in form["components"] if c["key"] == "kind"]
    assert [v["value"] for v in kind["values"]] == list(KINDS)
    assert all(v["label"] and v["label_kk"] and v["label_en"] for v in kind["values"])


# -- as a called process -------------------------------------------------------------------------

CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="caller_definitions" targetNamespace="http://nadzor.kz/test">
  <bpmn:process id="emergency_caller" name="Вызывающая процедура" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="found" name="Пытки выявлены">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>appeal_received_at = received_at
received_at = torture_found_at
kind = "torture"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:callActivity id="emergency" name="ЧП" calledElement="emergency_report">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="found" />
    <bpmn:sequenceFlow id="f2" sourceRef="found" targetRef="emergency" />
    <bpmn:sequenceFlow id="f3" sourceRef="emergency" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_called_by_another_procedure_its_deadlines_count_from_the_callers_received_at(
    domain_engine, tmp_path
) -> None:
    """An appeal received five days ago whose check found torture now: the emergency chain's
    deadlines run from the finding, so nothing is breached at once."""
    caller = tmp_path / "emergency_caller" / "emergency_caller.bpmn"
    caller.parent.mkdir()
    caller.write_text(CALLER, encoding="utf-8")
    domain_engine.repository.publish(caller, now=domain_engine.clock.now())
    iid = domain_engine.runtime.start(
        "emergency_caller",
        {
            "institution": "UK-161-2",
            "received_at": "2026-11-19T10:00:00+05:00",
            "torture_found_at": "2026-11-24T10:00:00+05:00",
            "description": "Проверка по обращению выявила избиение",
        },
        actor="tlg.prosecutor",
    )
    assert fire(domain_engine, RECEIVED + timedelta(minutes=1)) == 0
    open_tasks = tasks(domain_engine, iid)
    assert set(open_tasks) == {"notify_region", "onsite_check"}
    assert open_tasks["notify_region"].due_at == RECEIVED + timedelta(minutes=30)
    complete(domain_engine, iid, "notify_region")
    assert tasks(domain_engine, iid)["confirm_notice"].due_at == RECEIVED + timedelta(hours=1)
    assert "regional_response" in tasks(domain_engine, iid)  # kind torture from the caller


# -- through the REST API: the same rules, in words -----------------------------------------------


@pytest.fixture
def api(domain_engine):  # type: ignore[no-untyped-def]
    from web.app import create_app
    from workflows.users import UserDirectory

    domain_engine.repository.publish(MODEL, now=domain_engine.clock.now())
    client = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True}).test_client()
    token = UserDirectory(domain_engine.db).issue_token("tlg.prosecutor")

    def post(path: str, body: dict):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {token}"}
        return client.post(f"/api/v1{path}", headers=headers, json=body)

    return post


def test_the_api_starts_an_emergency_and_refuses_an_unknown_kind_in_words(
    api, domain_engine
) -> None:
    answer = api("/procedures/emergency_report/instances", {**PAYLOAD, "kind": "fire_drill"})
    assert answer.status_code == 422, answer.json
    assert answer.json["problems"]["kind"]["code"] == "not_an_option"
    # in the user's language, as the page says it
    assert answer.json["fields"]["kind"] == "Выберите значение из списка."
    assert set(answer.json["fields"]) == {"kind"}
    assert domain_engine.tasks.list(TaskQuery(process_id="emergency_report")) == []
    answer = api("/procedures/emergency_report/instances", {**PAYLOAD, "kind": "hunger_strike"})
    assert answer.status_code == 201, answer.json
    assert {t["name"] for t in answer.json["tasks"]} == {"notify_region", "onsite_check"}


# -- on the pages: words, not engine data --------------------------------------------------------


@pytest.fixture
def web(domain_engine):  # type: ignore[no-untyped-def]
    from web.app import create_app

    domain_engine.repository.publish(MODEL, now=domain_engine.clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True}).test_client()


def test_the_regional_head_reads_the_late_district_notice_in_words(web, domain_engine) -> None:
    from tests.test_web_queue import sign_in

    iid = start(domain_engine)
    fire(domain_engine, RECEIVED + timedelta(minutes=31))
    control = tasks(domain_engine, iid)["district_notice_control"]
    sign_in(web, "alm.head")
    page = web.get(f"/tasks/{control.task_guid}").get_data(as_text=True)
    assert "Контроль: район не сообщил незамедлительно" in page
    assert "Бунт (умышленное уничтожение имущества)" in page  # the kind's label, not "riot"
    case = web.get(f"/cases/{iid}").get_data(as_text=True)
    assert "Нарушен срок сообщения района в прокуратуру области" in case
    # terms of steps a riot without a criminal case never reaches are not shown as its terms
    assert "Срок полной информации (3 часа)" in case
    assert "Срок проверки законности" not in case and "Срок реагирования" not in case
