"""The Procedures area in a real browser: two versions of penalty_room_check compared side by
side, the changed elements coloured on both diagrams (bpmn-js markers in the DOM), and the pages
photographed in ru, kk and en into var/screenshots/ for a reviewer to look at."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from engine.clock import FakeClock
from engine.config import Settings
from tests.browser.test_accessibility import axe, serious_violations, sign_in  # noqa: F401
from tests.conftest import BPMN_DIR
from tests.test_proc_penalty_room_check import place
from web.app import create_app
from workflows.demo import seed_organization
from workflows.migrate import upgrade
from workflows.runtime import build_engine

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
OLD_NAME = 'name="Проверить законность водворения и условия содержания"'
NEW_NAME = 'name="Проверить водворение и условия (новая редакция)"'


@pytest.fixture
def two_versions(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The app over a copy of the models: penalty_room_check v1, then v2 with its check
    renamed and its 24 h made 12 h, published by a methodologist with a note."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    models = tmp_path / "bpmn"
    shutil.copytree(BPMN_DIR, models)
    clock = FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    engine = build_engine(Settings(url, "browser-test", models), clock=clock)
    seed_organization(engine)
    routing = models / "act_routing" / "act_routing.bpmn"
    engine.repository.publish(routing, actor="tlg.methodologist", note="Маршрут", now=clock.now())
    main = models / "penalty_room_check" / "penalty_room_check.bpmn"
    engine.repository.publish(
        main, actor="tlg.methodologist", note="Первая редакция", now=clock.now()
    )
    text = main.read_text(encoding="utf-8")
    assert OLD_NAME in text and "check_hours_near = 24\n" in text
    main.write_text(
        text.replace(OLD_NAME, NEW_NAME).replace(
            "check_hours_near = 24\n", "check_hours_near = 12\n"
        ),
        encoding="utf-8",
    )
    engine.repository.publish(
        main,
        actor="gp.methodologist",
        note="Срок проверки 12 часов",
        legal_basis="п. 11.6 Инструкции № 104",
        now=clock.now(),
    )
    place(engine)  # a case running on v2
    route = models / "act_routing" / "route.dmn"  # act_routing v2: penalty_room_check's copy is old
    route.write_text(
        route.read_text(encoding="utf-8").replace(
            '<outputEntry id="r6_gp"><text>False</text>',
            '<outputEntry id="r6_gp"><text>True</text>',
        ),
        encoding="utf-8",
    )
    engine.repository.publish(routing, actor="gp.methodologist", note="Маршрут ГП", now=clock.now())
    app = create_app({"NADZOR_ENGINE": engine, "SECRET_KEY": "browser-tests-only"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", engine
    finally:
        server.shutdown()
        engine.db.dispose()


def marked(page: Page, side: str, element_id: str) -> str:
    """The class attribute bpmn-js gave an element's graphics on one side of the diff."""
    shape = page.locator(f'#diagram-{side} .djs-element[data-element-id="{element_id}"]').first
    return shape.get_attribute("class") or ""


def test_the_diff_marks_the_changed_elements_on_both_diagrams(page: Page, two_versions) -> None:
    base, _engine = two_versions
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # a script that threw
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    sign_in(page, base, login="tlg.methodologist")
    expect(page).to_have_url(f"{base}/procedures/")
    page.click("#nav-procedures")
    page.click("tr[data-process=penalty_room_check] td a >> nth=0")
    expect(page.locator("tr[data-version='2']")).to_contain_text("Срок проверки 12 часов")
    page.click("#compare-form button[type=submit]")
    for side in ("a", "b"):
        expect(page.locator(f"#diagram-{side}")).to_have_attribute(
            "data-ready", "true", timeout=15000
        )
    for side in ("a", "b"):
        assert "diff-changed" in marked(page, side, "placement_check"), side
        assert "diff-changed" in marked(page, side, "parameters"), side
        assert "diff-changed" not in marked(page, side, "penalty_check"), side
    # the drawing shows the name_ru property (the model's short name for the diagram), so the
    # rename of the task's full name is read in the list below
    change = page.locator("#element-changes li[data-element=placement_check]")
    expect(change).to_contain_text("Проверить законность водворения и условия содержания")
    expect(change).to_contain_text("Проверить водворение и условия (новая редакция)")
    expect(page.locator("#element-changes li[data-element=parameters]")).to_contain_text(
        "check_hours_near = 12"
    )
    assert errors == []


def shoot(page: Page, name: str, locale: str) -> Path:
    expect(page.locator("h1").first).to_be_visible()
    assert serious_violations(page) == [], name
    path = SHOTS / f"{name}_{locale}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.mark.usefixtures("axe")  # axe-core in every page of the context
@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_procedures_pages_are_photographed(page: Page, two_versions, locale: str) -> None:
    """Each page photographed once drawn, and axe-core finds no serious violation on it."""
    base, _engine = two_versions
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1360, "height": 900})
    sign_in(page, base, login="tlg.methodologist", locale=locale)
    page.goto(f"{base}/procedures/")
    expect(page.locator("tr[data-process=act_routing] .outdated")).to_have_count(1)
    taken = [shoot(page, "procedures_list", locale)]
    page.goto(f"{base}/procedures/penalty_room_check")
    taken.append(shoot(page, "procedures_versions", locale))
    page.goto(f"{base}/procedures/penalty_room_check/v2")
    expect(page.locator("#diagram-main")).to_have_attribute("data-ready", "true", timeout=15000)
    taken.append(shoot(page, "procedures_version", locale))
    page.goto(f"{base}/procedures/penalty_room_check/diff?a=1&b=2")
    for side in ("a", "b"):
        expect(page.locator(f"#diagram-{side}")).to_have_attribute(
            "data-ready", "true", timeout=15000
        )
    taken.append(shoot(page, "procedures_diff", locale))
    assert all(p.stat().st_size > 10_000 for p in taken)
