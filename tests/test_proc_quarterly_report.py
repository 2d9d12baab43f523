"""Quarterly reports on the state of supervision (Instruction 104, ¶9.7, ¶11.9, ¶13.17).

¶13.17: a district office directs information on the state of supervision to the regional office
at least once a quarter, unless the regional prosecutor sets other terms (the regional office's
own term: a day of the next month, default the 3rd — an internal rule). ¶11.9: the regional unit
presents its quarterly analysis to the GP unit on the 5th day of the month following the
reporting period. ¶9.7: the GP unit analyses the quarter (no term in the text: the 15th, internal
rule). The end of a quarter (Almaty midnight) opens one case per office, each report pre-filled
with the quarter's figures of the office and its subordinates; what is sent keeps its figures.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from engine.calendar import ALMATY
from engine.engine import Engine
from engine.errors import EngineError
from engine.models import ProcessInstance
from engine.tasks import TaskQuery, TaskView
from tests.conftest import ROOT
from workflows.quarterly import (
    DEFAULT_DISTRICT_DUE_DAY,
    district_reports,
    quarter_end,
    quarter_name,
    quarter_start,
    set_report_term,
    subordinate_reports,
)

MODEL = ROOT / "bpmn" / "quarterly_report" / "quarterly_report.bpmn"
Q1_END = datetime(2027, 4, 1, 0, 0, tzinfo=ALMATY).astimezone(UTC)  # Almaty midnight, 1 April
SCHEDULED_AT = Q1_END.isoformat()
DISTRICTS = {
    "ALM-OBL": ["ALM-KNV", "ALM-TLG"],
    "KRG-OBL": ["KRG-KAR", "KRG-ZHZ"],
    "AST-CITY": ["AST-ESL"],
    "MIL": ["MIL-AST"],
}
LOGIN = {
    "GP": "gp",
    "ALM-OBL": "alm",
    "KRG-OBL": "krg",
    "AST-CITY": "ast",
    "MIL": "mil",
    "ALM-TLG": "tlg",
    "ALM-KNV": "knv",
    "KRG-KAR": "kar",
    "KRG-ZHZ": "zhz",
    "AST-ESL": "esl",
    "MIL-AST": "milast",
}


def end_of_day(day: date) -> datetime:
    """A report's term: the end of its day in Almaty."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=ALMATY).astimezone(UTC)


@pytest.fixture
def quarterly(domain_engine: Engine, clock) -> Engine:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def fire_quarter_end(engine: Engine) -> None:
    """Almaty midnight of 1 April 2027: the worker's round starts the reports."""
    engine.clock.set(Q1_END)  # type: ignore[attr-defined]
    engine.management.fire_due()


def reports(engine: Engine) -> dict[str, TaskView]:
    """The open report tasks by office."""
    tasks = engine.tasks.list(TaskQuery(process_id="quarterly_report", limit=500))
    return {t.office_code or "": t for t in tasks}


def send(engine: Engine, task: TaskView, **data: Any) -> None:
    engine.tasks.complete(task.task_guid, data, actor=f"{LOGIN[task.office_code or '']}.prosecutor")


def test_the_quarter_is_the_one_that_ended_in_almaty() -> None:
    assert quarter_start(SCHEDULED_AT) == "2027-01-01"
    assert quarter_end(SCHEDULED_AT) == "2027-03-31"
    assert quarter_name(SCHEDULED_AT) == "2027-Q1"
    new_year = datetime(2027, 1, 1, tzinfo=ALMATY).astimezone(UTC).isoformat()
    assert (quarter_start(new_year), quarter_end(new_year)) == ("2026-10-01", "2026-12-31")


