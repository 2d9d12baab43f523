"""The case diagram as a prosecutor reads it, in a real browser: lane and element names in the
user's language (from the model), the flows taken highlighted, how many times an element was
passed, text at a readable size, and the same path in words for those who cannot see it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_case_page import watch_for_refusals
from tests.conftest import BPMN_DIR
from workflows.demo_org import LOGIN_PREFIX

ACT = {
    "act_type": "submission",
    "origin_office": "ALM-TLG",
    "addressee": "DUIS-ALM",  # a body of the directory (issue 11)
    "summary": "Об устранении нарушений условий содержания",
}


def complete(engine, iid: int, name: str, **data) -> None:  # type: ignore[no-untyped-def]
    [task] = [t for t in engine.tasks.list(TaskQuery(instance_id=iid)) if t.task_name == name]
    actor = f"{LOGIN_PREFIX[task.office_code]}.{task.role}"
    engine.tasks.complete(task.task_guid, data, actor=actor)


def returned_once(engine) -> int:  # type: ignore[no-untyped-def]
    """An act the district head returned for rework and then forwarded: now with the region."""
    engine.repository.publish(BPMN_DIR / "act_routing" / "act_routing.bpmn", now=engine.clock.now())
    iid = engine.runtime.start("act_routing", ACT, actor="tlg.prosecutor")
    complete(engine, iid, "act_review", decision="return", review_comment="Уточните адресата")
    complete(engine, iid, "act_rework", summary="Доработано", rework_note="Адресат уточнён")
    complete(engine, iid, "act_review", decision="forward", review_comment="Согласовано")
    return iid


def open_case_in(page: Page, base: str, iid: int, locale: str) -> None:
    page.goto(f"{base}/cases/{iid}")
    if page.locator("select[name=locale]").input_value() != locale:
        with page.expect_navigation():
            page.select_option("select[name=locale]", locale)
    page.goto(f"{base}/cases/{iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)


def svg_text(page: Page, element_id: str) -> str:
    """The words bpmn-js drew for an element (its label lines joined)."""
    label = page.locator(f'.djs-element[data-element-id="{element_id}"] .djs-visual text').first
    return " ".join(label.locator("tspan").all_text_contents()).replace("  ", " ").strip()


def test_the_diagram_speaks_the_users_language_and_shows_the_path(page: Page, live) -> None:
    base, engine = live
    errors = watch_for_refusals(page)
    iid = returned_once(engine)
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "tlg.head")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")

    open_case_in(page, base, iid, "kk")
    assert svg_text(page, "lane_reviewer") == "Бағыттағы прокуратураның басшысы"
    assert svg_text(page, "lane_author") == "Акт авторы"
    assert svg_text(page, "act_review") == "Актіні қарау"
    # the return for rework was taken, the refusal was not
    expect(page.locator('.djs-element.taken[data-element-id="f_return"]')).to_have_count(1)
    expect(page.locator('.djs-element.taken[data-element-id="f_refuse"]')).to_have_count(0)
    # the review was passed twice (the district head, before and after the rework)
    expect(page.locator('.diagram-count[data-element="act_review"]')).to_have_text("×2")
    expect(page.locator('.diagram-count[data-element="act_rework"]')).to_have_count(0)  # once
    # the open review (now at the regional office) is marked as where the case waits
    expect(page.locator('.djs-element.current[data-element-id="act_review"]')).to_have_count(1)
    # labels are drawn at 11 px or more: the diagram is never shrunk below 11/12
    assert float(page.locator("#diagram").get_attribute("data-scale")) * 12 >= 10.99
    text = page.locator("#diagram-text")
    expect(text).to_contain_text("Өтілген жол")
    # the path in words, in the order it was walked: the review, the return, the review again
    expect(text).to_contain_text(
        "Актіні қарау → Шешімді жазу → Қайтаруды есепке алу → Актіні пысықтау → Актіні қарау"
    )
    expect(text).to_contain_text("Іс күтіп тұрған қадам: Актіні қарау")
    assert page.locator("#diagram").get_attribute("aria-describedby") == "diagram-text"

    open_case_in(page, base, iid, "en")
    assert svg_text(page, "lane_reviewer") == "Head of the office on the route"
    assert svg_text(page, "lane_sender") == "Sending office"
    assert svg_text(page, "f_return_label") == "return for rework"
    expect(page.locator("#diagram-text")).to_contain_text(
        "Act prepared → Parameters of the procedure → Determine the level of the originating office"
    )
    expect(page.locator("#diagram-text")).to_contain_text(
        "Rework the act → Review the act → Record the decision → Pass to the next office"
    )
    expect(page.locator("#diagram-text")).to_contain_text("The case waits at: Review the act")
    assert errors == []


def test_a_breached_open_task_is_marked_and_the_lanes_are_not_role_keys(page: Page, live) -> None:
    base, engine = live
    iid = engine.runtime.start(
        "penalty_room_check",
        {
            "institution": "UK-161-2",
            "convict_name": "Петров",
            "placed_at": "2026-11-24T09:30:00+05:00",
            "resolution_number": "145",
            "resolution_date": "2026-11-24",
            "grounds": "Отказ от работы",
            "duration_days": 10,
        },
        actor="tlg.prosecutor",
    )
    engine.clock.advance(__import__("datetime").timedelta(hours=30))
    engine.management.fire_due()
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")
    open_case_in(page, base, iid, "ru")
    # not the role key "supervising office"
    assert svg_text(page, "lane_supervising") == "Прокуратура, надзирающая за учреждением"
    expect(page.locator('.djs-element.breached[data-element-id="placement_check"]')).to_have_count(
        1
    )
    expect(page.locator('.djs-element.taken[data-element-id="f_breached"]')).to_have_count(1)
    expect(page.locator("#diagram-text")).to_contain_text("(срок нарушен)")
