"""Moving running cases in the browser: the methodologist opens the migration page of
penalty_room_check, runs the dry run from version 1 to version 2 (which counts the check's
deadline 12 hours from the placement and drops the suspects' check), sees case by case whether it
can move, why not, and the deadlines before and after, and migrates one case. Photographed in
ru, kk and en to var/screenshots/migration_<locale>.png (dry run) and migration_done_en.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_accessibility import PAYLOAD, sign_in
from tests.test_case_migration import publish_variant, with_12_hour_timer, with_review_step

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SAYS = {
    "ru": ("Пробный прогон", "да", "нет", "пересчитан по данным самого дела"),
    "kk": ("Сынақ", "иә", "жоқ", "істің өз деректері бойынша қайта есептелді"),
    "en": ("Dry run", "yes", "no", "recomputed from the case's own data"),
}


def _v2(text: str) -> str:
    """Version 2: a review step after the check, 12 hours from the placement, and the
    suspects' check renamed (a case waiting in it cannot move)."""
    text = with_12_hour_timer(with_review_step(text))
    return re.sub(r"\bpenalty_check\b(?!\.form)", "suspect_check", text)


def _cases(engine: Any, tmp_path: Path) -> tuple[int, int]:
    convict = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    suspect = engine.runtime.start(
        "penalty_room_check", {**PAYLOAD, "person_status": "suspect"}, actor="tlg.prosecutor"
    )
    publish_variant(engine, tmp_path, "v2", _v2, engine.clock)
    return convict, suspect


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_dry_run_then_migrate_one_case(page: Page, live, tmp_path: Path, locale: str) -> None:
    base, engine = live
    convict, suspect = _cases(engine, tmp_path)
    sign_in(page, base, "gp.methodologist", locale=locale)
    page.goto(f"{base}/procedures/penalty_room_check/migrate?from=1&to=2")
    dry_run, yes, no, recomputed = SAYS[locale]
    expect(page.locator("h2")).to_contain_text(dry_run)
    movable = page.locator(f"tr[data-case='{convict}']")
    stuck = page.locator(f"tr[data-case='{suspect}']")
    expect(movable.locator(".verdict strong")).to_have_text(yes)
    expect(stuck.locator(".verdict strong")).to_have_text(no)
    expect(stuck.locator(".reasons")).to_contain_text("version 2" if locale == "en" else "2")
    # the deadline before → after, in Almaty time, recomputed from the placement (09:30 + 12 h)
    expect(movable).to_contain_text("25.11.2026, 09:30" if locale != "en" else "25 Nov 2026, 09:30")
    expect(movable).to_contain_text("24.11.2026, 21:30" if locale != "en" else "24 Nov 2026, 21:30")
    expect(movable).to_contain_text(recomputed)
    expect(stuck.locator("input[type=checkbox]")).to_be_disabled()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"migration_{locale}.png"), full_page=True)
    if locale != "en":
        return
    page.click("#migrate-selected")
    expect(page.locator("#migration-result")).to_contain_text("Cases moved: 1 of 1.")
    expect(page.locator(f"tr[data-case='{convict}'] .verdict strong")).to_have_text("yes")
    page.screenshot(path=str(SHOTS / "migration_done_en.png"), full_page=True)
    assert engine.runtime.get(convict).version == 2
    assert engine.runtime.get(suspect).version == 1
