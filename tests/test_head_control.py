"""Heads see what they must control (issue 13): the control of a district's breach lands in the
regional head's own queue, and the overview of deadlines shows a head his office and the offices
below it — and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from engine.serialization import StateSerializer
from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_web_queue import csrf, sign_in
from web import tasks_ui as queues
from web.app import create_app
from workflows.scope import CASE_ROLES

MODEL = ROOT / "bpmn" / "penalty_room_check" / "penalty_room_check.bpmn"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
LATE = "2026-11-22T09:30:00+05:00"  # two days before the fake clock's now: in breach at once
FRESH = "2026-11-24T09:30:00+05:00"  # due tomorrow 09:30, within 24 h of now (10:00)
CONTROL_RU = "Контроль: проверка не проведена в срок"


@pytest.fixture
def web(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    return app.test_client()


def place(engine, institution: str, placed_at: str, name: str) -> int:  # type: ignore[no-untyped-def]
    return engine.runtime.start(
        "penalty_room_check",
        {
            "institution": institution,
            "convict_name": name,
            "placed_at": placed_at,
            "resolution_number": "145",
            "resolution_date": "2026-11-22",
            "grounds": "Нарушение распорядка",
            "duration_days": 10,
        },
        actor="integration",
    )


def text(client, path: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def counts(page: str, office: str) -> tuple[int, int, int]:
    """(open, due within 24 h, breached) on the overview line of `office`."""
    line = re.search(rf'<tr data-office="{office}".*?</tr>', page, re.S)
    assert line is not None, f"no line for {office}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", line.group(0), re.S)
    return tuple(int(re.sub(r"<[^>]+>", "", c).strip()) for c in cells)  # type: ignore[return-value]


def control_task(engine, iid: int):  # type: ignore[no-untyped-def]
    return next(
        t for t in engine.tasks.list(TaskQuery(instance_id=iid)) if t.task_name == "breach_control"
    )


def test_every_role_a_model_names_for_one_task_is_a_role_that_works_cases() -> None:
    """A `role` property naming anyone else would give a task nobody may do."""
    named = []
    for path in Path(ROOT / "bpmn").glob("*/*.bpmn"):
        for prop in etree.parse(str(path)).iter(f"{SPIFF}property"):
            if prop.get("name") == "role":
                named.append((path.name, prop.get("value")))
    assert ("penalty_room_check.bpmn", "head") in named
    assert all(role in CASE_ROLES for _, role in named), named


def test_the_regional_head_finds_a_districts_breach_in_his_queue_and_completes_the_control(
    web, domain_engine
) -> None:
    iid = place(domain_engine, "UK-161-2", LATE, "Петров Иван")
    control = control_task(domain_engine, iid)
    assert (control.role, control.office_code) == ("head", "ALM-OBL")

    sign_in(web, "alm.prosecutor")
    queue = text(web, "/queue")
    assert f"№ {iid}" not in queue  # not the regional unit's any more
    refused = web.post(f"/tasks/{control.task_guid}/claim", data={"csrf_token": csrf(queue)})
    assert refused.status_code == 403  # he reads the control, the head does it
    assert domain_engine.tasks.get(control.task_guid).assignee is None
    web.post("/logout", data={"csrf_token": csrf(queue)})

    sign_in(web, "alm.head")
    queue = text(web, "/queue")
    assert CONTROL_RU in queue and f"№ {iid}" in queue
    form = text(web, f"/tasks/{control.task_guid}")
    assert "Принятые меры по нарушению срока проверки" in form
    done = web.post(
        f"/tasks/{control.task_guid}",
        data={
            "csrf_token": csrf(form),
            "action": "complete",
            "control_measures": "Районному прокурору указано на нарушение срока",
        },
    )
    assert done.status_code == 302
    finished = domain_engine.tasks.get(control.task_guid)
    assert (finished.state, finished.completed_by) == ("completed", "alm.head")
    case_page = text(web, f"/cases/{iid}")
    assert "Районному прокурору указано на нарушение срока" in case_page


def test_the_overview_counts_the_regional_heads_office_and_districts_by_name(
    web, domain_engine
) -> None:
    late = place(domain_engine, "UK-161-2", LATE, "Петров Иван")  # ALM-TLG, breached
    fresh = place(domain_engine, "SIZO-ALM", FRESH, "Сидоров Олег")  # ALM-KNV, due in 23.5 h
    other = place(domain_engine, "UK-159-11", LATE, "Карагандинский Осуждённый")  # KRG
    sign_in(web, "alm.head")
    queue = text(web, "/queue")
    assert 'href="/overview"' in queue  # in the header menu of a head
    page = text(web, "/overview")
    assert counts(page, "ALM-OBL") == (1, 0, 0)  # the control task, no deadline of its own
    assert counts(page, "ALM-TLG") == (1, 0, 1)
    assert counts(page, "ALM-KNV") == (1, 1, 0)
    assert "Прокуратура Талгарского района" in page and "Прокуратура города Конаева" in page
    assert "ALM-TLG</td>" not in page  # names, not codes
    assert "23.11.2026, 09:30" in page  # the missed due date in Almaty time, Russian format
    assert f"№ {late}" in page and f"№ {fresh}" in page
    assert f"№ {other}" not in page and "Карагандин" not in page

    breached = text(web, "/overview?breached=1")
    assert f"/cases/{late}" in breached and f"/cases/{fresh}" not in breached
    assert CONTROL_RU not in breached.split('id="overview-tasks"')[1]  # no deadline: not late

    one_office = text(web, "/overview?office=ALM-KNV")
    tasks = one_office.split('id="overview-tasks"')[1]
    assert f"/cases/{fresh}" in tasks and f"/cases/{late}" not in tasks

    # an office outside his scope is no filter: nothing of Karaganda is shown
    outside = text(web, "/overview?office=KRG-KAR")
    assert f"/cases/{other}" not in outside and f"/cases/{late}" in outside


def test_the_overview_reads_the_task_index_only(web, domain_engine, monkeypatch) -> None:
    """No case is restored to draw it (it must stay fast over a whole region's cases)."""
    place(domain_engine, "UK-161-2", LATE, "Петров Иван")
    sign_in(web, "alm.head")
    restored: list[object] = []
    original = StateSerializer.loads

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        restored.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StateSerializer, "loads", counted)
    inspect = domain_engine.steps.inspect  # a read of a cached workflow counts as well

    def inspected(*args, **kwargs):  # type: ignore[no-untyped-def]
        restored.append(args)
        return inspect(*args, **kwargs)

    monkeypatch.setattr(domain_engine.steps, "inspect", inspected)
    for query in ("", "?breached=1", "?office=ALM-TLG&procedure=penalty_room_check", "?page=2"):
        text(web, f"/overview{query}")
    assert restored == []


