"""In a real browser: the regional head finds a district's missed placement check in his own
queue and in the overview of deadlines, completes the control, and reads his measures on the
case page. Screenshots go to var/screenshots/head_control_*.png: the queue, the control and the
case page in Russian, the overview in ru, kk and en."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
LATE = {
    "institution": "UK-161-2",
    "convict_name": "Петров Иван",
    "placed_at": "2026-11-22T09:30:00+05:00",  # the check was due 23.11 09:30: in breach
    "resolution_number": "145",
    "resolution_date": "2026-11-22",
    "grounds": "Отказ от работы",
    "duration_days": 10,
}
MEASURES = "Районному прокурору указано на нарушение срока проверки"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/queue"))  # signed in: the office queue


def test_the_regional_head_controls_a_districts_breach(page: Page, live) -> None:
    base, engine = live
    iid = engine.runtime.start("penalty_room_check", LATE, actor="tlg.prosecutor")
    sign_in(page, base, "alm.head")

    # his own queue: the control of the district's breach, for him as head of the region
    expect(page.locator("h1")).to_contain_text("Очередь прокуратуры")
    control = page.locator("tr", has_text=f"№ {iid}")
    expect(control).to_contain_text("Контроль: проверка не проведена в срок")
    shot(page, "head_control_queue_ru")

    # the overview: the district by name, its breach counted and listed
    page.click("header >> text=Обзор сроков")
    expect(page.locator("h1")).to_have_text("Обзор сроков")
    talgar = page.locator("#office-counts tr[data-office=ALM-TLG]")
    expect(talgar).to_contain_text("Прокуратура Талгарского района")
    expect(talgar.locator(".breached-count")).to_have_text("1")
    talgar.locator(".breached-count a").click()
    late = page.locator("#overview-tasks tbody tr")
    expect(late).to_have_count(1)
    expect(late).to_contain_text("Проверить законность водворения")
    expect(late).to_contain_text("Прокуратура Талгарского района")
    expect(late.locator(".mark.breached")).to_have_text("срок нарушен")

    # the control, opened from the overview, claimed and completed
    page.goto(f"{base}/overview")
    page.locator("#overview-tasks a", has_text="Контроль: проверка не проведена в срок").click()
    claim = page.locator("button", has_text="Взять")
    if claim.count():
        claim.first.click()
    page.fill("textarea[name=control_measures]", MEASURES)
    shot(page, "head_control_task_ru")
    page.click("button[name=action][value=complete]")
    expect(page.locator(".flash.ok")).to_contain_text("выполнена")
    done = engine.tasks.list(TaskQuery(instance_id=iid, state="completed"))
    assert [(t.task_name, t.completed_by) for t in done] == [("breach_control", "alm.head")]

    # the case page shows what he decided, under the field's label
    page.goto(f"{base}/cases/{iid}")
    expect(page.locator("main")).to_contain_text(MEASURES)
    expect(page.locator("main")).to_contain_text("Принятые меры по нарушению срока проверки")
    shot(page, "head_control_case_ru")


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_overview_reads_in_every_language(page: Page, live, locale: str) -> None:
    base, engine = live
    engine.runtime.start("penalty_room_check", LATE, actor="tlg.prosecutor")
    sign_in(page, base, "alm.head")
    if locale != "ru":
        with page.expect_navigation():  # the choice submits itself (web/static/nadzor.js)
            page.select_option("#language-form select", locale)
    expect(page.locator("html")).to_have_attribute("lang", locale)
    page.goto(f"{base}/overview")
    heading = {"ru": "Обзор сроков", "kk": "Мерзімдерге шолу", "en": "Overview of deadlines"}
    expect(page.locator("h1")).to_have_text(heading[locale])
    district = {
        "ru": "Прокуратура Талгарского района",
        "kk": "Талғар ауданының прокуратурасы",
        "en": "Talgar District Prosecutor's Office",
    }
    expect(page.locator("#office-counts")).to_contain_text(district[locale])
    expect(page.locator("#overview-tasks")).to_contain_text("2026")  # a four-digit year
    shot(page, f"head_control_overview_{locale}")
