"""Accessibility in a real browser (WCAG 2.1 AA): axe-core finds no serious or critical violation
on the workspace's pages in every language, and a failed submit is told the way a screen-reader
or keyboard user needs it: the focus on a summary of the errors linking to each field, each field
marked invalid and described by its message, radio groups named by a legend, a skip link first.

axe-core comes from npm (package.json pins it; `make test` runs `npm ci` first) and is read here
straight from node_modules: it is a test tool, never served by the app. It is injected as an
init script of the browser context, which the page's Content-Security-Policy does not govern.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD = "nadzor-demo"
PAYLOAD = {
    "institution": "UK-161-2",
    "convict_name": "Петров Пётр Петрович",
    "placed_at": "2026-11-24T09:30:00+05:00",
    "resolution_number": "145",
    "resolution_date": "2026-11-24",
    "grounds": "Отказ от работы",
    "duration_days": 10,
}
SKIP_LINK = {"ru": "К содержанию", "kk": "Мазмұнға өту", "en": "Skip to content"}


def publish_all(engine: Any) -> None:
    """The other procedures too: the appeal's start form has a radio group."""
    engine.repository.publish(
        BPMN_DIR / "npm_pmc_appeal" / "npm_pmc_appeal.bpmn", now=engine.clock.now()
    )


def complete_first_task(engine: Any, payload: dict[str, Any]) -> str:
    """A case whose placement check is done: the id of that finished task."""
    iid = engine.runtime.start("penalty_room_check", payload, actor="tlg.prosecutor")
    (task,) = engine.tasks.list(TaskQuery(instance_id=iid, state="ready"))
    decision = {
        "placement_lawful": True,
        "conditions_lawful": True,
        "findings": "Нарушений не выявлено",
    }
    engine.tasks.complete(task.task_guid, decision, actor="tlg.prosecutor")
    return task.task_guid


def sign_in(page: Page, base: str, login: str = "tlg.prosecutor", locale: str = "ru") -> None:
    """Sign in through the login page, then choose the language in the header (remembered on
    the account, as a user does it)."""
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("form[action$='/logout']")).to_have_count(1)
    choose_language(page, locale)


def choose_language(page: Page, locale: str) -> None:
    """The header's language list sends itself (web/static/nadzor.js); the page comes back in
    that language, said by <html lang>. The list sends itself only once nadzor.js is loaded, so
    the page must have finished loading first (else the choice is lost and the page stays)."""
    page.wait_for_load_state("load")
    if page.locator("html").get_attribute("lang") != locale:
        page.select_option("select[name=locale]", locale)
    expect(page.locator("html")).to_have_attribute("lang", locale, timeout=15000)
    page.wait_for_load_state()