def test_the_end_of_q1_opens_one_report_per_office_with_its_term(quarterly: Engine) -> None:
    """District: the region's own term (Karaganda set the 2nd) or the 3rd; region: the 5th
    (¶11.9); GP: the 15th (internal rule)."""
    set_report_term(quarterly.db, "KRG-OBL", 2, actor="krg.head", now=quarterly.clock.now())
    quarterly.clock.set(Q1_END)  # type: ignore[attr-defined]
    started = quarterly.management.fire_due_counts(Q1_END)["scheduled_starts"]
    assert started == 11  # GP, 4 regional offices, 6 districts
    assert quarterly.management.fire_due_counts(Q1_END)["scheduled_starts"] == 0  # once
    open_reports = reports(quarterly)
    assert sorted(open_reports) == sorted(LOGIN)
    for region, districts in DISTRICTS.items():
        task = open_reports[region]
        assert (task.task_name, task.role) == ("regional_report", "prosecutor")
        assert task.due_at == end_of_day(date(2027, 4, 5))
        day = 2 if region == "KRG-OBL" else DEFAULT_DISTRICT_DUE_DAY
        for district in districts:
            task = open_reports[district]
            assert (task.task_name, task.role) == ("district_report", "prosecutor")
            assert task.due_at == end_of_day(date(2027, 4, day)), district
    gp = open_reports["GP"]
    assert (gp.task_name, gp.role, gp.assignee) == ("gp_report", "prosecutor", None)
    assert gp.due_at == end_of_day(date(2027, 4, 15))
    data = quarterly.runtime.data(open_reports["ALM-TLG"].instance_id)
    assert (data["period_start"], data["period_end"], data["quarter"]) == (
        "2027-01-01",
        "2027-03-31",
        "2027-Q1",
    )
    assert isinstance(data["figures"], dict) and data["figures"]


def test_the_region_sees_which_districts_have_sent_theirs(quarterly: Engine) -> None:
    fire_quarter_end(quarterly)
    open_reports = reports(quarterly)
    scheduled_at = quarterly.runtime.data(open_reports["ALM-OBL"].instance_id)["scheduled_at"]
    before = district_reports(quarterly.db, "ALM-OBL", scheduled_at)
    assert [(r.office_code, r.sent_at) for r in before] == [("ALM-KNV", None), ("ALM-TLG", None)]
    sent_at = datetime(2027, 4, 2, 5, 30, tzinfo=UTC)
    quarterly.clock.set(sent_at)
    send(quarterly, open_reports["ALM-TLG"], district_information="Нарушений сроков не допущено")
    after = district_reports(quarterly.db, "ALM-OBL", scheduled_at)
    assert [(r.office_code, r.sent_at) for r in after] == [
        ("ALM-KNV", None),
        ("ALM-TLG", sent_at),
    ]
    assert quarterly.runtime.get(open_reports["ALM-TLG"].instance_id).status == "completed"
    # Karaganda's districts are not Almaty region's
    assert [r.office_code for r in district_reports(quarterly.db, "KRG-OBL", scheduled_at)] == [
        "KRG-KAR",
        "KRG-ZHZ",
    ]


INCIDENT_MODEL = ROOT / "bpmn" / "incident_report" / "incident_report.bpmn"
#: single incidents received in Q1 2027: (institution, its district, kind, received in Almaty)
SEEDED = [
    ("UK-161-2", "ALM-TLG", "self_injury", datetime(2027, 1, 15, 10, 0)),
    ("UK-161-2", "ALM-TLG", "hunger_strike", datetime(2027, 2, 3, 9, 30)),
    ("SIZO-ALM", "ALM-KNV", "self_injury", datetime(2027, 3, 31, 23, 0)),  # the last evening
    ("UK-159-11", "KRG-KAR", "suicide", datetime(2027, 3, 2, 14, 0)),
    ("SIZO-ALM", "ALM-KNV", "suicide", datetime(2026, 12, 31, 23, 30)),  # Q4 2026: not counted
    ("UK-161-2", "ALM-TLG", "suicide", datetime(2027, 4, 1, 0, 30)),  # Q2: not counted
]


def seed_incidents(engine: Engine, clock, rows=SEEDED) -> None:  # type: ignore[no-untyped-def]
    engine.repository.publish(INCIDENT_MODEL, now=clock.now())
    for institution, district, kind, local in rows:
        received = local.replace(tzinfo=ALMATY)
        clock.set(received.astimezone(UTC))
        engine.runtime.start(
            "incident_report",
            {
                "institution": institution,
                "kind": kind,
                "received_at": received.isoformat(),
                "description": "Факт для квартального отчёта",
            },
            actor=f"{LOGIN[district]}.prosecutor",
        )


