"""In a real browser, in every language: a regional head opens the supervision indicators from
the header, chooses the quarter, sees the numbers in a table beside each Chart.js chart (the
canvas is drawn: pixels painted), follows a number to the cases behind it. The page passes
axe-core; screenshots go to var/screenshots/indicators_<locale>.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_accessibility import PAYLOAD, axe, serious_violations, sign_in  # noqa: F401
from tests.browser.test_screenshots import SHOTS

TITLE = {
    "ru": "Показатели надзора",
    "kk": "Қадағалау көрсеткіштері",
    "en": "Supervision indicators",
}
NAV = {"ru": "Показатели", "kk": "Көрсеткіштер", "en": "Indicators"}
LATE = {"ru": "выполнено с нарушением срока", "kk": "мерзімі бұзылып орындалды", "en": "done late"}

#: how many pixels of a canvas are painted (not transparent): a drawn chart has many
PAINTED = """id => {
  const c = document.getElementById(id);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
  return n;
}"""


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_a_head_opens_the_indicators_and_a_chart_is_drawn(
    page: Page,
    live,
    axe,  # noqa: F811  (the fixture, imported above)
    locale: str,
) -> None:
    base, engine = live
    # two placements in Talgar: one checked in time, one checked a day late
    on_time = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    late = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    from engine.tasks import TaskQuery

    check = {
        "placement_lawful": True,
        "conditions_lawful": True,
        "findings": "Проверено",
    }
    [task] = engine.tasks.list(TaskQuery(instance_id=on_time))
    engine.tasks.complete(task.task_guid, check, actor="tlg.prosecutor")
    engine.clock.advance(timedelta(hours=30))
    [task] = [
        t
        for t in engine.tasks.list(TaskQuery(instance_id=late))
        if t.task_name == "placement_check"
    ]
    engine.tasks.complete(task.task_guid, check, actor="tlg.prosecutor")

    sign_in(page, base, login="alm.head", locale=locale)
    page.click("header >> #nav-indicators")
    expect(page.locator("h1")).to_have_text(TITLE[locale])
    expect(page.locator("#nav-indicators")).to_have_text(NAV[locale])
    # the current quarter (Q4 2026) is chosen: the two checks are counted beside the chart
    section = page.locator("#figure-penalty_room_checks")
    expect(section.locator("tr[data-key='penalty_room_checks.total'] td.num")).to_have_text("2")
    late_row = section.locator("tr[data-key='penalty_room_checks.late']")
    expect(late_row).to_contain_text(LATE[locale])
    expect(late_row.locator("td.num")).to_have_text("1")
    canvas = page.locator("#chart-penalty_room_checks")
    expect(canvas).to_have_attribute("data-drawn", "4")  # in time, late, open, overdue
    assert page.evaluate(PAINTED, "chart-penalty_room_checks") > 500
    assert serious_violations(page) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"indicators_{locale}.png"), full_page=True)
    # the number leads to the case behind it
    late_row.locator("td.num a").click()
    expect(page.locator(f"#indicator-cases tr[data-case='{late}']")).to_have_count(1)
    expect(page.locator(f"#indicator-cases tr[data-case='{on_time}']")).to_have_count(0)
