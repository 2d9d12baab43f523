"""Procedure 4: acts of supervision and response routed to their addressee (Instruction 104).

¶14: an act of a district office to a regional-level territorial body or its officials goes through
the regional office. ¶12: an act to a central state body, its departments or officials goes through
the GP office. Each office on the way reviews the act: forward, return for rework, or refuse. The
last office sends the act; the addressee answers within a month, or the head of the office of
origin is told to act.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.engine import Engine
from engine.errors import ScriptFailed, ValidationFailed
from engine.tasks import TaskQuery, TaskView
from tests.conftest import ROOT
from workflows.demo_org import LOGIN_PREFIX

MODEL = ROOT / "bpmn" / "act_routing" / "act_routing.bpmn"

#: demo logins by office, to complete tasks as the people who would
LOGIN = LOGIN_PREFIX


def utc(instant: datetime | None) -> datetime | None:
    """Task and timer instants as aware UTC (SQLite hands them back naive, in UTC)."""
    if instant is None:
        return None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


class Case:
    """Drives one case through its human tasks, the way the people in the offices would."""

    def __init__(self, engine: Engine, instance_id: int) -> None:
        self.engine = engine
        self.id = instance_id

    # -- reading ----------------------------------------------------------------------------------

    def open_tasks(self) -> list[TaskView]:
        return self.engine.tasks.list(TaskQuery(instance_id=self.id))

    def open_task_names(self) -> list[str]:
        return sorted(t.task_name for t in self.open_tasks())

    def task(self, name: str) -> TaskView:
        [task] = [t for t in self.open_tasks() if t.task_name == name]
        return task

    def holder(self, name: str) -> tuple[str | None, str | None]:
        """(role, office) the open task `name` is offered to."""
        task = self.task(name)
        return task.role, task.office_code

    def due(self, name: str) -> datetime | None:
        return utc(self.task(name).due_at)

    @property
    def status(self) -> str:
        return self.engine.runtime.get(self.id).status

    def data(self) -> dict[str, Any]:
        return self.engine.runtime.data(self.id)

    def cancelled(self) -> list[str]:
        rows = self.engine.tasks.list(TaskQuery(instance_id=self.id, state="cancelled"))
        return [t.task_name for t in rows]

    def completed(self) -> list[TaskView]:
        return self.engine.tasks.list(TaskQuery(instance_id=self.id, state="completed", limit=500))

    # -- acting -----------------------------------------------------------------------------------

    def complete(self, name: str, **data: Any) -> None:
        task = self.task(name)
        # a task assigned at once (the GP zonal officer, ¶9.1) is completed by its assignee
        actor = task.assignee or f"{LOGIN.get(task.office_code or '', 'x')}.{task.role}"
        self.engine.tasks.complete(task.task_guid, data, actor=actor)

    def review(self, office: str, decision: str, comment: str = "Согласовано") -> None:
        """The head of `office` reviews the act (the review must be theirs)."""
        assert self.holder("act_review") == ("head", office)
        self.complete("act_review", decision=decision, review_comment=comment)

    def rework(self, summary: str = "Акт доработан", note: str = "Учтены замечания") -> None:
        self.complete("act_rework", summary=summary, rework_note=note)

    def dispatch(self, date: str = "2026-11-30", number: str = "2-15-26/1234") -> None:
        self.complete("act_dispatch", outgoing_number=number, dispatch_date=date)

    def answer(self, result: str, **extra: Any) -> list[int]:
        return self.engine.runtime.deliver_message(
            "addressee_answer",
            {"result": result, **extra},
            correlation={"instance_id": self.id},
            actor="integration",
        )


#: a body of the demo directory per addressee level (the body's level decides the route)
BODY_OF_LEVEL = {"district": "AKIMAT-TLG", "regional": "DUIS-ALM", "central": "KUIS-MVD"}


def start_act(
    engine: Engine,
    *,
    origin: str = "ALM-TLG",
    level: str = "regional",
    act_type: str = "submission",
    addressee: str | None = None,
    **extra: Any,
) -> Case:
    iid = engine.runtime.start(
        "act_routing",
        {
            "act_type": act_type,
            "origin_office": origin,
            "addressee": addressee or BODY_OF_LEVEL.get(level, level),
            "summary": "Об устранении нарушений закона при водворении осуждённых в ШИЗО",
            **extra,
        },
        actor=f"{LOGIN.get(origin, 'x')}.prosecutor",
    )
    return Case(engine, iid)


@pytest.fixture
def acts(domain_engine: Engine, clock) -> Engine:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def walk_route(case: Case, offices: list[str]) -> None:
    for office in offices:
        case.review(office, "forward")


# -- the route (¶12, ¶14) --------------------------------------------------------------------------


def test_an_act_to_a_district_body_is_signed_by_its_own_head_and_sent_directly(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", addressee="AKIMAT-TLG")
    assert case.holder("act_review") == ("head", "ALM-TLG")
    assert case.due("act_review") is None  # no legal deadline for the review itself
    case.review("ALM-TLG", "forward")
    assert case.open_task_names() == ["act_dispatch"]
    assert case.holder("act_dispatch") == ("prosecutor", "ALM-TLG")
    assert case.data()["route"] == ["ALM-TLG"]


def test_an_act_to_a_regional_body_goes_through_the_regional_office(acts) -> None:
    """¶14: district office -> regional office -> the regional-level body."""
    case = start_act(acts, origin="ALM-TLG", level="regional")
    case.review("ALM-TLG", "forward")
    assert case.holder("act_review") == ("head", "ALM-OBL")
    case.review("ALM-OBL", "forward")
    # the regional office, the last on the route, sends the act
    assert case.holder("act_dispatch") == ("prosecutor", "ALM-OBL")
    data = case.data()
    assert data["route"] == ["ALM-TLG", "ALM-OBL"]
    assert [(r["office"], r["decision"]) for r in data["review_log"]] == [
        ("ALM-TLG", "forward"),
        ("ALM-OBL", "forward"),
    ]


def test_an_act_to_a_central_body_goes_through_the_regional_office_and_then_gp(acts) -> None:
    """¶12 with ¶14: a district's act to a central state body passes the region, then GP."""
    case = start_act(acts, origin="KRG-ZHZ", addressee="KUIS-MVD")
    case.review("KRG-ZHZ", "forward")
    case.review("KRG-OBL", "forward")
    case.review("GP", "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "GP")
    assert case.data()["route"] == ["KRG-ZHZ", "KRG-OBL", "GP"]
    # GP sends the act by its officer responsible for Karaganda region (¶9.1)
    assert case.task("act_dispatch").assignee == "gp.krg"


@pytest.mark.parametrize(
    ("origin", "level", "route"),
    [
        ("ALM-TLG", "district", ["ALM-TLG"]),
        ("ALM-KNV", "regional", ["ALM-KNV", "ALM-OBL"]),
        ("KRG-KAR", "central", ["KRG-KAR", "KRG-OBL", "GP"]),
        ("MIL-AST", "regional", ["MIL-AST", "MIL"]),  # equated offices: the military line
        ("KRG-OBL", "district", ["KRG-OBL"]),
        ("KRG-OBL", "regional", ["KRG-OBL"]),
        ("AST-CITY", "central", ["AST-CITY", "GP"]),
        ("GP", "central", ["GP"]),
        ("GP", "regional", ["GP"]),
    ],
)
def test_the_route_follows_the_decision_table(acts, origin, level, route) -> None:
    case = start_act(acts, origin=origin, level=level)
    walk_route(case, route)
    assert case.holder("act_dispatch") == ("prosecutor", route[-1])
    assert case.data()["route"] == route


# -- return for rework and refusal -----------------------------------------------------------------


def test_a_returned_act_goes_back_to_its_author_and_then_to_the_same_reviewer(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="regional")
    case.review("ALM-TLG", "forward")
    case.review("ALM-OBL", "return", comment="Не указаны нормы закона")
    # the author is a prosecutor of the office of origin, not of the reviewing office
    assert case.open_task_names() == ["act_rework"]
    assert case.holder("act_rework") == ("prosecutor", "ALM-TLG")
    case.rework(summary="Акт с указанием норм УИК РК")
    assert case.holder("act_review") == ("head", "ALM-OBL")
    case.review("ALM-OBL", "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "ALM-OBL")
    data = case.data()
    assert data["summary"] == "Акт с указанием норм УИК РК"
    assert data["rework_rounds"] == 1
    assert [(r["office"], r["decision"]) for r in data["review_log"]] == [
        ("ALM-TLG", "forward"),
        ("ALM-OBL", "return"),
        ("ALM-OBL", "forward"),
    ]


def test_an_office_returns_an_act_at_most_three_times_the_fourth_return_refuses_it(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="regional")
    case.review("ALM-TLG", "forward")
    for _ in range(3):
        case.review("ALM-OBL", "return", comment="Доработать")
        case.rework()
    case.review("ALM-OBL", "return", comment="Снова не доработано")
    assert case.open_tasks() == []
    assert case.status == "completed"
    data = case.data()
    assert data["act_result"] == "refused"
    assert data["refused_by"] == "ALM-OBL"
    assert data["refusal_reasons"].startswith("Лимит возвратов на доработку (3) исчерпан")
    assert data["rework_rounds"] == 3
    assert data["max_returns"] == 3  # the parameter (internal rule), not a number in a gateway


def test_returns_are_counted_per_office_and_the_longest_route_still_completes(acts) -> None:
    """The longest case the bound allows: 3 returns at each of 3 offices (far from the
    task-tree depth where SpiffWorkflow would stall)."""
    case = start_act(acts, origin="KRG-ZHZ", level="central")
    for office in ("KRG-ZHZ", "KRG-OBL", "GP"):
        for _ in range(3):
            case.review(office, "return", comment="Доработать")
            assert case.holder("act_rework") == ("prosecutor", "KRG-ZHZ")
            case.rework()
        case.review(office, "forward")
    assert case.holder("act_dispatch") == ("prosecutor", "GP")
    assert case.data()["rework_rounds"] == 9
    case.dispatch()
    assert case.answer("satisfied") == [case.id]
    assert case.status == "completed"


@pytest.mark.parametrize("office", ["ALM-TLG", "ALM-OBL"])
def test_a_refused_act_closes_the_case_with_the_reasons(acts, office) -> None:
    case = start_act(acts, origin="ALM-TLG", level="regional")
    if office == "ALM-OBL":
        case.review("ALM-TLG", "forward")
    case.review(office, "refuse", comment="Оснований для внесения представления нет")
    assert case.status == "completed"
    assert case.open_tasks() == []
    data = case.data()
    assert (data["act_result"], data["refused_by"]) == ("refused", office)
    assert data["refusal_reasons"] == "Оснований для внесения представления нет"
    assert "act_dispatch" not in [t.task_name for t in case.completed()]


def test_a_review_with_an_unknown_decision_is_not_accepted(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    with pytest.raises(ValidationFailed) as refused:  # the form's options hold before the model
        case.complete("act_review", decision="postpone", review_comment="?")
    assert refused.value.fields["decision"].code == "not_an_option"
    assert case.holder("act_review") == ("head", "ALM-TLG")


# -- the addressee's answer and its deadline -------------------------------------------------------


@pytest.mark.parametrize("result", ["satisfied", "partly", "rejected"])
def test_the_addressee_answer_closes_the_case_with_its_result(acts, result) -> None:
    case = start_act(acts, origin="ALM-TLG", level="regional")
    walk_route(case, ["ALM-TLG", "ALM-OBL"])
    case.dispatch(date="2026-11-30")
    assert case.open_tasks() == [] and case.status == "running"  # waiting for the answer
    # before the month is out nothing fires
    due = datetime(2026, 12, 30, 18, 59, 59, tzinfo=UTC)  # 30 Dec 23:59:59 Almaty
    assert acts.management.fire_due(due - timedelta(seconds=1)) == 0
    assert case.answer(result, answer_number="01-12/345") == [case.id]
    assert case.status == "completed"
    data = case.data()
    assert data["act_result"] == result
    assert data["answer"] == {"result": result, "answer_number": "01-12/345"}
    # no timer is left: nothing escalates later
    assert acts.management.fire_due(due + timedelta(days=60)) == 0
    assert acts.verify_history()["ok"] is True


@pytest.mark.parametrize(
    ("dispatched", "due"),
    [
        ("2026-11-30", datetime(2026, 12, 30, 18, 59, 59, tzinfo=UTC)),
        ("2026-12-15", datetime(2027, 1, 15, 18, 59, 59, tzinfo=UTC)),  # over the new year
        ("2027-01-31", datetime(2027, 2, 28, 18, 59, 59, tzinfo=UTC)),  # the month's last day
        ("2028-01-31", datetime(2028, 2, 29, 18, 59, 59, tzinfo=UTC)),  # a leap year
    ],
)
def test_the_answer_is_due_one_month_after_the_dispatch_date(acts, dispatched, due) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "forward")
    case.dispatch(date=dispatched)
    assert utc(datetime.fromisoformat(case.data()["answer_due"])) == due
    assert utc(acts.management.next_fire_at()) == due


def test_an_unanswered_act_is_escalated_to_the_head_of_the_office_of_origin(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="regional")
    walk_route(case, ["ALM-TLG", "ALM-OBL"])
    case.dispatch(date="2026-11-30")
    due = datetime(2026, 12, 30, 18, 59, 59, tzinfo=UTC)
    assert acts.management.fire_due(due - timedelta(seconds=1)) == 0
    assert case.open_tasks() == []

    assert acts.management.fire_due(due + timedelta(seconds=1)) == 1
    # the act was sent by the regional office, but its own head answers for it
    assert case.open_task_names() == ["act_answer_control"]
    assert case.holder("act_answer_control") == ("head", "ALM-TLG")
    assert case.due("act_answer_control") is None
    events = [(e["event_type"], e["task_name"]) for e in acts.history.events(case.id)]
    assert ("timer_fired", "answer_deadline") in events


def test_the_head_may_keep_waiting_and_a_late_answer_still_closes_the_case(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="regional")
    walk_route(case, ["ALM-TLG", "ALM-OBL"])
    case.dispatch(date="2026-11-30")
    acts.management.fire_due(datetime(2026, 12, 31, tzinfo=UTC))
    case.complete(
        "act_answer_control", control_action="wait", control_notes="Направлено напоминание"
    )
    assert case.open_tasks() == [] and case.status == "running"
    # the timer fires once: no second escalation
    assert acts.management.fire_due(datetime(2027, 6, 1, tzinfo=UTC)) == 0
    assert case.answer("partly") == [case.id]
    assert case.status == "completed"
    assert case.data()["act_result"] == "partly"


def test_the_head_may_close_an_unanswered_act(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "forward")
    case.dispatch(date="2026-11-30")
    acts.management.fire_due(datetime(2026, 12, 31, tzinfo=UTC))
    case.complete("act_answer_control", control_action="close", control_notes="Внесён новый акт")
    assert case.status == "completed"
    assert case.data()["act_result"] == "no_answer"
    # nobody waits for the answer any more
    assert case.answer("satisfied") == []


def test_an_answer_during_the_control_withdraws_the_control_task(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "forward")
    case.dispatch(date="2026-11-30")
    acts.management.fire_due(datetime(2026, 12, 31, tzinfo=UTC))
    assert case.open_task_names() == ["act_answer_control"]
    assert case.answer("satisfied") == [case.id]
    assert case.status == "completed"
    assert case.open_tasks() == []
    assert case.cancelled() == ["act_answer_control"]
    assert case.data()["act_result"] == "satisfied"
    assert acts.verify_history()["ok"] is True


def test_a_control_with_an_unknown_action_is_not_accepted(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "forward")
    case.dispatch(date="2026-11-30")
    acts.management.fire_due(datetime(2026, 12, 31, tzinfo=UTC))
    with pytest.raises(ValidationFailed) as refused:
        case.complete("act_answer_control", control_action="later", control_notes="?")
    assert refused.value.fields["control_action"].code == "not_an_option"
    assert case.open_task_names() == ["act_answer_control"]


def test_an_answer_with_an_unknown_result_is_refused_and_the_case_keeps_waiting(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "forward")
    case.dispatch()
    with pytest.raises(ScriptFailed):
        case.answer("maybe")
    assert case.status == "running"
    assert case.answer("rejected") == [case.id]
    assert case.data()["act_result"] == "rejected"


def test_an_answer_reaches_only_its_own_case(acts) -> None:
    first = start_act(acts, origin="ALM-TLG", level="district")
    second = start_act(acts, origin="ALM-KNV", level="district")
    for case, office in ((first, "ALM-TLG"), (second, "ALM-KNV")):
        case.review(office, "forward")
        case.dispatch()
    assert second.answer("satisfied") == [second.id]
    assert (first.status, second.status) == ("running", "completed")


def test_no_answer_is_taken_before_the_act_is_sent(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    assert case.answer("satisfied") == []
    assert case.holder("act_review") == ("head", "ALM-TLG")


def test_a_dispatch_date_that_is_not_a_date_is_not_accepted(acts) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "forward")
    with pytest.raises(ValidationFailed) as refused:
        case.dispatch(date="вчера")
    assert refused.value.fields["dispatch_date"].code == "not_a_date"
    assert case.holder("act_dispatch") == ("prosecutor", "ALM-TLG")


# -- the start contract ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("act_type", "addressee", "field", "code"),
    [
        ("letter", "DUIS-ALM", "act_type", "not_an_option"),
        ("protest", "NOWHERE", "addressee", "unknown_body"),
        ("protest", "", "addressee", "required"),
    ],
)
def test_an_act_of_an_unknown_type_or_addressee_is_not_started(
    acts, act_type, addressee, field, code
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        start_act(acts, act_type=act_type, addressee=addressee or " ")
    assert refused.value.fields[field].code in (code, "required", "not_an_option")
    assert acts.tasks.list(TaskQuery(process_id="act_routing")) == []


def test_an_act_from_an_unknown_office_is_not_started(acts) -> None:
    with pytest.raises(ScriptFailed):
        start_act(acts, origin="NOWHERE")


@pytest.mark.parametrize("act_type", ["protest", "submission", "order", "resolution", "warning"])
def test_every_kind_of_act_is_routed(acts, act_type) -> None:
    case = start_act(acts, act_type=act_type, origin="ALM-TLG", level="regional")
    walk_route(case, ["ALM-TLG", "ALM-OBL"])
    assert case.holder("act_dispatch") == ("prosecutor", "ALM-OBL")


def test_the_published_version_names_its_legal_basis_and_carries_its_forms(acts) -> None:
    definition = acts.repository.get(acts.repository.latest_id("act_routing"))
    assert sorted(definition.files) == [
        "act_routing/act_answer_control.form.json",
        "act_routing/act_dispatch.form.json",
        "act_routing/act_review.form.json",
        "act_routing/act_rework.form.json",
        "act_routing/act_routing.bpmn",
        "act_routing/answer_term.dmn",
        "act_routing/route.dmn",
        "act_routing/start.form.json",
    ]
    docs = [d for d in acts.repository.list() if d["process_id"] == "act_routing"]
    assert len(docs) == 1
    for name in ("act_review.form.json", "act_rework.form.json", "act_dispatch.form.json"):
        form = definition.form(name)
        assert form is not None and form["components"], name


# -- issue 11: the addressee from the directory of bodies decides the route ---------------------


@pytest.mark.parametrize(
    ("origin", "body", "route"),
    [
        ("KRG-ZHZ", "ADM-AK-159-21", ["KRG-ZHZ"]),  # a local body: directly
        ("KRG-ZHZ", "DUIS-KRG", ["KRG-ZHZ", "KRG-OBL"]),  # a regional body: ¶14
        ("KRG-ZHZ", "KUIS-MVD", ["KRG-ZHZ", "KRG-OBL", "GP"]),  # a central body: ¶12 with ¶14
        ("MIL-AST", "RK-ASTANA", ["MIL-AST", "MIL"]),
        ("MIL-AST", "MIN-DEF", ["MIL-AST", "MIL", "GP"]),
    ],
)
def test_the_body_chosen_from_the_directory_decides_the_route(acts, origin, body, route) -> None:
    case = start_act(acts, origin=origin, addressee=body)
    walk_route(case, route)
    assert case.holder("act_dispatch") == ("prosecutor", route[-1])
    data = case.data()
    assert data["route"] == route
    directory = acts.extensions["directory"]
    assert data["addressee_name"] == directory.body(body).name  # named by the directory


def test_the_author_cannot_set_the_addressee_level_himself(acts) -> None:
    # a local body named "central" by the payload would go through GP: the form does not take it
    with pytest.raises(ValidationFailed) as refused:
        start_act(acts, addressee="AKIMAT-TLG", addressee_level="central")
    assert "addressee_level" in refused.value.fields
    with pytest.raises(ValidationFailed):
        start_act(acts, addressee="AKIMAT-TLG", addressee_name="Министерство")
    assert acts.tasks.list(TaskQuery(process_id="act_routing")) == []


def test_the_review_limit_is_a_parameter_and_an_internal_rule(acts) -> None:
    definition = acts.repository.get(acts.repository.latest_id("act_routing"))
    text = definition.files["act_routing/act_routing.bpmn"]
    assert '<bpmn:scriptTask id="parameters" name="Параметры процедуры">' in text
    assert "max_returns = 3" in text
    assert "internal rule: Instruction 104 sets no limit" in text
    assert "returns_here &lt; max_returns" in text
    # the route is documented as a reading of ¶12 with ¶14, not as what ¶12 says alone
    assert "The route is a reading of ¶12 with ¶14" in text


@pytest.mark.parametrize("act_type", ["protest", "submission", "order", "resolution", "warning"])
def test_the_answer_term_comes_from_the_decision_table_with_its_basis(acts, act_type) -> None:
    case = start_act(acts, origin="ALM-TLG", level="district", act_type=act_type)
    case.review("ALM-TLG", "forward")
    case.dispatch(date="2026-11-30")
    data = case.data()
    assert data["answer_months"] == 1
    assert data["answer_basis"] == (
        "Внутреннее правило: Инструкция № 104 срок ответа не устанавливает"
    )
    assert utc(acts.management.next_fire_at()) == datetime(2026, 12, 30, 18, 59, 59, tzinfo=UTC)


def test_the_answer_term_table_is_published_with_the_procedure(acts) -> None:
    definition = acts.repository.get(acts.repository.latest_id("act_routing"))
    dmn = definition.files["act_routing/answer_term.dmn"]
    assert 'decision id="act_answer_term"' in dmn
    assert "Instruction 104 fixes no term for the answer" in dmn


def test_every_user_task_names_its_basis(acts) -> None:
    from lxml import etree

    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "s": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    }
    for folder in ("act_routing", "penalty_room_check"):
        root = etree.parse(str(ROOT / "bpmn" / folder / f"{folder}.bpmn"))
        tasks = root.findall(".//bpmn:userTask", ns)
        assert tasks
        for task in tasks:
            props = {p.get("name"): p.get("value") for p in task.findall(".//s:property", ns)}
            assert props.get("basis"), task.get("id")
            assert props["basis"] == "internal" or all(
                part.strip().replace(".", "").isdigit() for part in props["basis"].split(",")
            ), task.get("id")
            if "deadline" in props:  # a task with a deadline says it in three languages
                for key in ("deadline_rule", "deadline_rule_kk", "deadline_rule_en"):
                    assert props.get(key), (task.get("id"), key)
