"""A reception of convicts as the regional office's head sees it in a real browser: the case
diagram with its lanes in the user's language, the record's institution offered from the
office's scope, and the late reception's control (screenshots var/screenshots/reception_*)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_diagram import open_case_in, svg_text
from tests.conftest import BPMN_DIR

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
#: Almaty midnight on 1 January 2027 (a half-year, a quarter and a month begin) and 1 April
JAN_1 = datetime(2026, 12, 31, 19, 0, 1, tzinfo=UTC)
APR_1 = datetime(2027, 3, 31, 19, 0, 1, tzinfo=UTC)

LANES = {
    "ru": ("Прокуратура, проводящая приём", "Руководство Генеральной прокуратуры"),
    "kk": ("Қабылдауды жүргізетін прокуратура", "Бас прокуратураның басшылығы"),
    "en": ("Office holding the reception", "Leadership of the General Prosecutor's Office"),
}


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_a_late_deputy_reception_on_the_diagram(page: Page, live, locale: str) -> None:
    base, engine = live
    engine.repository.publish(BPMN_DIR / "reception" / "reception.bpmn", now=engine.clock.now())
    engine.management.fire_due(JAN_1)
    [task] = [
        t
        for t in engine.tasks.list(TaskQuery(process_id="reception", offices=["ALM-OBL"]))
        if t.task_name == "deputy_reception"
    ]
    engine.management.fire_due(APR_1)  # the quarter ended without the reception
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "alm.head")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")

    open_case_in(page, base, task.instance_id, locale)
    author, gp = LANES[locale]
    assert svg_text(page, "lane_author") == author
    assert svg_text(page, "lane_gp_head") == gp
    expect(page.locator('.djs-element.current[data-element-id="deputy_reception"]')).to_have_count(
        1
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"reception_diagram_{locale}.png"), full_page=True)

    page.goto(f"{base}/tasks/{task.task_guid}")
    options = page.locator("select[name=institution] option")
    values = set(options.evaluate_all("els => els.map(e => e.value)"))
    assert {"UK-161-2"} <= values and "UK-159-11" not in values  # Almaty region's only
    page.screenshot(path=str(SHOTS / f"reception_task_{locale}.png"), full_page=True)