def by_hand(offices: set[str]) -> dict[str, int]:
    """The incidents of Q1 2027 (Almaty dates) of `offices`, counted by kind."""
    counts = {"self_injury": 0, "hunger_strike": 0, "suicide": 0, "special_means": 0}
    for _, district, kind, local in SEEDED:
        if district in offices and date(2027, 1, 1) <= local.date() <= date(2027, 3, 31):
            counts[kind] += 1
    return counts


def test_each_report_opens_with_the_quarters_figures_of_its_office_and_subordinates(
    quarterly: Engine, clock
) -> None:  # type: ignore[no-untyped-def]
    seed_incidents(quarterly, clock)
    fire_quarter_end(quarterly)
    open_reports = reports(quarterly)
    expected = {
        "ALM-TLG": {"ALM-TLG"},
        "ALM-KNV": {"ALM-KNV"},
        "ALM-OBL": {"ALM-OBL", "ALM-TLG", "ALM-KNV"},
        "KRG-OBL": {"KRG-OBL", "KRG-KAR", "KRG-ZHZ"},
        "AST-CITY": {"AST-CITY", "AST-ESL"},
        "GP": set(LOGIN),
    }
    for office, offices in expected.items():
        figures = quarterly.runtime.data(open_reports[office].instance_id)["figures"]
        kinds = by_hand(offices)
        assert figures["incidents"]["by_kind"] == kinds, office
        assert figures["incidents"]["total"] == sum(kinds.values()), office
        assert (figures["period_start"], figures["period_end"]) == ("2027-01-01", "2027-03-31")
    assert by_hand(expected["GP"]) == {
        "self_injury": 2,
        "hunger_strike": 1,
        "suicide": 1,
        "special_means": 0,
    }


def test_what_was_sent_keeps_its_figures_after_new_cases(quarterly: Engine, clock) -> None:  # type: ignore[no-untyped-def]
    from workflows.indicators import figures as live_figures

    seed_incidents(quarterly, clock)
    fire_quarter_end(quarterly)
    region = reports(quarterly)["ALM-OBL"]
    clock.set(datetime(2027, 4, 4, 6, 0, tzinfo=UTC))
    send(quarterly, region, regional_analysis="Рост числа фактов членовредительства в ЛА-155/2")
    sent = quarterly.runtime.data(region.instance_id)["figures"]
    assert sent["incidents"]["total"] == 3
    # after the analysis went to the GP, Talgar files its notices of the quarter's incidents
    notices = quarterly.tasks.list(TaskQuery(process_id="incident_report", limit=100))
    for task in [t for t in notices if t.task_name == "notify_region"]:
        quarterly.tasks.complete(
            task.task_guid,
            {"region_notified_at": "2027-04-04T11:00:00+05:00", "region_notified_to": "Дежурный"},
            actor=f"{LOGIN[task.office_code or '']}.prosecutor",
        )
    now = live_figures(quarterly.db.engine, "ALM-OBL", date(2027, 1, 1), date(2027, 3, 31))
    # on 1 April three notices were open, two past their 3 hours (31 March 23:00: not yet)
    assert (sent["notices"]["3h"]["open"], sent["notices"]["3h"]["overdue"]) == (3, 2)
    assert now["notices"]["3h"]["late"] == 3  # the figures today ...
    kept = quarterly.runtime.data(region.instance_id)["figures"]
    # the case's history keeps the analysis with the figures it was sent with
    [closed] = [
        e["data_after"]
        for e in quarterly.history.events(region.instance_id)
        if e["event_type"] == "instance_completed"
    ]
    assert closed["figures"] == sent and closed["regional_analysis"].startswith("Рост")
    assert kept == sent  # ... the report keeps its own
    assert quarterly.runtime.data(region.instance_id)["regional_analysis"].startswith("Рост")


def test_a_late_report_is_recorded_and_still_awaited(quarterly: Engine) -> None:
    fire_quarter_end(quarterly)
    region = reports(quarterly)["ALM-OBL"]
    due = end_of_day(date(2027, 4, 5))
    quarterly.management.fire_due(due)  # at the term itself: not late
    quarterly.management.fire_alerts(due)
    assert reports(quarterly)["ALM-OBL"].breached_at is None
    quarterly.management.fire_due(due + timedelta(seconds=1))
    quarterly.management.fire_alerts(due + timedelta(seconds=1))  # as the worker does
    still = reports(quarterly)["ALM-OBL"]
    assert still.breached_at is not None  # the queue and the case show the missed term
    assert still.state == "ready" and still.task_name == "regional_report"
    send(quarterly, still, regional_analysis="Анализ представлен с опозданием")
    assert quarterly.runtime.get(region.instance_id).status == "completed"
    assert quarterly.runtime.data(region.instance_id)["report_breached"] is True