def test_a_district_head_sees_only_his_office(web, domain_engine) -> None:
    late = place(domain_engine, "UK-161-2", LATE, "Петров Иван")
    fresh = place(domain_engine, "SIZO-ALM", FRESH, "Сидоров Олег")  # the neighbouring district
    sign_in(web, "tlg.head")
    page = text(web, "/overview")
    assert re.findall(r'<tr data-office="([^"]+)"', page) == ["ALM-TLG"]
    assert counts(page, "ALM-TLG") == (1, 0, 1)
    assert f"/cases/{late}" in page and f"/cases/{fresh}" not in page
    assert CONTROL_RU not in page  # the regional office's control is above him


def test_another_regions_head_sees_nothing_of_almaty(web, domain_engine) -> None:
    late = place(domain_engine, "UK-161-2", LATE, "Петров Иван")
    sign_in(web, "krg.head")
    page = text(web, "/overview")
    assert set(re.findall(r'<tr data-office="([^"]+)"', page)) == {"KRG-OBL", "KRG-KAR", "KRG-ZHZ"}
    assert f"/cases/{late}" not in page and "Талгар" not in page and "Алматин" not in page
    assert counts(page, "KRG-OBL") == (0, 0, 0)


def test_the_gp_head_sees_every_office_and_pages_through_the_tasks(
    web, domain_engine, monkeypatch
) -> None:
    late = place(domain_engine, "UK-161-2", LATE, "Петров Иван")
    other = place(domain_engine, "UK-159-11", LATE, "Карагандинский Осуждённый")
    monkeypatch.setattr(queues, "OVERVIEW_PAGE", 2)
    sign_in(web, "gp.head")
    page = text(web, "/overview")
    offices = re.findall(r'<tr data-office="([^"]+)"', page)
    assert offices[0] == "GP" and {"ALM-TLG", "KRG-KAR", "MIL-AST"} <= set(offices)
    assert counts(page, "ALM-OBL") == (1, 0, 0) and counts(page, "KRG-OBL") == (1, 0, 0)
    assert "Всего" in page and "Обзор сроков" in page
    assert 'rel="next"' in page  # four open tasks, two a page
    second = text(web, "/overview?page=2")
    shown = set(re.findall(r'href="/cases/(\d+)"', page + second))
    assert {str(late), str(other)} == shown


def test_the_overview_is_for_heads_only(web) -> None:
    sign_in(web, "tlg.prosecutor")
    assert 'href="/overview"' not in text(web, "/queue")
    assert web.get("/overview").status_code == 403
