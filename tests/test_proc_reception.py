"""Receptions of convicts and inspection rounds on a calendar (¶13.10, ¶13.11, ¶10.9).

The calendar (scheduled starts) gives each district office a reception task every month
(¶13.10), each regional office one for its prosecutor every half-year and one for his deputies
every quarter (¶10.9); each is due by the end of its period. The record says where, when, how
many convicts were received, their questions and the answers, petitions helped with and what
the round found (¶13.11); breaches found lead to an act routed by act_routing; a reception not
held in time is recorded and controlled by the office above.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.engine import Engine
from engine.errors import ValidationFailed
from engine.models import ProcessInstance
from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_proc_act_routing import Case

MODEL = ROOT / "bpmn" / "reception" / "reception.bpmn"
SECOND = timedelta(seconds=1)
#: Almaty midnight, 1 December 2026 / 1 January 2027 / 1 February 2027 / 1 April 2027
DEC_1 = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
JAN_1 = datetime(2026, 12, 31, 19, 0, tzinfo=UTC)
FEB_1 = datetime(2027, 1, 31, 19, 0, tzinfo=UTC)
APR_1 = datetime(2027, 3, 31, 19, 0, tzinfo=UTC)
JUL_1 = datetime(2027, 6, 30, 19, 0, tzinfo=UTC)
DISTRICTS = ["ALM-KNV", "ALM-TLG", "AST-ESL", "KRG-KAR", "KRG-ZHZ", "MIL-AST"]


@pytest.fixture
def receptions(domain_engine: Engine, clock) -> Engine:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def cases(engine: Engine) -> list[Case]:
    table = ProcessInstance.__table__
    with engine.db.read() as conn:
        ids = conn.execute(
            select(table.c.id).where(table.c.process_id == "reception").order_by(table.c.id)
        ).scalars()
        return [Case(engine, i) for i in ids]


def open_receptions(engine: Engine) -> Counter:
    """(task, role, office, due) of every open reception task."""
    tasks = engine.tasks.list(TaskQuery(process_id="reception", limit=500))
    return Counter(
        (t.task_name, t.role, t.office_code, t.due_at.replace(tzinfo=UTC) if t.due_at else None)
        for t in tasks
    )


def case_of(engine: Engine, task: str, office: str) -> Case:
    [found] = [
        c
        for c in cases(engine)
        if c.status == "running"
        and any(t.task_name == task and t.office_code == office for t in c.open_tasks())
    ]
    return found


RECORD = {
    "institution": "UK-161-2",
    "reception_date": "2026-12-10",
    "received_by": "Сейтказиев А. Б., прокурор района",
    "convicts_received": 7,
    "questions_answers": "Вопросы о праве на длительные свидания; разъяснены ст. 106 УИК РК",
    "petitions_helped": 2,
    "petitions_notes": "Ходатайства об условно-досрочном освобождении",
    "rounds_findings": "Жилая зона и медико-санитарная часть осмотрены; в ШИЗО нарушений нет",
    "breaches_found": False,
}


# -- the calendar ---------------------------------------------------------------------------------


def test_each_month_every_district_office_gets_a_reception_due_by_the_months_end(
    receptions,
) -> None:
    assert receptions.management.fire_due(DEC_1 - SECOND) == 0
    receptions.management.fire_due(DEC_1 + SECOND)
    assert open_receptions(receptions) == Counter(
        {("district_reception", "prosecutor", office, JAN_1): 1 for office in DISTRICTS}
    )
    # fired again in the same month: nobody gets a second reception
    receptions.management.fire_due(DEC_1 + timedelta(days=3))
    assert len(cases(receptions)) == len(DISTRICTS)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    data = case.data()
    assert data["reception_kind"] == "district_monthly"
    assert data["office_level"] == "district"
    assert case.task("district_reception").form == "reception/reception.form.json"


def test_a_half_year_gives_the_regional_heads_two_receptions_and_the_districts_their_month(
    receptions,
) -> None:
    receptions.management.fire_due(JAN_1 + SECOND)
    regions = ["ALM-OBL", "AST-CITY", "KRG-OBL", "MIL"]
    expected = Counter(
        {("district_reception", "prosecutor", office, FEB_1): 1 for office in DISTRICTS}
    )
    for region in regions:
        expected[("regional_reception", "head", region, JUL_1)] = 1  # ¶10.9: twice a year
        expected[("deputy_reception", "head", region, APR_1)] = 1  # ¶10.9: quarterly
    assert open_receptions(receptions) == expected


def test_in_april_the_deputies_get_their_quarter_but_the_prosecutor_no_new_half_year(
    receptions,
) -> None:
    receptions.management.fire_due(JAN_1 + SECOND)
    before = len(cases(receptions))
    receptions.management.fire_due(APR_1 + SECOND)
    started = cases(receptions)[before:]
    kinds = Counter(c.data()["reception_kind"] for c in started)
    assert kinds == Counter({"district_monthly": 6, "deputy_quarterly": 4})
    assert {c.due(c.open_task_names()[0]) for c in started} == {
        datetime(2027, 4, 30, 19, 0, tzinfo=UTC),  # 1 May: the end of April
        JUL_1,  # the end of the second quarter
    }


# -- the record -----------------------------------------------------------------------------------


def test_the_record_is_required_and_a_held_reception_closes_the_case(receptions) -> None:
    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    with pytest.raises(ValidationFailed) as refused:
        case.complete("district_reception", institution="UK-161-2", breaches_found=False)
    assert {"reception_date", "received_by", "convicts_received", "rounds_findings"} <= set(
        refused.value.fields
    )
    with pytest.raises(ValidationFailed) as negative:
        case.complete("district_reception", **{**RECORD, "convicts_received": -1})
    assert "convicts_received" in negative.value.fields
    assert case.open_task_names() == ["district_reception"]  # nothing written

    # the checkbox "breaches found" not sent: no breaches (its default)
    case.complete(
        "district_reception", **{k: v for k, v in RECORD.items() if k != "breaches_found"}
    )
    assert case.status == "completed"
    data = case.data()
    assert data["reception_held"] is True
    assert "deadline_breached" not in data
    assert data["institution_name"]
    assert data["convicts_received"] == 7


def test_an_institution_outside_the_offices_scope_is_refused_in_words(receptions) -> None:
    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    for institution in ("UK-159-11", "UK-000-0"):  # another region's colony; none at all
        with pytest.raises(ValidationFailed) as refused:
            case.complete("district_reception", **{**RECORD, "institution": institution})
        assert refused.value.fields["institution"].code == "unknown_institution"
    assert case.open_task_names() == ["district_reception"]
    assert "reception_held" not in case.data()


def test_a_reception_dated_before_its_month_is_refused_but_a_late_one_is_taken(
    receptions,
) -> None:
    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    with pytest.raises(ValidationFailed) as refused:
        case.complete("district_reception", **{**RECORD, "reception_date": "2026-11-30"})
    assert refused.value.fields["reception_date"].code == "before_period"
    assert refused.value.fields["reception_date"].params == {"first": "2026-12-01"}
    assert case.open_task_names() == ["district_reception"]
    case.complete("district_reception", **{**RECORD, "reception_date": "2027-01-05"})
    assert case.status == "completed"


def test_a_regional_reception_may_be_held_in_a_districts_institution(receptions) -> None:
    receptions.management.fire_due(JAN_1 + SECOND)
    case = case_of(receptions, "deputy_reception", "ALM-OBL")
    case.complete(
        "deputy_reception",
        **{
            **RECORD,
            "reception_date": "2027-02-15",
            "received_by": "Заместитель прокурора области",
        },
    )
    assert case.status == "completed"
    assert case.data()["reception_kind"] == "deputy_quarterly"


# -- breaches found: an act ------------------------------------------------------------------


def test_a_reception_with_breaches_leads_to_an_act_of_the_district_office(receptions) -> None:
    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    case.complete(
        "district_reception",
        **{**RECORD, "breaches_found": True, "rounds_findings": "В ШИЗО нет вентиляции"},
    )
    assert case.holder("response_act") == ("prosecutor", "ALM-TLG")
    case.complete(
        "response_act",
        act_type="submission",
        addressee="DUIS-ALM",
        summary="Представление об устранении нарушений условий содержания в ШИЗО",
    )
    # act_routing: the district office's head reviews the act first (¶14: through the region)
    assert case.open_task_names() == ["act_review"]
    assert case.holder("act_review") == ("head", "ALM-TLG")
    data = case.data()
    assert data["addressee_name"] and data["addressee_level"] == "regional"
    assert data["breaches_found"] is True


def test_an_unknown_addressee_leaves_the_act_task_open(receptions) -> None:
    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    case.complete("district_reception", **{**RECORD, "breaches_found": True})
    with pytest.raises(ValidationFailed) as refused:
        case.complete("response_act", act_type="order", addressee="NOBODY", summary="Акт")
    assert refused.value.fields["addressee"].code == "unknown_body"
    assert case.open_task_names() == ["response_act"]


# -- not held in time ------------------------------------------------------------------------


def test_a_districts_reception_not_held_by_the_months_end_is_controlled_by_the_regional_head(
    receptions,
) -> None:
    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "KRG-KAR")
    receptions.management.fire_due(JAN_1 - SECOND)
    assert case.open_task_names() == ["district_reception"]
    receptions.management.fire_due(JAN_1 + SECOND)
    assert case.open_task_names() == ["breach_control", "district_reception"]
    assert case.holder("breach_control") == ("head", "KRG-OBL")
    assert case.data()["deadline_breached"] is True
    case.complete("breach_control", control_measures="Прокурору района указано на нарушение")
    # the duty stays: held late, the reception is still recorded
    case.complete("district_reception", **{**RECORD, "institution": "UK-159-11"})
    assert case.status == "completed"
    data = case.data()
    assert data["reception_held"] is True and data["deadline_breached"] is True


def test_a_regional_reception_not_held_in_its_quarter_is_controlled_by_the_gp_head(
    receptions,
) -> None:
    receptions.management.fire_due(JAN_1 + SECOND)
    case = case_of(receptions, "deputy_reception", "KRG-OBL")
    receptions.management.fire_due(APR_1 + SECOND)
    assert case.open_task_names() == ["deputy_reception", "gp_breach_control"]
    role, office = case.holder("gp_breach_control")
    assert (role, office) == ("head", "GP")


# -- the task page --------------------------------------------------------------------------------


def test_the_task_page_offers_the_institutions_of_the_offices_scope_and_states_the_term(
    receptions,
) -> None:
    from tests.test_task_basis import in_language
    from tests.test_web_queue import sign_in
    from web.app import create_app

    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    web = create_app({"NADZOR_ENGINE": receptions, "TESTING": True}).test_client()
    sign_in(web, "tlg.prosecutor")
    url = f"/tasks/{case.task('district_reception').task_guid}"
    html = web.get(url).get_data(as_text=True)
    assert 'value="UK-161-2"' in html  # the district's colony
    assert 'value="UK-159-11"' not in html  # another region's
    page = in_language(web, "en", url)
    assert "Basis: Instruction No. 104, ¶ 13.10, 13.11" in page
    assert "By the end of the calendar month" in page
    assert "Convicts received" in page
    # started by the calendar only: no start form, so the start page does not offer it
    assert "/start/reception" not in web.get("/start").get_data(as_text=True)


def test_the_api_refuses_an_institution_outside_the_scope_and_takes_the_record(
    receptions,
) -> None:
    from web.app import create_app
    from workflows.users import UserDirectory

    receptions.management.fire_due(DEC_1 + SECOND)
    case = case_of(receptions, "district_reception", "ALM-TLG")
    client = create_app({"NADZOR_ENGINE": receptions, "TESTING": True}).test_client()
    auth = {"Authorization": f"Bearer {UserDirectory(receptions.db).issue_token('tlg.prosecutor')}"}
    url = f"/api/v1/tasks/{case.task('district_reception').task_guid}/complete"
    refused = client.post(url, headers=auth, json={"data": {**RECORD, "institution": "UK-159-11"}})
    assert refused.status_code == 422
    assert "institution" in refused.json["fields"]
    assert case.open_task_names() == ["district_reception"]
    done = client.post(url, headers=auth, json={"data": RECORD})
    assert done.status_code == 200 and done.json["status"] == "completed"
