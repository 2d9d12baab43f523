"""In a real browser, as an auditor: sign in, find the case by the convict's name, open its
trace, see the diagram with the path, the breached deadline and the passes, verify the history,
download the exports (the JSON verifies offline). Screenshots of the trace, the printable report
and the verification page in ru, kk and en go to var/screenshots/audit_*_<locale>.png."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.audit_export import verify_export
from engine.audit_keys import AuditSettings, SigningKey
from tests.browser.test_accessibility import (
    axe,  # noqa: F401  (the fixture: axe-core injected)
    choose_language,
    serious_violations,
)
from tests.browser.test_case_page import watch_for_refusals
from tests.conftest import ROOT
from tests.test_audit_trace import late_case

SHOTS = ROOT / "var" / "screenshots"
#: the flash after "verify now", per language
VERIFIED = {
    "ru": "История проверена",
    "kk": "Тарих тексерілді",
    "en": "The history was verified",
}


def auditor_case(engine) -> int:  # type: ignore[no-untyped-def]
    """A case claimed, handed over, 2 h 15 min late (escalated), then completed; checkpointed
    and signed with a key of the test's own."""
    engine.audit = AuditSettings(key=SigningKey.generate())
    iid, _ = late_case(engine, engine.clock)
    engine.management.checkpoint(engine.clock.now())
    return iid


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "nadzor-demo")
    page.click("main button[type=submit]")
    expect(page.locator("form[action$='/logout']")).to_have_count(1)


def shoot(page: Page, name: str, locale: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"audit_{name}_{locale}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_an_auditor_finds_the_case_traces_it_verifies_and_exports(
    page: Page, live, tmp_path: Path
) -> None:
    base, engine = live
    errors = watch_for_refusals(page)
    iid = auditor_case(engine)
    sign_in(page, base, "tlg.auditor")
    choose_language(page, "ru")

    # search by the convict's name (the auditor lands on the search)
    page.goto(f"{base}/")
    expect(page.locator("#audit-search")).to_have_count(1)
    page.fill("#f-q", "Петров")
    page.locator("#audit-search button[type=submit]").click()
    row = page.locator(f"tr[data-case='{iid}']")
    expect(row).to_contain_text("Петров")
    row.locator(f"a[href$='/audit/cases/{iid}']").click()

    # the trace: the diagram with the path, the breach, where it waits; passes and deadlines
    expect(page.locator("h1")).to_contain_text(f"№ {iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    assert page.locator(".djs-element.done").count() >= 3
    assert page.locator(".djs-element.taken").count() >= 2
    expect(page.locator(".djs-element.breached[data-element-id='placement_check']")).to_have_count(
        1
    )
    expect(page.locator(".djs-element.current")).to_have_count(2)  # act of response, control
    expect(page.locator("#passes tr[data-element='placement_check'] td").nth(1)).to_have_text("1")
    expect(page.locator("#deadlines tr[data-outcome='breached']")).to_contain_text(
        "опоздание на 2 ч 15 мин"
    )
    timeline = page.locator("#timeline")
    for words in ("задача взята в работу", "задача передана", "срок нарушен", "задача выполнена"):
        expect(timeline).to_contain_text(words)
    expect(page.locator("#proof")).to_contain_text("подпись верна")

    # verify the whole history now: back on the trace, said in words
    page.click("#verify-now")
    expect(page.locator(".flash.ok")).to_contain_text(VERIFIED["ru"])
    expect(page.locator("h1")).to_contain_text(f"№ {iid}")

    # exports: JSON (verifies offline), CSV (one line per event, with its hash)
    with page.expect_download() as download:
        page.click("#exports a[href$='export.json']")
    saved = tmp_path / "case.json"
    download.value.save_as(saved)
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert verify_export(doc)["ok"] is True
    with page.expect_download() as download:
        page.click("#exports a[href$='export.csv']")
    saved = tmp_path / "case.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    hashes = [e["hash"] for e in doc["events"]]
    assert [r[-1] for r in rows[1 : len(hashes) + 1]] == hashes
    assert errors == []


def test_the_diagram_counts_a_step_passed_three_times(page: Page, live) -> None:
    """An act returned for rework: its review carries a ×3 badge on the trace's diagram."""
    from tests.test_proc_act_routing import MODEL, start_act

    base, engine = live
    errors = watch_for_refusals(page)
    engine.repository.publish(MODEL, now=engine.clock.now())
    case = start_act(engine, origin="ALM-TLG", level="regional")
    case.review("ALM-TLG", "forward")
    case.review("ALM-OBL", "return", comment="Не указаны нормы закона")
    case.rework(summary="Акт с указанием норм УИК РК")
    case.review("ALM-OBL", "forward")
    sign_in(page, base, "tlg.auditor")
    choose_language(page, "en")
    page.goto(f"{base}/audit/cases/{case.id}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.locator(".diagram-count[data-element='act_review']")).to_have_text("×3")
    expect(page.locator(".djs-element.current[data-element-id='act_dispatch']")).to_have_count(1)
    shoot(page, "trace_loop", "en")
    assert errors == []


@pytest.mark.usefixtures("axe")
@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_audit_pages_are_photographed_in_every_language(page: Page, live, locale) -> None:
    """…and axe-core finds no serious or critical WCAG 2.1 AA violation on them."""
    base, engine = live
    found: dict[str, list[str]] = {}
    errors = watch_for_refusals(page)
    iid = auditor_case(engine)
    sign_in(page, base, "tlg.auditor")
    choose_language(page, locale)
    page.goto(f"{base}/audit/cases/{iid}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    shoot(page, "trace", locale)
    found["trace"] = serious_violations(page)
    page.click("#exports a[href$='/report']")
    expect(page.locator("#report-hashes")).to_be_visible()
    found["report"] = serious_violations(page)
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    shoot(page, "report_print", locale)
    page.emulate_media(media="screen")
    page.goto(f"{base}/audit/verification")
    page.click("#verify-now")
    expect(page.locator(".flash.ok")).to_contain_text(VERIFIED[locale])
    expect(page.locator("#checkpoints tr[data-checkpoint] [data-signed='true']")).to_have_count(1)
    shoot(page, "verification", locale)
    found["verification"] = serious_violations(page)
    assert {name: problems for name, problems in found.items() if problems} == {}
    assert errors == []
