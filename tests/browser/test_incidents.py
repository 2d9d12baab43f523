"""Failed cases in the browser: a methodologist sees the incident of a case whose timer step
failed every automatic attempt, in words, with its counts; after a fixed version was published
and the case moved to it on the migration page the row links to, Retry resolves it. Photographed to
var/screenshots/incidents_<locale>.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_accessibility import axe, serious_violations, sign_in  # noqa: F401
from tests.test_incidents_ops import FIXED, failing_case, fire_until_parked, publish

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SAYS = {
    "ru": ("Дела со сбоями", "требует внимания", "Повторить"),
    "kk": ("Ақаулы істер", "назар аударуды қажет етеді", "Қайталау"),
    "en": ("Failed cases", "needs attention", "Retry"),
}


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_failed_cases_page_lists_the_incident(
    page: Page, live, tmp_path: Path, locale: str
) -> None:
    base, engine = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    iid = failing_case(engine, engine.clock, tmp_path)
    fire_until_parked(engine, engine.clock)
    [incident] = engine.management.incidents(instance_id=iid)
    sign_in(page, base, login="gp.methodologist", locale=locale)
    title, status, retry = SAYS[locale]
    # the header says how many need attention, on every page
    expect(page.locator("#nav-incidents")).to_contain_text(title)
    expect(page.locator("#nav-incidents-count")).to_have_text("1")
    page.click("#nav-incidents")
    row = page.locator(f"tr[data-incident='{incident['id']}']")
    expect(row).to_contain_text("OPS-1")
    expect(row).to_contain_text("Compute the total")
    expect(row).to_contain_text("missing_name")
    expect(row).to_contain_text(status)
    expect(page.locator("#count-needs-attention strong")).to_have_text("1")
    expect(page.locator(f"#retry-{incident['id']}")).to_have_text(retry)
    expect(page.locator(f"#migrate-{incident['id']}")).to_have_attribute(
        "href", f"/procedures/ops_timer/migrate?case={iid}"
    )
    page.locator("details summary").first.click()  # the cancel form, its reason required
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / f"incidents_{locale}.png"), full_page=True)


def test_retry_after_the_fix_resolves_the_incident(page: Page, live, tmp_path: Path) -> None:
    base, engine = live
    iid = failing_case(engine, engine.clock, tmp_path)
    fire_until_parked(engine, engine.clock)
    [incident] = engine.management.incidents(instance_id=iid)
    sign_in(page, base, login="gp.methodologist", locale="en")
    page.goto(f"{base}/operations/incidents")
    # still broken: it fails again, and says so
    page.click(f"#retry-{incident['id']}")
    expect(page.locator(".flash.error")).to_contain_text("failed again")
    expect(page.locator(f"tr[data-incident='{incident['id']}'] td").nth(4)).to_have_text("6")
    # the fixed version published; the case moved to it on the migration page the row links to
    publish(engine, engine.clock, tmp_path / "v2" / "ops_timer", FIXED)
    page.click(f"#migrate-{incident['id']}")
    expect(page.locator(f"#case-{iid}")).to_be_checked()
    page.click("#migrate-selected")
    expect(page.locator("#migration-result")).to_be_visible()
    assert engine.runtime.get(iid).version == 2
    # Retry resolves it and the case goes on
    page.goto(f"{base}/operations/incidents")
    page.click(f"#retry-{incident['id']}")
    expect(page.locator(".flash.ok")).to_contain_text("the incident is resolved")
    expect(page.locator(f"tr[data-incident='{incident['id']}']")).to_have_count(0)
    expect(page.locator("#nav-incidents-count")).to_have_count(0)
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    assert task.task_name == "review"
    page.goto(f"{base}/operations/incidents?status=resolved")
    expect(page.locator(f"tr[data-incident='{incident['id']}']")).to_contain_text("retried by hand")
