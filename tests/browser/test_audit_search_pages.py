"""The auditor's search and access log in a browser, in every language: an auditor lands on the
search after signing in, finds a case by the convict's name, opens it, and sees that read (and
a refused one) in the access log. The pages pass axe-core and are photographed to
var/screenshots (audit_search_*, audit_access_*, audit_case_access_*)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_accessibility import PAYLOAD, axe, serious_violations, sign_in  # noqa: F401
from tests.browser.test_screenshots import SHOTS

KARAGANDA = {**PAYLOAD, "institution": "UK-159-11", "convict_name": "Ахметов Серик"}


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_an_auditor_finds_a_case_and_sees_who_read_it(
    page: Page,
    live,
    axe,  # noqa: F811  (the fixture, imported above)
    locale: str,
) -> None:
    base, engine = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    other = engine.runtime.start("penalty_room_check", KARAGANDA, actor="kar.prosecutor")

    sign_in(page, base, login="tlg.auditor", locale=locale)
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/audit/")  # the auditor's start page
    surname = PAYLOAD["convict_name"].split()[0]
    page.fill("input[name=q]", surname[:5])
    page.click("#audit-search button[type=submit]")
    rows = page.locator("table.audit-results tbody tr[data-case]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(surname)
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / f"audit_search_{locale}.png"), full_page=True)

    rows.first.locator(f"a[href='/cases/{iid}']").click()
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    page.goto(f"{base}/cases/{other}")  # another region's case: refused, and recorded
    page.goto(f"{base}/audit/access")
    log = page.locator("table.access-log tbody tr")
    # the case page and its diagram; the refusal is about Karaganda's case, not the district's
    expect(log).to_have_count(2)
    expect(log.first).to_contain_text("tlg.auditor")
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / f"audit_access_{locale}.png"), full_page=True)

    page.goto(f"{base}/audit/cases/{iid}/access")
    expect(page.locator("table.access-log tbody tr")).to_have_count(2)
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / f"audit_case_access_{locale}.png"), full_page=True)
