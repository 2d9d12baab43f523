"""Issue 11: every user task shows the ¶ of Instruction 104 it comes from (or "internal
rule") and its deadline rule, in the user's language — on the task page and among the case
page's open tasks; and the addressee of an act is chosen from the directory of bodies."""

from __future__ import annotations

import re

import pytest

from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_web_queue import csrf, sign_in
from web.app import create_app

PENALTY = ROOT / "bpmn" / "penalty_room_check" / "penalty_room_check.bpmn"
ACTS = ROOT / "bpmn" / "act_routing" / "act_routing.bpmn"

PLACEMENT = {
    "institution": "UK-161-2",
    "convict_name": "Петров Иван",
    "placed_at": "2026-11-24T09:30:00+05:00",
    "resolution_number": "145",
    "resolution_date": "2026-11-24",
    "grounds": "Отказ от работы",
    "duration_days": 10,
}

#: what the placement check's page says, per language
SAYS = {
    "ru": (
        "Основание: Инструкция № 104, п. 11.6, 13.9",
        "Срок: 24 часа с момента водворения, для отдалённого учреждения — 48 часов",
    ),
    "kk": (
        "Негіздеме: № 104 Нұсқаулық, 11.6, 13.9-тармақ",
        "Мерзім: Орналастырылған сәттен бастап 24 сағат, шалғай мекеме үшін — 48 сағат",
    ),
    "en": (
        "Basis: Instruction No. 104, ¶ 11.6, 13.9",
        "Term: 24 hours from the placement, 48 hours for a remote institution",
    ),
}


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    domain_engine.repository.publish(ACTS, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


@pytest.fixture
def web(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def text(html: str) -> str:
    """The page's words, without tags and repeated spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" :", ":")


def in_language(client, locale: str, url: str) -> str:  # type: ignore[no-untyped-def]
    before = client.get(url).get_data(as_text=True)
    client.post("/language", data={"locale": locale, "next": url, "csrf_token": csrf(before)})
    response = client.get(url)
    assert response.status_code == 200
    return text(response.get_data(as_text=True))


def open_task(engine, iid: int, name: str):  # type: ignore[no-untyped-def]
    [task] = [t for t in engine.tasks.list(TaskQuery(instance_id=iid)) if t.task_name == name]
    return task


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_task_page_shows_its_basis_and_deadline_rule(web, domain_engine, locale) -> None:
    iid = domain_engine.runtime.start("penalty_room_check", PLACEMENT, actor="tlg.prosecutor")
    task = open_task(domain_engine, iid, "placement_check")
    sign_in(web, "tlg.prosecutor")
    page = in_language(web, locale, f"/tasks/{task.task_guid}")
    basis, rule = SAYS[locale]
    assert basis in page and rule in page
    # the case page's open tasks say the same
    case = in_language(web, locale, f"/cases/{iid}")
    assert basis in case and rule in case


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("ru", "Основание: внутреннее правило"),
        ("kk", "Негіздеме: ішкі ереже"),
        ("en", "Basis: internal rule"),
    ],
)
def test_an_internal_rule_is_called_so_and_a_task_without_a_term_shows_none(
    web, domain_engine, locale, words
) -> None:
    iid = domain_engine.runtime.start(
        "act_routing",
        {
            "act_type": "protest",
            "origin_office": "ALM-TLG",
            "addressee": "AKIMAT-TLG",
            "summary": "Протест",
        },
        actor="tlg.prosecutor",
    )
    review = open_task(domain_engine, iid, "act_review")
    domain_engine.tasks.complete(
        review.task_guid,
        {"decision": "return", "review_comment": "Доработать"},
        actor="tlg.head",
    )
    rework = open_task(domain_engine, iid, "act_rework")
    sign_in(web, "tlg.prosecutor")
    page = in_language(web, locale, f"/tasks/{rework.task_guid}")
    assert words in page
    assert {"ru": "Срок:", "kk": "Мерзім:", "en": "Term:"}[locale] not in page


def test_the_suspects_check_cites_13_12_and_no_term(web, domain_engine) -> None:
    iid = domain_engine.runtime.start(
        "penalty_room_check",
        {**PLACEMENT, "institution": "SIZO-ALM", "person_status": "suspect"},
        actor="knv.prosecutor",
    )
    task = open_task(domain_engine, iid, "penalty_check")
    sign_in(web, "knv.prosecutor")
    page = in_language(web, "ru", f"/tasks/{task.task_guid}")
    assert "Основание: Инструкция № 104, п. 13.12" in page
    assert "Срок: " not in page.split("Основание:")[1][:200]


def test_the_act_start_page_offers_the_bodies_of_the_directory(web, domain_engine) -> None:
    sign_in(web, "tlg.prosecutor")
    html = web.get("/start/act_routing").get_data(as_text=True)
    assert '<option value="KUIS-MVD"' in html and '<option value="AKIMAT-TLG"' in html
    page = text(html)
    kuis = "Комитет уголовно-исполнительной системы МВД Республики Казахстан"
    assert f"{kuis} — центральный государственный орган" in page
    # the domain, not the page, decides: a code outside the directory is refused in words
    response = web.post(
        "/start/act_routing",
        data={
            "act_type": "protest",
            "addressee": "NOWHERE",
            "summary": "Протест",
            "csrf_token": csrf(html),
        },
    )
    assert response.status_code == 422
    assert domain_engine.tasks.list(TaskQuery(process_id="act_routing")) == []
    # a body of the directory starts the act on the route its level decides (¶14)
    response = web.post(
        "/start/act_routing",
        data={
            "act_type": "protest",
            "addressee": "DUIS-ALM",
            "summary": "Протест",
            "csrf_token": csrf(html),
        },
    )
    assert response.status_code == 302
    [iid] = {t.instance_id for t in domain_engine.tasks.list(TaskQuery(process_id="act_routing"))}
    data = domain_engine.runtime.data(iid)
    assert (data["addressee_level"], data["addressee_office"]) == ("regional", "ALM-OBL")


def test_the_response_act_form_offers_the_bodies(web, domain_engine) -> None:
    iid = domain_engine.runtime.start("penalty_room_check", PLACEMENT, actor="tlg.prosecutor")
    check = open_task(domain_engine, iid, "placement_check")
    domain_engine.tasks.complete(
        check.task_guid,
        {"placement_lawful": False, "conditions_lawful": True, "findings": "Нарушение"},
        actor="tlg.prosecutor",
    )
    act = open_task(domain_engine, iid, "response_act")
    sign_in(web, "tlg.prosecutor")
    html = web.get(f"/tasks/{act.task_guid}").get_data(as_text=True)
    assert '<option value="DUIS-ALM"' in html
    response = web.post(
        f"/tasks/{act.task_guid}",
        data={
            "act_type": "protest",
            "addressee": "NOWHERE",
            "summary": "Акт",
            "action": "complete",
            "csrf_token": csrf(html),
        },
    )
    assert response.status_code == 422
    assert "справочник" in response.get_data(as_text=True)
    assert open_task(domain_engine, iid, "response_act").task_guid == act.task_guid


def test_every_lane_of_every_model_has_a_name_in_each_language() -> None:
    from lxml import etree

    from web.diagram import element_name

    bpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL"
    for path in sorted((ROOT / "bpmn").glob("*/*.bpmn")):
        root = etree.parse(str(path))
        for lane in root.iter(f"{{{bpmn}}}lane"):
            names = {loc: element_name(lane, loc) for loc in ("ru", "kk", "en")}
            assert len(set(names.values())) == 3, (path.name, lane.get("name"), names)
            assert names["ru"] != lane.get("name"), (path.name, lane.get("name"))
