"""Screenshots of every page of the workspace in every language, for a reviewer to look at:
`make test` leaves them in var/screenshots/ (git-ignored), named <page>_<locale>.png, e.g.
case_kk.png, task_errors_ru.png. The pages a head's menu adds (the overview of deadlines) are
taken from the header's links, so a page added there is photographed without touching this file.

Each page is checked for what a reader would see first (its heading, the errors, the diagram)
before it is photographed, so a screenshot of a broken page fails the test instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_accessibility import (
    PAYLOAD,
    choose_language,
    complete_first_task,
    publish_all,
    sign_in,
)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
# the header's links every signed-in user has; the others are photographed as the head's pages
COMMON_LINKS = re.compile(r"^/(queue(/\w+)?|start|tasks)?$")


def shoot(page: Page, name: str, locale: str, taken: list[Path]) -> None:
    expect(page.locator("h1").first).to_be_visible()
    path = SHOTS / f"{name}_{locale}.png"
    page.screenshot(path=str(path), full_page=True)
    taken.append(path)


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_every_page_is_photographed_in_every_language(page: Page, live, locale: str) -> None:
    base, engine = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    publish_all(engine)
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    (task,) = engine.tasks.list(TaskQuery(instance_id=iid, state="ready"))
    finished = complete_first_task(engine, PAYLOAD)
    taken: list[Path] = []

    page.goto(f"{base}/login")
    choose_language(page, locale)
    shoot(page, "login", locale, taken)
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "wrong")
    page.click("main button[type=submit]")
    expect(page.locator(".flash.error")).to_be_focused()
    shoot(page, "login_refused", locale, taken)

    sign_in(page, base, locale=locale)
    page.goto(f"{base}/queue/office")
    expect(page.locator(f"tr:has-text('№ {iid}')")).to_have_count(1)
    shoot(page, "queue", locale, taken)

    page.goto(f"{base}/tasks/{task.task_guid}")
    shoot(page, "task", locale, taken)
    page.click("button[name=action][value=complete]")
    expect(page.locator("#error-summary")).to_be_focused()
    shoot(page, "task_errors", locale, taken)

    page.goto(f"{base}/tasks/{finished}")
    shoot(page, "task_finished", locale, taken)

    page.goto(f"{base}/cases/{iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    shoot(page, "case", locale, taken)

    page.goto(f"{base}/start")
    shoot(page, "start_list", locale, taken)
    page.goto(f"{base}/start/penalty_room_check")
    shoot(page, "start", locale, taken)
    page.goto(f"{base}/start/npm_pmc_appeal")
    page.select_option("select[name=institution]", index=1)
    page.click("main form button[type=submit]")
    expect(page.locator("#error-summary")).to_be_focused()
    shoot(page, "start_errors", locale, taken)

    page.goto(f"{base}/cases/999999")
    expect(page.locator(".error-page")).to_be_visible()
    shoot(page, "error_404", locale, taken)

    # a regional head: his queue and whatever his menu adds (the overview of deadlines)
    page.context.clear_cookies()
    sign_in(page, base, login="alm.head", locale=locale)
    page.goto(f"{base}/queue/office")
    shoot(page, "head_queue", locale, taken)
    hrefs = page.locator("header a[href]").evaluate_all("links => links.map(a => a.href)")
    for href in dict.fromkeys(hrefs):
        path = urlsplit(href).path
        if COMMON_LINKS.match(path):
            continue
        page.goto(href)
        shoot(page, "head_" + re.sub(r"\W+", "_", path.strip("/")), locale, taken)

    assert all(p.stat().st_size > 5_000 for p in taken), "a screenshot is blank"
