"""Appeals of NPM participants and PMC members (Instruction 104, ¶11.2, ¶13.3; ¶11.1, ¶13.2;
¶13.8): taken in by the office that received them, organised by the regional office, checked
within 15 working days; breaches get an act of response or are entrusted to the authorised body,
torture starts the emergency chain counted from its finding, and the applicant is answered
without waiting for the investigation's outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from engine.errors import EngineError, ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR

MODEL = BPMN_DIR / "npm_pmc_appeal" / "npm_pmc_appeal.bpmn"
PAYLOAD = {
    "applicant_kind": "npm",
    "applicant_name": "Сарсенова А.",
    "institution": "UK-161-2",
    "origin_office": "ALM-TLG",
    "received_at": "2026-11-24T10:00:00+05:00",
    "content": "Жалобы на условия в ШИЗО",
}
# 15 working days from Tuesday 24 November 2026 is Tuesday 15 December, 10:00 Almaty
DUE = datetime(2026, 12, 15, 5, 0, tzinfo=UTC)
CHECK = {"check_report": "Проверка проведена"}
# the check found torture on Monday 30 November at 15:00 Almaty, six days after the appeal came
FOUND = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TORTURE = {
    "torture_found": True,
    "victim_name": "Болатов С.",
    "torture_description": "Избиение при обыске",
    "torture_found_at": "2026-11-30T15:00:00+05:00",
}
ACT = {
    "act_type": "submission",
    "addressee": "DUIS-ALM",  # a regional territorial body of the directory
    "act_summary": "Устранить нарушения",
}
CHAIN = {  # what torture_report's tasks require
    "notify_region": {
        "region_notified_at": "2026-11-30T15:20:00+05:00",
        "region_notified_to": "Дежурный прокурор области",
    },
    "confirm_notice": {
        "gp_notified_at": "2026-11-30T15:40:00+05:00",
        "gp_notified_to": "Дежурный ГП",
    },
    "full_report": {
        "event_datetime": "2026-11-29T08:00:00+05:00",
        "event_place": "ШИЗО",
        "circumstances": "…",
        "causes": "…",
        "goals": "…",
        "methods": "…",
        "objects_tools": "…",
        "persons_count": 2,
        "persons": "А., Б.",
        "criminal_articles": "ст. 146 УК",
        "persons_on_register": "Не состоят",
    },
    "regional_response": {"response_measures": "Выезд заместителя прокурора области"},
    "onsite_check": {"visited_at": "2026-11-30T18:00:00+05:00", "check_findings": "Подтверждено"},
    "decide": {"register": True, "decision_reasons": "п. 13.8"},
    "transfer": {"investigative_body": "АФМ", "transferred_at": "2026-12-01T10:00:00+05:00"},
}


def start(engine, **changes):  # type: ignore[no-untyped-def]
    engine.repository.publish(MODEL, now=engine.clock.now())
    payload = {k: v for k, v in {**PAYLOAD, **changes}.items() if v is not None}
    return engine.runtime.start("npm_pmc_appeal", payload, actor="tlg.prosecutor")


def tasks(engine, iid: int) -> dict:  # type: ignore[no-untyped-def]
    return {t.task_name: t for t in engine.tasks.list(TaskQuery(instance_id=iid))}


def complete(engine, iid: int, name: str, **data) -> None:  # type: ignore[no-untyped-def]
    engine.tasks.complete(tasks(engine, iid)[name].task_guid, data, actor="someone")


def intake(engine, iid: int, several=False, officials=False, meeting=False) -> None:  # type: ignore[no-untyped-def]
    complete(
        engine,
        iid,
        "intake",
        several_institutions=several,
        regional_officials=officials,
        meeting_needed=meeting,
    )


def register_and_transfer(engine, iid: int) -> None:  # type: ignore[no-untyped-def]
    for name in ("notify_region", "confirm_notice", "full_report", "regional_response"):
        complete(engine, iid, name, **CHAIN[name])
    for name in ("onsite_check",):
        complete(engine, iid, name, **CHAIN[name])
    complete(engine, iid, "decide", **CHAIN["decide"])
    complete(engine, iid, "transfer", **CHAIN["transfer"])


# -- who takes the appeal -----------------------------------------------------------------------


def test_the_district_office_that_received_the_appeal_takes_it_in_due_in_15_working_days(
    domain_engine,
) -> None:
    iid = start(domain_engine)
    task = tasks(domain_engine, iid)["intake"]
    assert (task.role, task.office_code, task.due_at) == ("prosecutor", "ALM-TLG", DUE)


def test_an_appeal_received_by_the_regional_office_is_taken_in_there(domain_engine) -> None:
    iid = start(domain_engine, origin_office="ALM-OBL")
    assert tasks(domain_engine, iid)["intake"].office_code == "ALM-OBL"


def test_a_single_institution_appeal_is_checked_by_the_district_office(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    check = tasks(domain_engine, iid)["appeal_check"]
    assert (check.role, check.office_code, check.due_at) == ("prosecutor", "ALM-TLG", DUE)


@pytest.mark.parametrize(("several", "officials"), [(True, False), (False, True), (True, True)])
def test_the_regional_office_decides_on_several_institutions_or_regional_officials(
    domain_engine, several: bool, officials: bool
) -> None:
    """¶11.2: the regional unit organises the check; the routing rule only proposes it."""
    iid = start(domain_engine)
    intake(domain_engine, iid, several=several, officials=officials)
    organize = tasks(domain_engine, iid)["organize"]
    assert (organize.role, organize.office_code, organize.due_at) == ("prosecutor", "ALM-OBL", DUE)
    assert domain_engine.runtime.data(iid)["handling_level"] == "regional"
    complete(domain_engine, iid, "organize", handling_choice="regional")
    assert tasks(domain_engine, iid)["appeal_check"].office_code == "ALM-OBL"


def test_the_regional_office_may_assign_an_appeal_it_received_to_the_district(
    domain_engine,
) -> None:
    iid = start(domain_engine, origin_office="ALM-OBL")
    intake(domain_engine, iid)
    assert set(tasks(domain_engine, iid)) == {"organize"}
    complete(domain_engine, iid, "organize", handling_choice="district", organize_notes="Срочно")
    check = tasks(domain_engine, iid)["appeal_check"]
    assert (check.office_code, check.due_at) == ("ALM-TLG", DUE)


def test_an_office_outside_the_institution_s_chain_cannot_receive_it(domain_engine) -> None:
    with pytest.raises(EngineError) as refused:
        start(domain_engine, origin_office="KRG-KAR")
    assert "origin_office" in str(refused.value)
    assert domain_engine.tasks.list(TaskQuery(process_id="npm_pmc_appeal")) == []


def test_the_receiving_office_is_part_of_the_start_payload(domain_engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start(domain_engine, origin_office=None)
    assert refused.value.fields["origin_office"].code == "required"


def test_a_preliminary_meeting_with_convicts_comes_first_when_asked(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid, meeting=True)
    meeting = tasks(domain_engine, iid)["meeting"]
    assert (meeting.office_code, meeting.due_at) == ("ALM-TLG", DUE)
    complete(domain_engine, iid, "meeting", meeting_notes="Приняты 5 осуждённых")
    assert set(tasks(domain_engine, iid)) == {"appeal_check"}


# -- results of the check -----------------------------------------------------------------------


def test_no_breaches_the_applicant_gets_a_reply_and_the_appeal_closes(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="none", **CHECK)
    reply = tasks(domain_engine, iid)["reply"]
    assert (reply.office_code, reply.due_at) == ("ALM-TLG", DUE)
    complete(domain_engine, iid, "reply", reply_number="2-15/1", reply_date="2026-12-01")
    assert domain_engine.runtime.get(iid).status == "completed"


def test_breaches_of_no_systemic_nature_are_entrusted_to_the_authorised_body(domain_engine) -> None:
    """¶11.1, ¶13.2: the check is entrusted; the applicant is answered at once."""
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(
        domain_engine,
        iid,
        "appeal_check",
        findings="entrusted",
        entrusted_body="ДУИС по Алматинской области",
        entrusted_on="2026-11-27",
        **CHECK,
    )
    assert set(tasks(domain_engine, iid)) == {"reply"}
    data = domain_engine.runtime.data(iid)
    assert (data["findings"], data["entrusted_body"]) == (
        "entrusted",
        "ДУИС по Алматинской области",
    )


def test_an_addressee_the_directory_does_not_know_is_refused_in_the_check(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    with pytest.raises(ValidationFailed) as refused:
        complete(
            domain_engine,
            iid,
            "appeal_check",
            findings="breaches",
            **{**ACT, "addressee": "X"},
            **CHECK,
        )
    assert refused.value.fields["addressee"].code == "unknown_body"
    assert set(tasks(domain_engine, iid)) == {"appeal_check"}  # nothing moved


def test_the_entrusted_body_is_required_for_that_result(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    with pytest.raises(ValidationFailed) as refused:
        complete(domain_engine, iid, "appeal_check", findings="entrusted", **CHECK)
    assert set(refused.value.fields) == {"entrusted_body", "entrusted_on"}


def test_breaches_start_an_act_of_response_from_the_handling_office(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid, several=True)
    complete(domain_engine, iid, "organize", handling_choice="regional")
    complete(domain_engine, iid, "appeal_check", findings="breaches", **ACT, **CHECK)
    review = tasks(domain_engine, iid)["act_review"]
    assert (review.role, review.office_code) == ("head", "ALM-OBL")
    complete(domain_engine, iid, "act_review", decision="refuse", review_comment="Нет оснований")
    assert set(tasks(domain_engine, iid)) == {"reply"}
    reply = tasks(domain_engine, iid)["reply"]
    assert (reply.office_code, reply.due_at) == ("ALM-OBL", DUE)  # the appeal's, not the act's
    complete(domain_engine, iid, "reply", reply_number="2-15/2", reply_date="2026-12-01")
    final = domain_engine.runtime.data(iid)  # the branches' data meet when the case closes
    assert final["act_result"] == "refused"
    assert final["addressee_level"] == "regional"  # from the directory, not typed
    assert (final["received_at"], final["handling_office"]) == (PAYLOAD["received_at"], "ALM-OBL")


def test_the_reply_follows_the_sending_of_the_act_not_the_addressees_answer(domain_engine) -> None:
    """Issue 11: the applicant is answered once the act is sent (signal act_sent at dispatch);
    the addressee's answer may take a month and is act_routing's own wait."""
    iid = start(domain_engine)
    intake(domain_engine, iid, several=True)
    complete(domain_engine, iid, "organize", handling_choice="regional")
    complete(domain_engine, iid, "appeal_check", findings="breaches", **ACT, **CHECK)
    complete(domain_engine, iid, "act_review", decision="forward", review_comment="Подписано")
    assert "reply" not in tasks(domain_engine, iid)  # not sent yet
    complete(
        domain_engine, iid, "act_dispatch", outgoing_number="7-12/44", dispatch_date="2026-11-27"
    )
    reply = tasks(domain_engine, iid)["reply"]
    assert (reply.office_code, reply.due_at) == ("ALM-OBL", DUE)
    assert domain_engine.runtime.get(iid).status == "running"  # act_routing awaits the answer


def test_the_check_records_breaches_and_torture_together(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="breaches", **ACT, **TORTURE, **CHECK)
    open_tasks = tasks(domain_engine, iid)
    assert {"act_review", "notify_region", "onsite_check"} <= set(open_tasks)
    assert "reply" not in open_tasks  # neither the act nor the registration is done


def test_torture_facts_continue_as_a_torture_report(domain_engine) -> None:
    iid = start(domain_engine, applicant_kind="pmc")
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="none", **TORTURE, **CHECK)
    open_tasks = tasks(domain_engine, iid)
    assert {"notify_region", "onsite_check"} <= set(open_tasks)
    assert open_tasks["notify_region"].office_code == "ALM-TLG"
    data = domain_engine.runtime.data(iid)
    assert (data["source"], data["victim_name"]) == ("pmc_appeal", "Болатов С.")


def test_the_torture_deadlines_count_from_the_moment_the_check_found_it(domain_engine) -> None:
    """Found six days after the appeal came: the 1-hour notice is not breached at once."""
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="none", **TORTURE, **CHECK)
    notify = tasks(domain_engine, iid)["notify_region"]
    assert notify.due_at == FOUND + timedelta(minutes=30)
    assert domain_engine.management.fire_due(FOUND + timedelta(minutes=29)) == 0
    complete(domain_engine, iid, "notify_region", **CHAIN["notify_region"])
    assert tasks(domain_engine, iid)["confirm_notice"].due_at == FOUND + timedelta(hours=1)


def test_the_reply_follows_registration_and_transfer_not_the_investigation(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="none", **TORTURE, **CHECK)
    register_and_transfer(domain_engine, iid)
    reply = tasks(domain_engine, iid)["reply"]
    assert (reply.office_code, reply.due_at) == ("ALM-TLG", DUE)  # counted from the appeal
    complete(domain_engine, iid, "reply", reply_number="2-15/4", reply_date="2026-12-02")
    assert domain_engine.runtime.get(iid).status == "running"  # the outcome is still awaited
    delivered = domain_engine.runtime.deliver_message(
        "investigation_outcome", {"result": "charged"}, correlation={"case_id": iid}, actor="erdr"
    )
    assert delivered == [iid]
    complete(domain_engine, iid, "legality_check", legality_findings="Решения законны")
    assert domain_engine.runtime.get(iid).status == "completed"
    final = domain_engine.runtime.data(iid)
    assert (final["torture_result"], final["received_at"]) == (
        "investigated",
        PAYLOAD["received_at"],
    )


def test_the_reply_waits_for_both_the_registration_and_the_act(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="breaches", **ACT, **TORTURE, **CHECK)
    register_and_transfer(domain_engine, iid)
    assert "reply" not in tasks(domain_engine, iid)  # the act is still under review
    complete(domain_engine, iid, "act_review", decision="refuse", review_comment="Нет оснований")
    assert "reply" in tasks(domain_engine, iid)


# -- deadlines ----------------------------------------------------------------------------------


def test_a_late_appeal_is_recorded_and_the_regional_head_controls_it(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    assert domain_engine.management.fire_due(DUE) == 0
    assert domain_engine.management.fire_due(DUE + timedelta(seconds=1)) == 1
    open_tasks = tasks(domain_engine, iid)
    control = open_tasks["breach_control"]
    assert (control.role, control.office_code) == ("head", "ALM-OBL")
    assert "appeal_check" in open_tasks  # the check itself is still owed
    complete(domain_engine, iid, "breach_control", control_notes="Указание дано")
    complete(domain_engine, iid, "appeal_check", findings="none", **CHECK)
    complete(domain_engine, iid, "reply", reply_number="2-15/9", reply_date="2026-12-20")
    assert domain_engine.runtime.data(iid)["appeal_breached"] is True


def test_waiting_for_the_called_procedures_past_the_term_is_a_breach(domain_engine) -> None:
    """The act is still under review when the 15 working days end."""
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="breaches", **ACT, **CHECK)
    assert domain_engine.management.fire_due(DUE + timedelta(seconds=1)) == 1
    open_tasks = tasks(domain_engine, iid)
    assert {"breach_control", "act_review"} <= set(open_tasks)
    assert open_tasks["breach_control"].office_code == "ALM-OBL"
    assert domain_engine.runtime.data(iid)["appeal_breached"] is True


def test_the_appeal_term_is_a_parameter(domain_engine) -> None:
    iid = start(domain_engine)
    data = domain_engine.runtime.data(iid)
    assert (data["appeal_working_days"], data["appeal_due"]) == (15, DUE.isoformat())


def test_an_unknown_applicant_kind_is_refused(domain_engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start(domain_engine, applicant_kind="ngo")
    assert refused.value.fields["applicant_kind"].code == "not_an_option"


# -- the model ----------------------------------------------------------------------------------

SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def test_every_user_task_names_its_basis_and_deadline_rule() -> None:
    """Issue 11: each task shows the ¶ it comes from and its deadline rule in three languages."""
    tree = etree.parse(str(MODEL))
    for task in tree.iter(f"{BPMN}userTask"):
        props = {p.get("name"): p.get("value") for p in task.iter(f"{SPIFF}property")}
        assert props.get("basis"), task.get("id")
        if "deadline" in props:
            for key in ("deadline_rule", "deadline_rule_kk", "deadline_rule_en"):
                assert props.get(key), (task.get("id"), key)


# -- the case page ------------------------------------------------------------------------------


def test_the_case_page_names_the_finding_and_the_wait_in_words(domain_engine) -> None:
    """A case waiting for the emergency chain reads as a file: when torture was found, who
    received the appeal (by name), and the diagram in Kazakh names the wait for the registration."""
    from tests.test_case_file import switch
    from tests.test_web_queue import sign_in
    from web.app import create_app

    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="none", **TORTURE, **CHECK)
    web = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True}).test_client()
    sign_in(web, "tlg.prosecutor")
    case = web.get(f"/cases/{iid}")
    assert case.status_code == 200
    html = case.get_data(as_text=True)
    assert "Дата и время выявления фактов пыток" in html and "30.11.2026" in html
    assert "Прокуратура, принявшая обращение" in html and "ALM-TLG" not in html
    switch(web, "kk")
    diagram = web.get(f"/cases/{iid}/diagram.bpmn").get_data(as_text=True)
    assert "Тіркеуді және актінің жіберілуін күту" in diagram  # the wait, in Kazakh
    assert "Өтінішті қабылдаған прокуратура" in diagram  # the receiving office's lane
