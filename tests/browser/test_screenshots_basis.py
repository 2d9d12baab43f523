"""Issue 11: the task page says where its task comes from and its term, in every language —
checked in the browser and photographed to var/screenshots/task_basis_<locale>.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_accessibility import PAYLOAD, publish_all, sign_in

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SAYS = {
    "ru": ("Основание: Инструкция № 104, п. 11.6, 13.9", "Срок: 24 часа с момента водворения"),
    "kk": ("Негіздеме: № 104 Нұсқаулық, 11.6, 13.9-тармақ", "Мерзім: Орналастырылған сәттен"),
    "en": ("Basis: Instruction No. 104, ¶ 11.6, 13.9", "Term: 24 hours from the placement"),
}


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_task_page_shows_its_basis_and_term(page: Page, live, locale: str) -> None:
    base, engine = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    publish_all(engine)
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    (task,) = engine.tasks.list(TaskQuery(instance_id=iid, state="ready"))
    sign_in(page, base, locale=locale)
    page.goto(f"{base}/tasks/{task.task_guid}")
    basis, term = SAYS[locale]
    expect(page.locator("#task-basis-text")).to_contain_text(basis)
    expect(page.locator("#task-deadline-rule")).to_contain_text(term)
    page.screenshot(path=str(SHOTS / f"task_basis_{locale}.png"), full_page=True)