def serious_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of impact serious or critical, said with the rule,
    its help text and the elements concerned."""
    result = page.evaluate(
        """tags => axe.run(document, {
            runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""",
        WCAG_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(f"{n['target']} {n['failureSummary']!r}" for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def axe(context: BrowserContext) -> BrowserContext:
    """Every page of the context gets axe-core before its own scripts run."""
    assert AXE.exists(), f"{AXE} is missing: run `make assets` (npm ci) first"
    context.add_init_script(path=str(AXE))
    return context


def check(page: Page, name: str, found: dict[str, list[str]]) -> None:
    problems = serious_violations(page)
    if problems:
        found[name] = problems


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_axe_finds_no_serious_violation_on_the_workspace_pages(
    page: Page, live, axe, locale: str
) -> None:
    base, engine = live
    publish_all(engine)
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    finished = complete_first_task(engine, PAYLOAD)
    found: dict[str, list[str]] = {}

    page.goto(f"{base}/login")
    choose_language(page, locale)
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "wrong")
    page.click("main button[type=submit]")
    expect(page.locator(".flash.error")).to_be_visible()
    check(page, "login, refused", found)

    sign_in(page, base, locale=locale)
    check(page, "office queue", found)

    page.click(f"tr:has-text('№ {iid}') td:nth-child(3) a")
    page.click("button[name=action][value=complete]")
    expect(page.locator("#error-summary")).to_be_visible()
    check(page, "task, failed submit", found)

    page.goto(f"{base}/tasks/{finished}")
    check(page, "finished task", found)

    page.goto(f"{base}/cases/{iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    check(page, "case", found)

    page.goto(f"{base}/start")
    check(page, "start list", found)
    page.goto(f"{base}/start/npm_pmc_appeal")
    page.select_option("select[name=institution]", index=1)
    page.click("main form button[type=submit]")
    expect(page.locator("#error-summary")).to_be_visible()
    check(page, "start form, failed submit", found)

    page.goto(f"{base}/cases/999999")
    expect(page.locator(".error-page")).to_be_visible()
    check(page, "error page", found)

    page.context.clear_cookies()
    sign_in(page, base, login="alm.head", locale=locale)
    page.goto(f"{base}/overview")  # the regional head's overview of deadlines
    check(page, "heads' overview", found)

    assert found == {}, "\n".join(f"{name}: {p}" for name, ps in found.items() for p in ps)


FINDINGS = {
    "ru": "Результаты проверки (выявленные нарушения)",
    "kk": "Тексеру нәтижелері (анықталған бұзушылықтар)",
}
REQUIRED = {"ru": "Обязательное поле.", "kk": "Міндетті өріс."}


@pytest.mark.parametrize("locale", ["ru", "kk"])
def test_a_failed_submit_focuses_a_summary_that_links_to_each_field_in_error(
    page: Page, live, locale: str
) -> None:
    base, engine = live
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    (task,) = engine.tasks.list(TaskQuery(instance_id=iid, state="ready"))
    sign_in(page, base, locale=locale)
    page.goto(f"{base}/tasks/{task.task_guid}")
    findings = page.get_by_role("textbox", name=FINDINGS[locale], exact=True)
    expect(findings).to_have_attribute("required", "")  # a screen reader says "required"
    page.click("button[name=action][value=complete]")  # the findings left empty

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # read first, the keyboard starts from here
    expect(summary.get_by_role("alert")).to_be_visible()
    link = summary.get_by_role("link", name=f"{FINDINGS[locale]}: {REQUIRED[locale]}")
    expect(link).to_have_count(1)
    expect(summary.get_by_role("link")).to_have_count(1)  # the checkboxes are not in error

    expect(findings).to_have_attribute("aria-invalid", "true")
    expect(findings).to_have_accessible_description(REQUIRED[locale])
    checkbox = page.locator("#f_placement_lawful")
    expect(checkbox).not_to_have_attribute("aria-invalid", "true")

    link.click()
    expect(findings).to_be_focused()
    findings.fill("Нарушений не выявлено")
    page.click("button[name=action][value=complete]")
    expect(page.locator(".flash.ok")).to_be_visible()
    assert engine.tasks.get(task.task_guid).state == "completed"


APPLICANT = {"ru": "Заявитель является", "kk": "Өтініш берушінің мәртебесі"}


@pytest.mark.parametrize("locale", ["ru", "kk"])
def test_a_radio_group_is_a_fieldset_named_by_its_legend_and_told_its_error(
    page: Page, live, locale: str
) -> None:
    base, engine = live
    publish_all(engine)
    sign_in(page, base, locale=locale)
    page.goto(f"{base}/start/npm_pmc_appeal")
    group = page.get_by_role("radiogroup", name=APPLICANT[locale], exact=True)
    expect(group).to_have_count(1)
    assert group.evaluate("el => el.tagName") == "FIELDSET"
    expect(group.get_by_role("radio")).to_have_count(2)
    expect(group).to_have_attribute("aria-required", "true")

    page.select_option("select[name=institution]", index=1)
    page.click("main form button[type=submit]")  # nothing else filled in
    expect(page.locator("#error-summary")).to_be_focused()
    expect(group).to_have_attribute("aria-invalid", "true")
    expect(group).to_have_accessible_description(REQUIRED[locale])
    page.locator("#error-summary").get_by_role("link", name=APPLICANT[locale]).click()
    expect(group.get_by_role("radio").first).to_be_focused()  # arrows now choose the applicant


@pytest.mark.parametrize("locale", ["ru", "kk"])
def test_the_skip_link_comes_first_and_takes_the_keyboard_to_the_content(
    page: Page, live, locale: str
) -> None:
    base, engine = live
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    sign_in(page, base, locale=locale)  # the page's language is the user's: <html lang>
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=SKIP_LINK[locale], exact=True)
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # shown when focused, hidden otherwise
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")

    # the case page's diagram is a named figure, described by its text alternative
    page.goto(f"{base}/cases/{iid}")
    figure = page.locator("#diagram")
    expect(figure).to_have_attribute("role", "figure")
    assert figure.get_attribute("aria-label")
    described = figure.get_attribute("aria-describedby")
    expect(page.locator(f"#{described}")).to_have_count(1)


def test_a_refused_sign_in_is_focused_and_marks_both_fields(page: Page, live) -> None:
    base, _ = live
    page.goto(f"{base}/login")
    choose_language(page, "ru")  # before signing in: remembered in the session
    page.fill("input[name=login]", "tlg.prosecutor")
    page.fill("input[name=password]", "wrong")
    page.click("main button[type=submit]")
    refusal = page.get_by_role("alert")
    expect(refusal).to_have_text("Неверный логин или пароль.")
    expect(refusal).to_be_focused()
    for name in ("Логин", "Пароль"):
        field = page.get_by_label(name, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description("Неверный логин или пароль.")
