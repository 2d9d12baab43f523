"""Appeals of NPM participants and PMC members (Instruction 104, ¶11.2, ¶13.2, ¶13.3): routed
to the district or the regional unit, checked within 15 working days, continued as a torture
report or an act of response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR

MODEL = BPMN_DIR / "npm_pmc_appeal" / "npm_pmc_appeal.bpmn"
PAYLOAD = {
    "applicant_kind": "npm",
    "applicant_name": "Сарсенова А.",
    "institution": "UK-161-2",
    "received_at": "2026-11-24T10:00:00+05:00",
    "content": "Жалобы на условия в ШИЗО",
}
# 15 working days from Tuesday 24 November 2026 is Tuesday 15 December, 10:00 Almaty
DUE = datetime(2026, 12, 15, 5, 0, tzinfo=UTC)
CHECK = {"check_report": "Проверка проведена"}


def start(engine, **changes):  # type: ignore[no-untyped-def]
    engine.repository.publish(MODEL, now=engine.clock.now())
    return engine.runtime.start("npm_pmc_appeal", {**PAYLOAD, **changes}, actor="tlg.prosecutor")


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


def test_an_appeal_is_taken_in_by_the_district_office_due_in_15_working_days(domain_engine) -> None:
    iid = start(domain_engine)
    task = tasks(domain_engine, iid)["intake"]
    assert (task.role, task.office_code, task.due_at) == ("prosecutor", "ALM-TLG", DUE)


def test_a_single_institution_appeal_is_checked_by_the_district_office(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    check = tasks(domain_engine, iid)["appeal_check"]
    assert (check.role, check.office_code, check.due_at) == ("prosecutor", "ALM-TLG", DUE)


@pytest.mark.parametrize(("several", "officials"), [(True, False), (False, True), (True, True)])
def test_several_institutions_or_regional_officials_go_to_the_regional_unit(
    domain_engine, several: bool, officials: bool
) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid, several=several, officials=officials)
    check = tasks(domain_engine, iid)["appeal_check"]
    assert (check.role, check.office_code) == ("prosecutor", "ALM-OBL")


def test_a_preliminary_meeting_with_convicts_comes_first_when_asked(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid, meeting=True)
    meeting = tasks(domain_engine, iid)["meeting"]
    assert (meeting.office_code, meeting.due_at) == ("ALM-TLG", DUE)
    complete(domain_engine, iid, "meeting", meeting_notes="Приняты 5 осуждённых")
    assert set(tasks(domain_engine, iid)) == {"appeal_check"}


def test_no_breaches_the_applicant_gets_a_reply_and_the_appeal_closes(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid)
    complete(domain_engine, iid, "appeal_check", findings="none", **CHECK)
    reply = tasks(domain_engine, iid)["reply"]
    assert (reply.office_code, reply.due_at) == ("ALM-TLG", DUE)
    complete(domain_engine, iid, "reply", reply_number="2-15/1", reply_date="2026-12-01")
    assert domain_engine.runtime.get(iid).status == "completed"


def test_breaches_start_an_act_of_response_from_the_handling_office(domain_engine) -> None:
    iid = start(domain_engine)
    intake(domain_engine, iid, several=True)
    complete(
        domain_engine,
        iid,
        "appeal_check",
        findings="breaches",
        act_type="submission",
        addressee_name="ДУИС по Алматинской области",
        addressee_level="regional",
        act_summary="Устранить нарушения",
        **CHECK,
    )
    review = tasks(domain_engine, iid)["act_review"]
    assert (review.role, review.office_code) == ("head", "ALM-OBL")
    complete(domain_engine, iid, "act_review", decision="refuse", review_comment="Нет оснований")
    data = domain_engine.runtime.data(iid)
    assert data["act_result"] == "refused" and data["origin_office"] == "ALM-OBL"
    assert set(tasks(domain_engine, iid)) == {"reply"}


def test_torture_facts_continue_as_a_torture_report(domain_engine) -> None:
    iid = start(domain_engine, applicant_kind="pmc")
    intake(domain_engine, iid)
    complete(
        domain_engine,
        iid,
        "appeal_check",
        findings="torture",
        victim_name="Болатов С.",
        torture_description="Избиение при обыске",
        **CHECK,
    )
    open_tasks = tasks(domain_engine, iid)
    assert {"notify_region", "onsite_check"} <= set(open_tasks)
    assert open_tasks["notify_region"].office_code == "ALM-TLG"
    data = domain_engine.runtime.data(iid)
    assert (data["source"], data["victim_name"]) == ("pmc_appeal", "Болатов С.")


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


def test_an_unknown_applicant_kind_is_refused(domain_engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start(domain_engine, applicant_kind="ngo")
    assert refused.value.fields["applicant_kind"].code == "not_an_option"
