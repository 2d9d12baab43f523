"""Date inputs in the user's language whatever the browser's own locale, and the reminder icon.

An English (US) Chromium shows `<input type=date>` as mm/dd/yyyy; here every date field is a
text input in DD.MM.YYYY (Almaty time for a time of day), read on the server. Screenshots of the
start form, the task page and the queue go to var/screenshots/ (inputs-*.png)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_case_page import PAYLOAD, watch_for_refusals
from workflows.users import UserDirectory

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SHOWN = {"en": "24 Nov 2026", "kk": "24.11.2026", "ru": "24.11.2026"}
HINT = {"en": "DD.MM.YYYY", "kk": "КК.АА.ЖЖЖЖ", "ru": "ДД.ММ.ГГГГ"}
OPEN_CASE = {"en": "Open the case", "kk": "Істі ашу", "ru": "Завести дело"}


def _signed_in(browser: Browser, base: str, engine, locale: str) -> Page:  # type: ignore[no-untyped-def]
    """A US-English browser, signed in as a district prosecutor who chose `locale`."""
    users = UserDirectory(engine.db)
    users.set_locale(users.get("tlg.prosecutor").id, locale)
    page = browser.new_context(locale="en-US", timezone_id="America/New_York").new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")
    expect(page.locator("html")).to_have_attribute("lang", locale)
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"inputs-{name}.png"), full_page=True)


@pytest.mark.parametrize("locale", ["en", "kk", "ru"])
def test_a_date_typed_in_the_users_format_opens_the_case_with_that_date(
    browser: Browser, live, locale: str
) -> None:
    base, engine = live
    page = _signed_in(browser, base, engine, locale)
    errors = watch_for_refusals(page)
    page.goto(f"{base}/start/penalty_room_check")
    assert page.locator("input[type=date], input[type=datetime-local]").count() == 0
    expect(page.locator("#f_resolution_date-format")).to_contain_text(HINT[locale])
    expect(page.locator("#f_resolution_date")).to_have_attribute("inputmode", "numeric")
    page.select_option("select[name=institution]", "UK-161-2")
    page.fill("input[name=convict_name]", "Нуров Асхат")
    page.fill("input[name=placed_at]", "24.11.2026 09:30")
    page.fill("input[name=resolution_number]", "12")
    page.fill("input[name=resolution_date]", "24.11.26")  # a two-digit year is not guessed
    page.fill("[name=grounds]", "Нарушение режима")
    # the pattern is a valid expression: the browser marks the two-digit year, not the rest
    expect(page.locator("#f_placed_at:invalid")).to_have_count(0)
    expect(page.locator("#f_resolution_date:invalid")).to_have_count(1)
    page.fill("input[name=duration_days]", "7")
    page.click(f"button:has-text('{OPEN_CASE[locale]}')")
    expect(page.locator("[data-field=resolution_date]")).to_contain_text(HINT[locale])
    expect(page.locator("input[name=resolution_date]")).to_have_value("24.11.26")  # as typed
    _shot(page, f"start-error-{locale}")
    page.fill("input[name=resolution_date]", "24.11.2026")
    page.click(f"button:has-text('{OPEN_CASE[locale]}')")
    expect(page).to_have_url(f"{base}/cases/1")
    data = engine.runtime.data(1)
    assert data["resolution_date"] == "2026-11-24"
    assert datetime.fromisoformat(data["placed_at"]) == datetime(2026, 11, 24, 4, 30, tzinfo=UTC)
    main = page.locator("main")
    expect(main).to_contain_text(SHOWN[locale])  # the case shows the date in the user's format
    assert "11/24/" not in main.inner_text() and "24.11.26," not in main.inner_text()
    assert errors == []


@pytest.mark.parametrize(
    ("locale", "almaty", "placed"),
    [
        ("en", "(Almaty)", "24 Nov 2026, 09:30"),
        ("kk", "(Алматы)", "24.11.2026, 09:30"),
        ("ru", "(Алматы)", "24.11.2026, 09:30"),
    ],
)
def test_the_task_page_shows_stored_dates_in_the_users_format(
    browser: Browser, live, locale: str, almaty: str, placed: str
) -> None:
    base, engine = live
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    page = _signed_in(browser, base, engine, locale)
    page.goto(f"{base}/tasks/{task.task_guid}")
    expect(page.locator("main")).to_contain_text(almaty)  # the deadline says whose clock
    text = page.locator("#task-form").inner_text()
    assert "11/2" not in text and "2026-11-2" not in text  # no US or raw ISO dates in the form
    expect(page.locator("#f_placed_at")).to_have_text(placed)  # a read-only field
    _shot(page, f"task-{locale}")


def test_the_reminder_is_an_icon_with_words_not_an_emoji(browser: Browser, live) -> None:
    base, engine = live
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.management.fire_alerts(task.remind_at)
    for locale, alt in (("kk", "Еске салу жіберілді"), ("en", "Reminder sent")):
        page = _signed_in(browser, base, engine, locale)
        page.goto(f"{base}/queue/reminders")
        icon = page.locator("tr", has_text=f"№ {iid}").locator("img.icon")
        expect(icon).to_have_attribute("alt", alt)
        assert icon.evaluate("img => img.complete && img.naturalWidth > 0")  # the file loads
        assert "🔔" not in page.content()
        _shot(page, f"queue-reminder-{locale}")
