"""In a real browser: sign in, open a case, see the diagram with the path and the open task;
work a task through its form; switch the language to Kazakh."""

from __future__ import annotations

from playwright.sync_api import Page, expect

PAYLOAD = {
    "institution": "UK-161-2",
    "convict_name": "Петров",
    "placed_at": "2026-11-24T09:30:00+05:00",
    "resolution_number": "145",
    "resolution_date": "2026-11-24",
    "grounds": "Отказ от работы",
    "duration_days": 10,
}


def watch_for_refusals(page: Page) -> list[str]:
    """Errors of the page's scripts and everything the Content-Security-Policy refused."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    return errors


def test_the_case_page_draws_the_diagram_with_the_path_taken(page: Page, live) -> None:
    base, engine = live
    errors = watch_for_refusals(page)
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Очередь прокуратуры")
    expect(page.locator("table")).to_contain_text("Проверить законность водворения")
    page.click(f"text=№ {iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    assert page.locator(".djs-element.done").count() >= 1
    current = page.locator(".djs-element.current")
    expect(current).to_have_count(1)
    assert current.get_attribute("data-element-id") == "placement_check"
    assert errors == []


def test_a_district_prosecutor_claims_fixes_a_missing_field_and_completes(page: Page, live) -> None:
    base, engine = live
    errors = watch_for_refusals(page)
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    other = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")
    row = page.locator("tr", has_text=f"№ {iid}")
    row.locator("button", has_text="Взять").click()
    expect(page.locator(".flash.ok")).to_contain_text("взята в работу")
    page.click("text=Мои задачи")
    page.click("text=Проверить законность водворения")
    page.check("input[name=placement_lawful]")
    page.check("input[name=conditions_lawful]")
    page.click("button:has-text('Выполнить')")  # findings left empty
    expect(page.locator("[data-field=findings]")).to_have_text("Обязательное поле.")
    assert engine.runtime.get(iid).status == "running"
    page.check("input[name=placement_lawful]")
    page.check("input[name=conditions_lawful]")
    page.fill("textarea[name=findings]", "Нарушений не выявлено")
    page.click("button:has-text('Выполнить')")
    expect(page.locator(".flash.ok")).to_contain_text("выполнена")
    assert engine.runtime.get(iid).status == "completed"
    page.goto(f"{base}/cases/{iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    done = page.locator(".djs-element.done")
    assert done.count() >= 4  # start, deadline, the check, the gateway, ... the end
    expect(page.locator(".djs-element.current")).to_have_count(0)

    # the language is switched to Kazakh: the queue speaks Kazakh, the model's titles too
    page.select_option("select[name=locale]", "kk")
    expect(page.locator("h1")).to_contain_text("іс")  # the case page again, in Kazakh
    page.click("header >> text=Прокуратура кезегі")
    expect(page.locator("h1")).to_contain_text("Прокуратура кезегі")
    row = page.locator("tr", has_text=f"№ {other}")
    expect(row.locator("button")).to_have_text("Алу")
    expect(row).not_to_contain_text("Проверить законность водворения")
    expect(page.locator("thead")).to_contain_text("Мерзімі (Алматы)")
    assert errors == []  # the language list submits itself without an inline handler
