"""In a real browser: after the first quarter of 2027 a prosecutor of the Almaty region opens
the region's quarterly analysis for the GP (¶11.9), reads the quarter's figures of the region
and its districts and which districts have sent their information (¶13.17), writes the analysis
and sends it. Screenshots: var/screenshots/quarterly_report_{ru,kk,en}.png and the sent report.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from engine.calendar import ALMATY
from engine.tasks import TaskQuery
from tests.conftest import BPMN_DIR

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
Q1_END = datetime(2027, 4, 1, tzinfo=ALMATY).astimezone(UTC)
ANALYSIS = "Рост числа фактов членовредительства в учреждении ЛА-155/2; меры приняты"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "nadzor-demo")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/queue"))


def test_a_regional_prosecutor_sends_the_quarterly_analysis(page: Page, live) -> None:  # type: ignore[no-untyped-def]
    base, engine = live
    clock = engine.clock
    for name in ("incident_report", "quarterly_report"):
        engine.repository.publish(BPMN_DIR / name / f"{name}.bpmn", now=clock.now())
    for day, kind in ((15, "self_injury"), (20, "hunger_strike")):  # two incidents in Talgar
        received = datetime(2027, 2, day, 10, 0, tzinfo=ALMATY)
        clock.set(received.astimezone(UTC))
        engine.runtime.start(
            "incident_report",
            {
                "institution": "UK-161-2",
                "kind": kind,
                "received_at": received.isoformat(),
                "description": "Факт в учреждении ЛА-155/2",
            },
            actor="tlg.prosecutor",
        )
    clock.set(Q1_END)
    engine.management.fire_due()  # the quarter ended: every office gets its report
    reports = {
        t.office_code: t for t in engine.tasks.list(TaskQuery(process_id="quarterly_report"))
    }
    clock.set(datetime(2027, 4, 2, 6, 0, tzinfo=UTC))
    engine.tasks.complete(
        reports["ALM-TLG"].task_guid,
        {"district_information": "Информация Талгарского района за I квартал"},
        actor="tlg.prosecutor",
    )
    clock.set(datetime(2027, 4, 3, 5, 0, tzinfo=UTC))
    region = reports["ALM-OBL"]

    sign_in(page, base, "alm.prosecutor")
    row = page.locator("tr", has_text=f"№ {region.instance_id}")
    expect(row).to_contain_text("Представить в ГП аналитическую информацию")
    page.goto(f"{base}/tasks/{region.task_guid}")
    panel = page.locator("#quarter-panel")
    expect(panel).to_contain_text("Показатели за квартал 2027-Q1 (01.01.2027 – 31.03.2027)")
    expect(page.locator("#task-basis")).to_contain_text("11.9")
    expect(page.locator("#task-deadline-rule")).to_contain_text("5-е число месяца")
    talgar = page.locator("#district-reports tr[data-office=ALM-TLG]")
    expect(talgar).to_contain_text("Прокуратура Талгарского района")
    expect(talgar).to_contain_text("да, 02.04.2027")
    konayev = page.locator("#district-reports tr[data-office=ALM-KNV]")
    expect(konayev).to_contain_text("ещё нет")
    expect(panel).to_contain_text("Информацию направили 1 из 2 районных прокуратур")
    expect(page.locator("#quarter-figures tr[data-key='incidents.total'] td")).to_have_text("2")
    expect(
        page.locator("#quarter-figures tr[data-key='incidents.by_kind.self_injury'] td")
    ).to_have_text("1")
    shot(page, "quarterly_report_ru")

    page.select_option("select[name=locale]", "kk")
    expect(panel).to_contain_text("2027-Q1 тоқсандағы көрсеткіштер")
    expect(konayev).to_contain_text("әлі жоқ")
    shot(page, "quarterly_report_kk")
    page.select_option("select[name=locale]", "en")
    expect(panel).to_contain_text("Figures of the quarter 2027-Q1")
    expect(talgar).to_contain_text("Talgar District Prosecutor's Office")
    shot(page, "quarterly_report_en")

    claim = page.locator("#task-form ~ aside button", has_text="Claim")
    if claim.count():
        claim.first.click()
    page.fill("textarea[name=regional_analysis]", ANALYSIS)
    page.click("button[name=action][value=complete]")
    expect(page.locator(".flash.ok")).to_be_visible()
    assert engine.runtime.get(region.instance_id).status == "completed"
    sent = engine.runtime.data(region.instance_id)
    assert sent["regional_analysis"] == ANALYSIS and sent["figures"]["incidents"]["total"] == 2

    # the sent report, read later: the analysis and the figures as they were
    page.goto(f"{base}/tasks/{region.task_guid}")
    expect(page.locator("#finished")).to_contain_text(ANALYSIS)
    expect(page.locator("#quarter-figures tr[data-key='incidents.total'] td")).to_have_text("2")
    shot(page, "quarterly_report_sent_en")

    # the case page draws the procedure with its lanes in the user's language
    page.goto(f"{base}/cases/{region.instance_id}")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.locator("#diagram")).to_contain_text("Regional prosecutor's office")
    shot(page, "quarterly_report_case_en")
