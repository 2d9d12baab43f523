"""Torture report: the same as emergency_report with kind torture (issue 11), which it calls —
its start payload, who gets each task, the deadlines from receipt and their breaches, the
pre-trial register without waiting for the region's reports, the legality check (¶11.8) and the
investigation's outcome (Instruction 104, ¶10.4, ¶10.6, ¶10.7, ¶11.3, ¶11.8, ¶13.4, ¶13.8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from engine.config import Settings
from engine.errors import ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR
from workflows.demo import seed_organization
from workflows.pretrial import LocalPretrialRegister, Registration
from workflows.runtime import build_engine

MODEL = BPMN_DIR / "torture_report" / "torture_report.bpmn"
RECEIVED = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 10:00 in Almaty, the fixture clock
PAYLOAD = {
    "institution": "UK-161-2",
    "victim_name": "Иванов Олег",
    "source": "convict_appeal",
    "received_at": "2026-11-24T10:00:00+05:00",
    "description": "Применение физической силы",
}
REPORT = {  # every item of ¶11.3
    "event_datetime": "2026-11-24T08:00:00+05:00",
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
}
#: what each task's form requires, unless a test says otherwise
REQUIRED = {
    "notify_region": {
        "region_notified_at": "2026-11-24T10:20:00+05:00",
        "region_notified_to": "Дежурный прокурор области",
    },
    "confirm_notice": {
        "gp_notified_at": "2026-11-24T10:40:00+05:00",
        "gp_notified_to": "Дежурный ГП",
    },
    "full_report": REPORT,
    "onsite_check": {"visited_at": "2026-11-24T12:00:00+05:00", "check_findings": "Проверено"},
    "regional_response": {"response_measures": "Выезд заместителя прокурора области"},
    "decide": {"register": True, "decision_reasons": "п. 13.8"},
    "transfer": {"investigative_body": "АФМ", "transferred_at": "2026-11-25T10:00:00+05:00"},
    "legality_check": {"procedural_decisions_lawful": True, "legality_findings": "Законны"},
    "approve_refusal": {"refusal_approved": True, "approval_comment": "Согласен"},
}
CONTROL = {"control_notes": "Истребованы объяснения"}


def start(engine, payload: dict | None = None) -> int:  # type: ignore[no-untyped-def]
    engine.repository.publish(MODEL, now=engine.clock.now())
    return engine.runtime.start("torture_report", payload or PAYLOAD, actor="tlg.prosecutor")


def tasks(engine, iid: int) -> dict:  # type: ignore[no-untyped-def]
    return {t.task_name: t for t in engine.tasks.list(TaskQuery(instance_id=iid))}


def complete(engine, iid: int, name: str, data: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    default = CONTROL if name.endswith("_control") else {}
    values = {**REQUIRED.get(name, default), **(data or {})}
    engine.tasks.complete(tasks(engine, iid)[name].task_guid, values, actor="someone")


def through_the_emergency_chain(engine, iid: int) -> None:  # type: ignore[no-untyped-def]
    for name in ("notify_region", "confirm_notice", "full_report", "regional_response"):
        complete(engine, iid, name)
    complete(engine, iid, "onsite_check", {"check_findings": "Факт подтверждён"})


# -- who gets what, and when ---------------------------------------------------------------------


def test_the_district_notifies_the_region_and_goes_on_site_at_once(domain_engine) -> None:
    iid = start(domain_engine)
    open_tasks = tasks(domain_engine, iid)
    assert set(open_tasks) == {"notify_region", "onsite_check"}
    notify = open_tasks["notify_region"]
    assert (notify.role, notify.office_code) == ("prosecutor", "ALM-TLG")
    assert notify.due_at == RECEIVED + timedelta(minutes=30)  # "immediately": internal rule
    onsite = open_tasks["onsite_check"]
    assert (onsite.office_code, onsite.due_at) == ("ALM-TLG", RECEIVED + timedelta(hours=24))
    assert domain_engine.runtime.data(iid)["kind"] == "torture"


def test_a_missed_district_notice_is_recorded_and_the_regional_head_controls_it(
    domain_engine,
) -> None:
    iid = start(domain_engine)
    assert domain_engine.management.fire_due(RECEIVED + timedelta(minutes=30)) == 0
    assert domain_engine.management.fire_due(RECEIVED + timedelta(minutes=30, seconds=1)) == 1
    open_tasks = tasks(domain_engine, iid)
    control = open_tasks["district_notice_control"]
    assert (control.role, control.office_code) == ("head", "ALM-OBL")
    assert "notify_region" in open_tasks  # the late notice is still owed
    assert domain_engine.runtime.data(iid)["district_notice_breached"] is True


def test_the_regional_unit_confirms_the_phone_notice_within_one_hour(domain_engine) -> None:
    iid = start(domain_engine)
    complete(domain_engine, iid, "notify_region")
    confirm = tasks(domain_engine, iid)["confirm_notice"]
    assert (confirm.role, confirm.office_code) == ("prosecutor", "ALM-OBL")
    assert confirm.due_at == RECEIVED + timedelta(hours=1)
    complete(domain_engine, iid, "confirm_notice")
    full = tasks(domain_engine, iid)["full_report"]
    assert (full.office_code, full.due_at) == ("ALM-OBL", RECEIVED + timedelta(hours=3))
    assert "notice_breached" not in domain_engine.runtime.data(iid)


def test_the_hour_counts_from_receipt_not_from_the_district_s_late_notice(domain_engine) -> None:
    iid = start(domain_engine)
    late = {"region_notified_at": "2026-11-24T10:50:00+05:00"}
    complete(domain_engine, iid, "notify_region", late)
    assert tasks(domain_engine, iid)["confirm_notice"].due_at == RECEIVED + timedelta(hours=1)


def test_a_missed_hour_is_recorded_and_escalated_to_the_gp_unit(domain_engine) -> None:
    iid = start(domain_engine)
    complete(domain_engine, iid, "notify_region")
    assert domain_engine.management.fire_due(RECEIVED + timedelta(hours=1, seconds=1)) >= 1
    open_tasks = tasks(domain_engine, iid)
    control = open_tasks["notice_control"]
    assert (control.role, control.office_code) == ("prosecutor", "GP")
    assert "confirm_notice" in open_tasks  # the late notice is still owed
    assert domain_engine.runtime.data(iid)["notice_breached"] is True


def test_a_missed_on_site_check_is_recorded_and_the_regional_head_controls_it(
    domain_engine,
) -> None:
    iid = start(domain_engine)
    for name in ("notify_region", "confirm_notice", "full_report", "regional_response"):
        complete(domain_engine, iid, name)
    assert domain_engine.management.fire_due(RECEIVED + timedelta(hours=24, seconds=1)) == 1
    open_tasks = tasks(domain_engine, iid)
    control = open_tasks["onsite_control"]
    assert (control.role, control.office_code) == ("head", "ALM-OBL")
    assert "onsite_check" in open_tasks
    assert domain_engine.runtime.data(iid)["onsite_breached"] is True


# -- registration, transfer, outcome ------------------------------------------------------------


def test_registration_does_not_wait_for_the_region_s_reports(domain_engine) -> None:
    """¶13.8: after its on-site check the district decides at once."""
    iid = start(domain_engine)
    complete(domain_engine, iid, "onsite_check", {"check_findings": "Факт подтверждён"})
    open_tasks = tasks(domain_engine, iid)
    assert {"decide", "notify_region"} <= set(open_tasks)
    decide = open_tasks["decide"]
    assert (decide.office_code, decide.role) == ("ALM-TLG", "prosecutor")


def test_registered_transferred_checked_and_closed_on_the_investigation_outcome(
    domain_engine,
) -> None:
    iid = start(domain_engine)
    through_the_emergency_chain(domain_engine, iid)
    complete(domain_engine, iid, "decide")
    number = domain_engine.runtime.data(iid)["registration"]["number"]
    assert number.startswith("ERDR-2026-")
    complete(domain_engine, iid, "transfer")
    legality = tasks(domain_engine, iid)["legality_check"]  # ¶11.8, while the case waits
    assert (legality.role, legality.office_code) == ("prosecutor", "ALM-OBL")
    delivered = domain_engine.runtime.deliver_message(
        "investigation_outcome", {"result": "charged"}, correlation={"case_id": iid}, actor="erdr"
    )
    assert delivered == [iid]
    assert domain_engine.runtime.get(iid).status == "running"  # the legality check is owed
    complete(domain_engine, iid, "legality_check")
    data = domain_engine.runtime.data(iid)
    assert data["torture_result"] == "investigated" and data["outcome"] == {"result": "charged"}
    assert domain_engine.runtime.get(iid).status == "completed"


def test_no_grounds_to_register_closes_the_case_once_the_region_approves(domain_engine) -> None:
    iid = start(domain_engine)
    through_the_emergency_chain(domain_engine, iid)
    complete(domain_engine, iid, "decide", {"register": False, "decision_reasons": "не подтв."})
    approval = tasks(domain_engine, iid)["approve_refusal"]
    assert (approval.role, approval.office_code) == ("head", "ALM-OBL")
    complete(domain_engine, iid, "approve_refusal")
    assert domain_engine.runtime.get(iid).status == "completed"
    assert domain_engine.runtime.data(iid)["torture_result"] == "not_registered"


def test_an_unknown_source_is_refused_and_nothing_is_started(domain_engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start(domain_engine, {**PAYLOAD, "source": "rumour"})
    assert refused.value.fields["source"].code == "not_an_option"
    assert domain_engine.tasks.list(TaskQuery(process_id="torture_report")) == []


class FlakyRegister:
    """The register is down for the first call, then answers like the local one."""

    def __init__(self, inner: LocalPretrialRegister) -> None:
        self.inner, self.calls = inner, 0

    def register(self, case_ref: str, payload: dict) -> Registration:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("ERDR is not answering")
        return self.inner.register(case_ref, payload)


def test_a_register_outage_is_an_incident_and_is_retried(database_url, clock) -> None:
    settings = Settings(database_url=database_url, secret_key="t", bpmn_dir=BPMN_DIR)
    probe = build_engine(settings, clock=clock)
    flaky = FlakyRegister(LocalPretrialRegister(probe.db, clock))
    engine = build_engine(settings, clock=clock, pretrial=flaky, db=probe.db)
    seed_organization(engine)
    iid = start(engine)
    through_the_emergency_chain(engine, iid)
    complete(engine, iid, "decide")
    [incident] = engine.management.incidents(instance_id=iid)
    assert "ERDR is not answering" in incident["message"]
    assert tasks(engine, iid) == {}
    assert engine.management.fire_due(clock.now() + timedelta(minutes=2)) == 1
    assert engine.management.incidents(instance_id=iid) == []
    assert "transfer" in tasks(engine, iid)
    assert engine.runtime.data(iid)["registration"]["number"].startswith("ERDR-")
    engine.db.dispose()


# -- the model ----------------------------------------------------------------------------------


def test_the_model_publishes_with_the_emergency_chain_it_calls(domain_engine) -> None:
    loaded, _ = domain_engine.repository.publish(MODEL, now=domain_engine.clock.now())
    names = {Path(p).name for p in loaded.files}
    assert {"torture_report.bpmn", "start.form.json", "emergency_report.bpmn"} <= names
    assert {"full_report.form.json", "confirm_notice.form.json"} <= names


SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def test_the_wrapper_has_its_parameters_step_and_no_task_without_a_basis() -> None:
    """Convention: `parameters` right after the start; every user task names its ¶ (the chain's
    tasks are emergency_report's and carry theirs)."""
    tree = etree.parse(str(MODEL))
    [start_event] = tree.iter(f"{BPMN}startEvent")
    [first] = [f for f in tree.iter(f"{BPMN}sequenceFlow") if f.get("sourceRef") == "start"]
    assert first.get("targetRef") == "parameters"
    for task in tree.iter(f"{BPMN}userTask"):
        props = {p.get("name"): p.get("value") for p in task.iter(f"{SPIFF}property")}
        assert props.get("basis"), task.get("id")
