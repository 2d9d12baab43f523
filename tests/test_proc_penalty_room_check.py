"""Procedure 2: the check of a placement in a penalty room (Instruction 104, ¶11.6, ¶13.9).

The prosecutor of the district office supervising the institution checks the lawfulness of the
placement resolution and of the detention conditions within 24 hours of the placement, 48 hours
if the institution is remote; a missed deadline is recorded and controlled by the head of the
regional office (¶10.6);
breaches found lead to an act of response, routed by procedure 4 (act_routing).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.engine import Engine
from engine.errors import ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_proc_act_routing import Case

MODEL = ROOT / "bpmn" / "penalty_room_check" / "penalty_room_check.bpmn"
PLACED = "2026-11-24T09:30:00+05:00"  # 04:30 UTC, on a Tuesday
IN_24_HOURS = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
IN_48_HOURS = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def checks(domain_engine: Engine, clock) -> Engine:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def place(
    engine: Engine,
    institution: str = "UK-161-2",
    placed_at: str = PLACED,
    **extra: object,
) -> Case:
    iid = engine.runtime.start(
        "penalty_room_check",
        {
            **extra,
            "institution": institution,
            "convict_name": "Петров Иван Сергеевич",
            "placed_at": placed_at,
            "resolution_number": "145",
            "resolution_date": "2026-11-24",
            "grounds": "Отказ от выхода на работу (ст. 128 УИК РК)",
            "duration_days": 10,
        },
        actor="integration",
    )
    return Case(engine, iid)


def check(case: Case, placement: bool = True, conditions: bool = True) -> None:
    case.complete(
        "placement_check",
        placement_lawful=placement,
        conditions_lawful=conditions,
        findings="Постановление и условия содержания проверены",
    )


#: a body of the demo directory per region and level (the body's level decides the route)
BODIES = {
    ("ALM-OBL", "district"): "ADM-LA-155-2",
    ("ALM-OBL", "regional"): "DUIS-ALM",
    ("KRG-OBL", "district"): "ADM-AK-159-21",
    ("KRG-OBL", "regional"): "DUIS-KRG",
}


def prepare_act(case: Case, level: str = "regional", act_type: str = "protest") -> None:
    data = case.data()
    assert case.holder("response_act") == ("prosecutor", data["supervising_office"])
    body = "KUIS-MVD" if level == "central" else BODIES[(data["regional_office"], level)]
    case.complete(
        "response_act",
        act_type=act_type,
        addressee=body,
        summary="Протест на постановление о водворении в ШИЗО",
    )


# -- who checks, and by when -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("institution", "office"),
    [
        ("UK-161-2", "ALM-TLG"),
        ("SIZO-AST", "AST-ESL"),
        ("UK-159-11", "KRG-KAR"),
        ("GH-AST", "MIL-AST"),
    ],
)
def test_a_placement_is_checked_by_the_district_office_of_the_institution_within_24_hours(
    checks, institution, office
) -> None:
    case = place(checks, institution)
    assert case.open_task_names() == ["placement_check"]
    assert case.holder("placement_check") == ("prosecutor", office)
    assert case.due("placement_check") == IN_24_HOURS
    # named with its procedure's folder: a called procedure may have a form of the same name
    assert case.task("placement_check").form == "penalty_room_check/placement_check.form.json"


@pytest.mark.parametrize("institution", ["UK-159-21", "UK-159-30"])
def test_a_placement_in_a_remote_colony_is_due_in_48_hours(checks, institution) -> None:
    case = place(checks, institution)
    assert case.holder("placement_check") == ("prosecutor", "KRG-ZHZ")
    assert case.due("placement_check") == IN_48_HOURS
    assert case.data()["institution_remote"] is True


def test_a_placement_time_without_an_offset_is_refused(checks) -> None:
    # an instant is ambiguous without its offset (the page adds Almaty's); nothing is started
    with pytest.raises(ValidationFailed) as refused:
        place(checks, placed_at="2026-11-24T09:30:00")
    assert refused.value.fields["placed_at"].code == "not_an_instant"
    assert checks.tasks.list(TaskQuery(process_id="penalty_room_check")) == []


def test_a_placement_in_an_unknown_institution_is_not_started(checks) -> None:
    with pytest.raises(ValidationFailed):
        place(checks, institution="UK-000-0")
    assert checks.tasks.list(TaskQuery(process_id="penalty_room_check")) == []


# -- the deadline ----------------------------------------------------------------------------------


def test_a_lawful_placement_checked_in_time_closes_the_case_without_an_act(checks) -> None:
    case = place(checks)
    assert checks.management.fire_due(IN_24_HOURS - SECOND) == 0
    check(case, placement=True, conditions=True)
    assert case.status == "completed"
    assert case.open_tasks() == []
    data = case.data()
    assert data["check_result"] == "lawful"
    assert "deadline_breached" not in data and "act_result" not in data
    # the deadline timer went with the check: nothing fires later
    assert checks.management.fire_due(IN_24_HOURS + timedelta(days=30)) == 0
    assert checks.verify_history()["ok"] is True


def test_a_missed_deadline_is_recorded_and_the_regional_head_controls_it(checks) -> None:
    case = place(checks, "UK-161-2")
    check_guid = case.task("placement_check").task_guid
    assert checks.management.fire_due(IN_24_HOURS - SECOND) == 0
    assert case.open_task_names() == ["placement_check"]

    assert checks.management.fire_due(IN_24_HOURS + SECOND) == 1
    # the check is not cancelled: the same task is still open, still due at the deadline
    assert case.open_task_names() == ["breach_control", "placement_check"]
    assert case.task("placement_check").task_guid == check_guid
    assert case.due("placement_check") == IN_24_HOURS
    # the head of the regional office controls the district (¶10.6), not the regional unit
    assert case.holder("breach_control") == ("head", "ALM-OBL")
    assert case.due("breach_control") is None
    in_queue = checks.tasks.list(TaskQuery(offices=["ALM-OBL"], roles=["head"], unassigned=True))
    assert [t.task_name for t in in_queue] == ["breach_control"]
    for_prosecutors = TaskQuery(offices=["ALM-OBL"], roles=["prosecutor"], unassigned=True)
    assert checks.tasks.list(for_prosecutors) == []
    assert checks.management.fire_due(IN_24_HOURS + timedelta(days=3)) == 0  # fires once

    check(case)  # a late check is still a check
    assert case.status == "running"  # the regional head has not finished his control
    case.complete("breach_control", control_measures="Районному прокурору указано на нарушение")
    assert case.status == "completed"
    data = case.data()
    assert data["deadline_breached"] is True
    assert data["check_result"] == "lawful"
    assert data["control_measures"] == "Районному прокурору указано на нарушение"
    events = [(e["event_type"], e["task_name"]) for e in checks.history.events(case.id)]
    assert ("timer_fired", "check_deadline") in events
    assert checks.verify_history()["ok"] is True


def test_at_the_deadline_instant_itself_the_check_is_not_yet_in_breach(checks) -> None:
    case = place(checks, "UK-161-2")
    checks.management.fire_due(IN_24_HOURS)
    assert case.open_task_names() == ["placement_check"]
    checks.management.fire_due(IN_24_HOURS + SECOND)
    assert case.open_task_names() == ["breach_control", "placement_check"]


def test_at_the_deadline_instant_no_timer_is_reported_fired(checks) -> None:
    case = place(checks, "UK-161-2")
    assert checks.management.fire_due(IN_24_HOURS) == 0
    events = [e["event_type"] for e in checks.history.events(case.id)]
    assert "timer_fired" not in events


def test_a_remote_colony_is_not_in_breach_after_24_hours_but_is_after_48(checks) -> None:
    case = place(checks, "UK-159-21")
    assert checks.management.fire_due(IN_24_HOURS + SECOND) == 0
    assert checks.management.fire_due(IN_48_HOURS - SECOND) == 0
    assert case.open_task_names() == ["placement_check"]
    assert checks.management.fire_due(IN_48_HOURS + SECOND) == 1
    assert case.holder("breach_control") == ("head", "KRG-OBL")
    assert case.holder("placement_check") == ("prosecutor", "KRG-ZHZ")


def test_a_placement_reported_after_its_deadline_is_in_breach_at_once(checks) -> None:
    case = place(checks, "UK-161-2", placed_at="2026-11-22T09:30:00+05:00")  # 2 days ago
    assert case.open_task_names() == ["breach_control", "placement_check"]
    assert case.holder("placement_check") == ("prosecutor", "ALM-TLG")
    assert case.holder("breach_control") == ("head", "ALM-OBL")
    assert case.data()["deadline_breached"] is True
    assert checks.management.fire_due(IN_24_HOURS + timedelta(days=3)) == 0


def test_a_placement_reported_after_its_deadline_shows_the_missed_due_date(checks) -> None:
    case = place(checks, "UK-161-2", placed_at="2026-11-22T09:30:00+05:00")
    assert case.due("placement_check") == datetime(2026, 11, 23, 4, 30, tzinfo=UTC)


def test_the_control_may_finish_before_the_late_check(checks) -> None:
    case = place(checks, "UK-159-11")
    checks.management.fire_due(IN_24_HOURS + SECOND)
    case.complete("breach_control", control_measures="Истребованы объяснения")
    assert case.open_task_names() == ["placement_check"]
    check(case)
    assert case.status == "completed"
    assert case.data()["deadline_breached"] is True


# -- breaches found: an act of response through procedure 4 ----------------------------------------


@pytest.mark.parametrize(
    ("placement", "conditions"), [(False, True), (True, False), (False, False)]
)
def test_an_unlawful_placement_or_unlawful_conditions_lead_to_an_act_of_response(
    checks, placement, conditions
) -> None:
    case = place(checks, "UK-161-2")
    check(case, placement=placement, conditions=conditions)
    assert case.open_task_names() == ["response_act"]
    assert case.holder("response_act") == ("prosecutor", "ALM-TLG")
    assert case.due("response_act") is None
    prepare_act(case, level="regional")
    # act_routing runs inside the case: from the district office through the regional office
    case.review("ALM-TLG", "forward")
    case.review("ALM-OBL", "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "ALM-OBL")
    assert case.task("act_dispatch").process_id == "penalty_room_check"
    case.dispatch(date="2026-11-27")
    assert case.answer("satisfied") == [case.id]
    assert case.status == "completed"
    data = case.data()
    assert data["check_result"] == "unlawful"
    assert data["origin_office"] == "ALM-TLG"
    assert data["route"] == ["ALM-TLG", "ALM-OBL"]
    assert data["act_result"] == "satisfied"
    assert checks.verify_history()["ok"] is True


def test_an_act_to_a_central_body_goes_through_the_region_and_gp(checks) -> None:
    case = place(checks, "UK-159-30")
    check(case, placement=False)
    prepare_act(case, level="central", act_type="submission")
    for office in ("KRG-ZHZ", "KRG-OBL", "GP"):
        case.review(office, "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "GP")


def test_an_act_returned_for_rework_goes_back_to_the_district_prosecutor(checks) -> None:
    case = place(checks, "UK-159-21")
    check(case, conditions=False)
    prepare_act(case, level="regional")
    case.review("KRG-ZHZ", "forward")
    case.review("KRG-OBL", "return", comment="Уточнить нарушенные нормы")
    assert case.holder("act_rework") == ("prosecutor", "KRG-ZHZ")
    case.rework()
    case.review("KRG-OBL", "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "KRG-OBL")


def test_a_refused_act_closes_the_check_with_the_refusal(checks) -> None:
    case = place(checks, "UK-161-2")
    check(case, placement=False)
    prepare_act(case, level="district")
    case.review("ALM-TLG", "refuse", comment="Нарушение устранено администрацией")
    assert case.status == "completed"
    data = case.data()
    assert (data["check_result"], data["act_result"]) == ("unlawful", "refused")
    assert data["refusal_reasons"] == "Нарушение устранено администрацией"


def test_an_unanswered_act_is_controlled_by_the_head_of_the_district_office(checks) -> None:
    case = place(checks, "UK-159-11")
    check(case, placement=False)
    prepare_act(case, level="regional")
    case.review("KRG-KAR", "forward")
    case.review("KRG-OBL", "forward")
    case.dispatch(date="2026-11-27")
    due = datetime(2026, 12, 27, 18, 59, 59, tzinfo=UTC)
    assert checks.management.fire_due(due - SECOND) == 0
    assert checks.management.fire_due(due + SECOND) == 1
    assert case.holder("act_answer_control") == ("head", "KRG-KAR")
    case.complete(
        "act_answer_control", control_action="close", control_notes="Внесено представление"
    )
    assert case.status == "completed"
    assert case.data()["act_result"] == "no_answer"


def test_a_missed_deadline_and_an_act_run_side_by_side(checks) -> None:
    case = place(checks, "UK-161-2")
    checks.management.fire_due(IN_24_HOURS + SECOND)
    check(case, placement=False)
    assert case.open_task_names() == ["breach_control", "response_act"]
    prepare_act(case, level="district")
    case.review("ALM-TLG", "forward")
    case.dispatch(date="2026-11-26")
    # the answer ends the act's procedure, but not the regional unit's control in the parent case
    assert case.answer("partly") == [case.id]
    assert case.open_task_names() == ["breach_control"]
    assert case.status == "running"
    case.complete("breach_control", control_measures="Указано на нарушение срока")
    assert case.status == "completed"
    data = case.data()
    assert (data["deadline_breached"], data["act_result"]) == (True, "partly")


# -- what is published -----------------------------------------------------------------------------


def test_the_published_check_carries_the_act_routing_procedure_it_calls(checks) -> None:
    definition = checks.repository.get(checks.repository.latest_id("penalty_room_check"))
    # the called procedure's folder travels with the version: its BPMN, decision table, forms
    assert sorted(definition.files) == [
        "act_routing/act_answer_control.form.json",
        "act_routing/act_dispatch.form.json",
        "act_routing/act_review.form.json",
        "act_routing/act_rework.form.json",
        "act_routing/act_routing.bpmn",
        "act_routing/answer_term.dmn",
        "act_routing/route.dmn",
        "act_routing/start.form.json",
        "penalty_room_check/breach_control.form.json",
        "penalty_room_check/penalty_check.form.json",
        "penalty_room_check/penalty_room_check.bpmn",
        "penalty_room_check/placement_check.form.json",
        "penalty_room_check/response_act.form.json",
        "penalty_room_check/start.form.json",
    ]
    # each start form is its own procedure's, though both are named start.form.json
    assert "convict_name" in {c["key"] for c in definition.start_form()["components"]}
    for name in ("act_review.form.json", "act_dispatch.form.json", "placement_check.form.json"):
        assert definition.form(name) is not None, name


# -- issue 11: whom the 24 / 48 hours concern, who checks, who controls ---------------------------


@pytest.mark.parametrize("status", ["suspect", "accused"])
def test_a_suspect_or_accused_is_checked_under_13_12_without_the_24_48_hours(
    checks, status
) -> None:
    """¶11.6 and ¶13.9 name convicts; ¶13.12 (penalties of suspects and the accused) fixes no
    term: the check has no deadline, and no breach is recorded however long it takes."""
    case = place(checks, "SIZO-ALM", person_status=status)
    assert case.open_task_names() == ["penalty_check"]
    assert case.holder("penalty_check") == ("prosecutor", "ALM-KNV")
    assert case.due("penalty_check") is None
    assert case.task("penalty_check").form == "penalty_room_check/penalty_check.form.json"
    assert checks.management.fire_due(IN_48_HOURS + timedelta(days=30)) == 0
    assert case.open_task_names() == ["penalty_check"]
    case.complete(
        "penalty_check", placement_lawful=True, conditions_lawful=True, findings="Проверено"
    )
    assert case.status == "completed"
    data = case.data()
    assert (data["held_as"], data["check_result"]) == (status, "lawful")
    assert "check_due" not in data and "deadline_breached" not in data


def test_an_unlawful_placement_of_an_accused_leads_to_an_act_as_for_a_convict(checks) -> None:
    case = place(checks, "SIZO-AST", person_status="accused")
    case.complete(
        "penalty_check", placement_lawful=False, conditions_lawful=True, findings="Нарушение"
    )
    assert case.holder("response_act") == ("prosecutor", "AST-ESL")


@pytest.mark.parametrize("status", [None, "convict"])
def test_a_convict_or_an_unnamed_status_keeps_the_24_hours(checks, status) -> None:
    extra = {"person_status": status} if status else {}
    case = place(checks, "UK-161-2", **extra)
    assert case.open_task_names() == ["placement_check"]
    assert case.due("placement_check") == IN_24_HOURS
    assert case.data()["held_as"] == "convict"


def test_a_status_outside_the_list_is_refused(checks) -> None:
    with pytest.raises(ValidationFailed) as refused:
        place(checks, person_status="witness")
    assert refused.value.fields["person_status"].code == "not_an_option"


def test_an_institution_supervised_by_its_regional_office_is_checked_there(checks) -> None:
    """¶10.10: the regional office may take the supervision of an institution in the regional
    centre; the institution's record names it, and the check and its act go there."""
    case = place(checks, "UK-159-1")
    assert case.holder("placement_check") == ("prosecutor", "KRG-OBL")
    assert case.due("placement_check") == IN_24_HOURS
    check(case, placement=False)
    assert case.holder("response_act") == ("prosecutor", "KRG-OBL")
    case.complete("response_act", act_type="submission", addressee="DUIS-KRG", summary="Акт")
    # the office that did the check is the act's author: a regional body is its own level
    assert case.holder("act_review") == ("head", "KRG-OBL")
    case.review("KRG-OBL", "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "KRG-OBL")
    data = case.data()
    assert (data["origin_office"], data["route"]) == ("KRG-OBL", ["KRG-OBL"])


def test_a_missed_check_by_the_regional_office_is_controlled_by_its_head(checks) -> None:
    case = place(checks, "UK-159-1")
    assert checks.management.fire_due(IN_24_HOURS + SECOND) == 1
    assert case.holder("breach_control") == ("head", "KRG-OBL")


def test_the_act_is_authored_by_the_office_that_did_the_check(checks) -> None:
    case = place(checks, "UK-159-21")
    check(case, conditions=False)
    prepare_act(case, level="regional")
    data = case.data()
    assert data["origin_office"] == data["supervising_office"] == "KRG-ZHZ"
    # the addressee's name and level come from the directory, not from the form
    assert data["addressee_level"] == "regional"
    assert data["addressee_name"] == checks.extensions["directory"].body("DUIS-KRG").name
    assert data["route"] == ["KRG-ZHZ", "KRG-OBL"]


def test_an_addressee_the_directory_does_not_know_is_refused_and_the_task_stays(checks) -> None:
    case = place(checks, "UK-161-2")
    check(case, placement=False)
    with pytest.raises(ValidationFailed) as refused:
        case.complete("response_act", act_type="protest", addressee="NOWHERE", summary="Акт")
    assert refused.value.fields["addressee"].code == "unknown_body"
    assert case.open_task_names() == ["response_act"]
    assert "origin_office" not in case.data() or case.data()["origin_office"] != "ALM-TLG"


def test_the_breach_control_cites_10_6_not_11_6(checks) -> None:
    from lxml import etree

    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "s": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    }
    root = etree.parse(str(MODEL))
    [task] = root.findall(".//bpmn:userTask[@id='breach_control']", ns)
    props = {p.get("name"): p.get("value") for p in task.findall(".//s:property", ns)}
    assert props["basis"] == "10.6"
    documentation = task.findtext("bpmn:documentation", namespaces=ns)
    assert "¶10.6" in documentation and "¶11.6" not in documentation
    [check_task] = root.findall(".//bpmn:userTask[@id='placement_check']", ns)
    props = {p.get("name"): p.get("value") for p in check_task.findall(".//s:property", ns)}
    assert props["basis"] == "11.6, 13.9"
    assert (
        props["deadline_rule_en"]
        == "24 hours from the placement, 48 hours for a remote institution"
    )