def test_the_analysis_text_is_required(quarterly: Engine) -> None:
    fire_quarter_end(quarterly)
    task = reports(quarterly)["GP"]
    with pytest.raises(EngineError):
        send(quarterly, task, gp_analysis="")
    assert quarterly.runtime.get(task.instance_id).status != "completed"


def test_the_regional_term_is_a_day_every_month_has_set_by_a_regional_office(
    quarterly: Engine,
) -> None:
    now = quarterly.clock.now()
    for day in (0, 29, 31):
        with pytest.raises(ValueError, match="between 1 and 28"):
            set_report_term(quarterly.db, "ALM-OBL", day, actor="alm.head", now=now)
    with pytest.raises(ValueError, match="regional office"):
        set_report_term(quarterly.db, "ALM-TLG", 4, actor="tlg.head", now=now)
    set_report_term(quarterly.db, "ALM-OBL", 4, actor="alm.head", now=now)
    set_report_term(quarterly.db, "ALM-OBL", 6, actor="alm.head", now=now)  # changed again
    fire_quarter_end(quarterly)
    assert reports(quarterly)["ALM-KNV"].due_at == end_of_day(date(2027, 4, 6))


def test_it_is_not_started_by_hand(quarterly: Engine) -> None:
    with pytest.raises(EngineError):
        quarterly.runtime.start(
            "quarterly_report",
            {"origin_office": "ALM-TLG", "office_level": "district", "scheduled_at": SCHEDULED_AT},
            actor="tlg.prosecutor",
        )
    with quarterly.db.read() as conn:
        t = ProcessInstance.__table__
        assert conn.execute(t.select().where(t.c.process_id == "quarterly_report")).all() == []


def test_the_gp_unit_sees_which_regions_have_sent_their_analyses(quarterly: Engine) -> None:
    fire_quarter_end(quarterly)
    open_reports = reports(quarterly)
    scheduled_at = quarterly.runtime.data(open_reports["GP"].instance_id)["scheduled_at"]
    send(quarterly, open_reports["KRG-OBL"], regional_analysis="Анализ Карагандинской области")
    regions = subordinate_reports(quarterly.db, "GP", "gp", scheduled_at)
    assert [(r.office_code, r.sent_at is not None) for r in regions] == [
        ("ALM-OBL", False),
        ("AST-CITY", False),
        ("KRG-OBL", True),
        ("MIL", False),
    ]
    assert subordinate_reports(quarterly.db, "ALM-TLG", "district", scheduled_at) == []


def test_the_task_pages_show_the_figures_and_the_reports_sent_in_words(quarterly: Engine) -> None:
    from tests.test_web_queue import sign_in
    from web.app import create_app

    fire_quarter_end(quarterly)
    open_reports = reports(quarterly)
    send(quarterly, open_reports["ALM-KNV"], district_information="Информация г. Конаева")
    client = create_app({"NADZOR_ENGINE": quarterly, "TESTING": True}).test_client()
    sign_in(client, "alm.prosecutor")
    html = client.get(f"/tasks/{open_reports['ALM-OBL'].task_guid}").get_data(as_text=True)
    assert "Показатели за квартал 2027-Q1 (01.01.2027 – 31.03.2027)" in html
    assert "Информацию направили 1 из 2 районных прокуратур." in html
    assert 'data-office="ALM-KNV" data-sent="yes"' in html
    assert 'data-office="ALM-TLG" data-sent="no"' in html
    assert 'data-key="incidents.total"' in html
    sign_in(client, "tlg.prosecutor")  # a district's own task: its figures, no one else's list
    html = client.get(f"/tasks/{open_reports['ALM-TLG'].task_guid}").get_data(as_text=True)
    assert 'id="quarter-figures"' in html and 'id="district-reports"' not in html
    sign_in(client, "gp.prosecutor")
    html = client.get(f"/tasks/{open_reports['GP'].task_guid}").get_data(as_text=True)
    assert "Аналитическую информацию представили 0 из 4 прокуратур областей." in html
