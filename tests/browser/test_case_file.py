"""In a real browser: a finished task reads as what was submitted, by whom and when; the case
page reads as a prosecutor's file in Russian, Kazakh and English — no engine variables, no raw
instants, no True/False — and its history names tasks and people."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from engine.tasks import TaskQuery
from tests.browser.test_case_page import PAYLOAD, watch_for_refusals
from tests.conftest import ROOT
from workflows.users import UserDirectory

SHOTS = ROOT / "var" / "screenshots"
ENGINE_KEYS = re.compile(
    r"institution_remote|regional_office|gp_office|case_id|check_hours|route|review_log|"
    r"through_gp",
    re.I,
)
RAW_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT")
WORDS = {  # a checkbox left unticked, an option label, a date with its four-digit year
    "ru": ("нет", "Представление", "24.11.2026"),
    "kk": ("жоқ", "Ұсыну", "24.11.2026"),
    "en": ("no", "Submission", "24 Nov 2026"),
}


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")


def a_case_with_an_act(engine) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """The check found the placement unlawful; the act of response was prepared."""
    iid = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    [check] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.complete(
        check.task_guid,
        {"placement_lawful": False, "conditions_lawful": True, "findings": "Нет подписи"},
        actor="tlg.prosecutor",
    )
    [act] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.complete(
        act.task_guid,
        {
            "act_type": "submission",
            "addressee": "ADM-LA-155-2",  # a body of the directory (issue 11)
            "summary": "Устранить нарушение",
        },
        actor="tlg.prosecutor",
    )
    return iid, check.task_guid


def test_a_finished_task_shows_what_was_submitted_in_words(page: Page, live) -> None:
    base, engine = live
    errors = watch_for_refusals(page)
    iid, check = a_case_with_an_act(engine)
    who = UserDirectory(engine.db).get("tlg.prosecutor").name
    sign_in(page, base, "tlg.prosecutor")
    page.goto(f"{base}/tasks/{check}")
    finished = page.locator("#finished")
    expect(finished).to_contain_text(f"{who}, прокурор")
    expect(finished).to_contain_text("Нет подписи")
    lawful = finished.locator("tr[data-key=placement_lawful] td")
    expect(lawful).to_have_text("нет")
    expect(page.locator("#task-form")).to_have_count(0)  # nothing to fill in or send
    expect(page.locator("input, textarea").locator("visible=true")).to_have_count(0)
    body = page.locator("main").inner_text()
    assert "completed" not in body and "tlg.prosecutor" not in body
    shoot(page, "finished_task_ru")
    for locale, no, role in (("kk", "жоқ", "прокурор"), ("en", "no", "prosecutor")):
        page.select_option("select[name=locale]", locale)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        expect(lawful).to_have_text(no)
        expect(finished).to_contain_text(f"{who}, {role}")
        assert not RAW_INSTANT.search(page.locator("main").inner_text())
        shoot(page, f"finished_task_{locale}")
    assert errors == []


def test_the_case_page_reads_as_a_file_in_three_languages(page: Page, live) -> None:
    base, engine = live
    errors = watch_for_refusals(page)
    iid, _ = a_case_with_an_act(engine)
    who = UserDirectory(engine.db).get("tlg.prosecutor").name
    [check] = [
        t
        for t in engine.tasks.list(TaskQuery(instance_id=iid, state=None))
        if t.task_name == "placement_check"
    ]
    titles = {"ru": check.title, **(check.titles or {})}  # the model's own translations
    sign_in(page, base, "tlg.prosecutor")
    for locale in ("ru", "kk", "en"):
        page.goto(f"{base}/cases/{iid}")
        page.select_option("select[name=locale]", locale)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        page.goto(f"{base}/cases/{iid}")
        text = page.locator("main").inner_text()  # the header is the navigation
        assert not ENGINE_KEYS.search(text), (locale, ENGINE_KEYS.search(text))
        assert not RAW_INSTANT.search(text), (locale, RAW_INSTANT.search(text))
        assert not re.search(r"\b(True|False|None)\b", text), locale
        assert "UK-161-2" not in text and "ALM-TLG" not in text and "submission" not in text
        for word in WORDS[locale]:
            assert re.search(rf"\b{re.escape(word)}\b", text), (locale, word)
        history = page.locator("#history")
        expect(history).to_contain_text(titles[locale])
        expect(history).to_contain_text(who)
        assert "placement_check" not in history.inner_text()
        steps = page.locator("#case-file section")
        expect(steps.first).to_have_attribute("data-kind", "start")
        shoot(page, f"case_file_{locale}")
    assert errors == []
