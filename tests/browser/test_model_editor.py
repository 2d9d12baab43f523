"""The model editor as a methodologist uses it: open penalty_room_check v1 as a draft, rename the
check and change its 24 hours to 12 in the properties panel, Check, Try (the new due instant),
Publish v2 with a note; a case started afterwards runs on v2 while an earlier one stays on v1.
A draft with an unconditioned gateway is refused at Publish with the problem on its element.
Screenshots of the drafts list, the editor and the trial's results in ru, kk and en go to
var/screenshots/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.models import Timer
from tests.browser.test_accessibility import PAYLOAD, axe, check, sign_in  # noqa: F401
from tests.test_drafts import MAIN, UNCONDITIONED

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
NEW_NAME = "Проверить водворение и условия (12 ч)"


def open_version_as_draft(page: Page, base: str, version: int = 1) -> str:
    """What the version page's "Open as draft" button sends: a POST with the form's token."""
    page.goto(f"{base}/procedures/drafts/")
    token = page.locator("input[name=csrf_token]").first.input_value()
    answer = page.request.post(
        f"{base}/procedures/penalty_room_check/v{version}/draft", form={"csrf_token": token}
    )
    assert answer.ok, answer.status
    return answer.url


def wait_ready(page: Page) -> None:
    expect(page.locator("body[data-editor-ready='1']")).to_have_count(1, timeout=20000)


def open_group(page: Page, group: str) -> None:
    header = page.locator(f"#properties [data-group-id={group}] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def version_of(engine: Any, instance_id: int) -> int:
    return engine.repository.get(engine.runtime.get(instance_id).definition_id).version


def timer_due(engine: Any, instance_id: int) -> list[str]:
    t = Timer.__table__.c
    with engine.db.read() as conn:
        rows = conn.execute(
            select(t.fire_at).where(t.instance_id == instance_id, t.kind == "timer")
        ).scalars()
        return [r.isoformat() for r in rows]


def test_a_methodologist_edits_checks_tries_and_publishes_v2(page: Page, live) -> None:
    base, engine = live
    page.set_viewport_size({"width": 1400, "height": 1000})
    earlier = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    assert version_of(engine, earlier) == 1
    sign_in(page, base, "gp.methodologist", "en")
    editor_url = open_version_as_draft(page, base)
    draft_id = int(editor_url.rstrip("/").rsplit("/", 1)[1])
    page.goto(editor_url)
    wait_ready(page)

    # rename the check, in the properties panel
    page.click("g.djs-element[data-element-id=placement_check]")
    open_group(page, "group-general")
    page.fill("#bio-properties-panel-name", NEW_NAME)
    # its 24 hours are the parameters task's script: change them to 12 in the Script field
    page.click("g.djs-element[data-element-id=parameters]")
    open_group(page, "group-nadzor-script")
    script = page.locator("#bio-properties-panel-nadzor-script")
    text = script.input_value()
    assert "check_hours_near = 24" in text
    script.fill(text.replace("check_hours_near = 24", "check_hours_near = 12"))
    page.click("#canvas", position={"x": 700, "y": 450})  # leave the field: the panel commits
    page.click("#btn-save")
    expect(page.locator("#save-state")).to_contain_text("Saved", timeout=10000)
    expect(page.locator("#save-state")).not_to_contain_text("Unsaved")
    page.wait_for_function("() => !window.nadzorEditor.state.dirty")
    saved = engine.drafts.get(draft_id)["files"][MAIN]
    assert "check_hours_near = 12" in saved and NEW_NAME in saved
    # the draft is on the server: a reload shows the change
    page.reload()
    wait_ready(page)
    name = page.evaluate(
        "() => window.nadzorEditor.modeler.get('elementRegistry')"
        ".get('placement_check').businessObject.name"
    )
    assert name == NEW_NAME

    # Check: the engine's own validation finds nothing
    page.click("#btn-check")
    expect(page.locator("#check-summary")).to_have_text(
        "The draft checks: no problems found.", timeout=15000
    )

    # Try: the check is due 12 hours after placed_at (09:30 + 12 h = 21:30 Almaty)
    page.click("#btn-try-open")
    page.fill("#try-now", "2026-11-24T10:00")
    page.fill("#try-data", json.dumps(PAYLOAD, ensure_ascii=False))
    page.click("#btn-try")
    expect(page.locator("#try-timers")).to_contain_text("24 Nov 2026, 21:30", timeout=15000)
    # an English reader sees the task's English name (name_en), the office by its code
    expect(page.locator("#try-tasks")).to_contain_text("Check the placement and the conditions")
    expect(page.locator("#try-tasks")).to_contain_text("ALM-TLG")
    assert page.locator("g.djs-element.nz-path").count() >= 3  # the path, on the diagram

    # Publish v2 with a note
    page.click("#btn-publish-open")
    page.fill("#publish-note", "Check within 12 hours; the check renamed")
    page.fill("#publish-basis", "internal rule")
    page.click("#btn-publish")
    expect(page.locator("#publish-ok")).to_contain_text("Published as version 2", timeout=15000)
    expect(page.locator("#publish-link")).to_have_attribute(
        "href", "/procedures/penalty_room_check/v2"
    )
    assert engine.drafts.list() == []

    # a case started now runs on v2 (due in 12 h); the earlier one continues on v1 (24 h)
    later = engine.runtime.start("penalty_room_check", PAYLOAD, actor="tlg.prosecutor")
    assert version_of(engine, later) == 2
    assert version_of(engine, earlier) == 1
    assert timer_due(engine, later) == ["2026-11-24T16:30:00+00:00"]
    assert timer_due(engine, earlier) == ["2026-11-25T04:30:00+00:00"]

    # the diff v1 ↔ v2: both changes marked on both diagrams and listed, before → after
    page.goto(f"{base}/procedures/penalty_room_check/diff?a=1&b=2")
    for side in ("a", "b"):
        expect(page.locator(f"#diagram-{side}")).to_have_attribute(
            "data-ready", "true", timeout=15000
        )
        for element in ("placement_check", "parameters"):
            shape = page.locator(f'#diagram-{side} .djs-element[data-element-id="{element}"]')
            expect(shape.first).to_have_class(re.compile(r"\bdiff-changed\b"))
    renamed = page.locator("#element-changes li[data-element=placement_check]")
    expect(renamed).to_contain_text(NEW_NAME)
    hours = page.locator("#element-changes li[data-element=parameters]")
    expect(hours).to_contain_text("check_hours_near = 24")
    expect(hours).to_contain_text("check_hours_near = 12")


def test_publishing_an_unconditioned_gateway_shows_the_problem_on_its_element(
    page: Page, live
) -> None:
    base, engine = live
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, base, "gp.methodologist", "en")
    page.goto(f"{base}/procedures/drafts/")
    page.set_input_files(
        "#import-file",
        files=[
            {"name": "drawn.bpmn", "mimeType": "application/xml", "buffer": UNCONDITIONED.encode()}
        ],
    )
    page.click("#import-form button[type=submit]")
    wait_ready(page)
    page.click("#btn-publish-open")
    page.fill("#publish-note", "first version")
    page.click("#btn-publish")
    expect(page.locator("#publish-error")).to_contain_text("nothing was published", timeout=15000)
    problem = page.locator("#publish-problems li[data-element=f2]")
    expect(problem).to_contain_text("Which way?")
    # on the diagram: the flow outlined, the engine's words beside it
    expect(page.locator("g.djs-element.nadzor-problem[data-element-id=f2]")).to_have_count(1)
    note = page.locator(".djs-overlays[data-container-id=f2] .nadzor-problem-note")
    expect(note).to_contain_text("has no condition")
    assert [d for d in engine.repository.list() if d["process_id"] == "gateway_draft"] == []
    assert len(engine.drafts.list()) == 1  # the draft stays, to be mended

    # deleting it from the list asks first
    page.goto(f"{base}/procedures/drafts/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#drafts button[type=submit]")
    expect(page.locator("#drafts tr[data-draft]")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#drafts button[type=submit]")
    expect(page.locator("#no-drafts")).to_be_visible()
    assert engine.drafts.list() == []


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_the_drafts_pages_are_photographed_in_every_language(page: Page, live, locale: str) -> None:
    base, engine = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, base, "gp.methodologist", locale)
    editor_url = open_version_as_draft(page, base)
    engine.drafts.create_from_upload(
        "drawn.bpmn", UNCONDITIONED.encode(), actor="alm.methodologist", now=engine.clock.now()
    )
    page.goto(f"{base}/procedures/drafts/")
    expect(page.locator("#drafts tr[data-draft]")).to_have_count(2)
    page.screenshot(path=str(SHOTS / f"drafts_list_{locale}.png"), full_page=True)

    page.goto(editor_url)
    wait_ready(page)
    page.click("g.djs-element[data-element-id=placement_check]")
    open_group(page, "group-general")
    expect(page.locator("#bio-properties-panel-name")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"draft_editor_{locale}.png"), full_page=True)

    page.click("#btn-try-open")
    page.fill("#try-now", "2026-11-24T10:00")
    page.fill("#try-data", json.dumps(PAYLOAD, ensure_ascii=False))
    page.click("#btn-try")
    expect(page.locator("#try-timers")).to_contain_text("09:30", timeout=15000)  # v1: 24 h
    page.screenshot(path=str(SHOTS / f"draft_try_{locale}.png"), full_page=True)

    page.click("#draft-files a:text-is('penalty_room_check/start.form.json')")
    wait_ready(page)
    expect(page.locator("#file-editor .fjs-editor-container")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"draft_form_editor_{locale}.png"), full_page=True)
    page.go_back()
    wait_ready(page)
    page.click("#draft-files a:text-is('act_routing/answer_term.dmn')")
    wait_ready(page)
    expect(page.locator("#file-editor .tjs-table")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"draft_dmn_editor_{locale}.png"), full_page=True)

    page.goto(f"{base}/procedures/drafts/")
    page.set_input_files(
        "#import-file",
        files=[{"name": "broken.bpmn", "mimeType": "application/xml", "buffer": b"<a>\n<b></a>"}],
    )
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-error")).to_contain_text("broken.bpmn")
    page.screenshot(path=str(SHOTS / f"drafts_import_refused_{locale}.png"), full_page=True)


def test_a_drafts_form_and_decision_table_open_in_their_editors_and_save_back(
    page: Page, live
) -> None:
    base, engine = live
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, base, "gp.methodologist", "en")
    editor_url = open_version_as_draft(page, base)
    draft_id = int(editor_url.rstrip("/").rsplit("/", 1)[1])
    page.goto(editor_url)
    page.click("#draft-files a:text-is('penalty_room_check/start.form.json')")
    wait_ready(page)
    expect(page.locator("#file-editor .fjs-editor-container")).to_be_visible()
    # a field's label changed through the form editor (its modeling service, as its panel does)
    page.evaluate(
        """() => {
            const editor = window.nadzorFileEditor;
            const field = editor.get('formFieldRegistry').getAll()
                .find((f) => f.key === 'convict_name');
            editor.get('modeling').editFormField(field, 'label', 'ФИО водворённого');
        }"""
    )
    page.click("#btn-save")
    expect(page.locator("#save-state")).to_contain_text("Saved ·", timeout=10000)
    form = json.loads(engine.drafts.get(draft_id)["files"]["penalty_room_check/start.form.json"])
    labels = {c.get("key"): c.get("label") for c in form["components"]}
    assert labels["convict_name"] == "ФИО водворённого"

    page.click("a:text-is('Back to the diagram')")
    wait_ready(page)
    page.click("#draft-files a:text-is('act_routing/answer_term.dmn')")
    wait_ready(page)
    expect(page.locator("#file-editor .tjs-table")).to_be_visible()  # the decision table itself
    before = engine.drafts.get(draft_id)["revision"]
    page.click("#btn-save")
    expect(page.locator("#save-state")).to_contain_text("Saved ·", timeout=10000)
    assert engine.drafts.get(draft_id)["revision"] == before + 1


@pytest.mark.usefixtures("axe")
def test_axe_finds_no_serious_violation_on_the_drafts_pages(page: Page, live) -> None:
    base, engine = live
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, base, "gp.methodologist", "ru")
    editor_url = open_version_as_draft(page, base)
    found: dict[str, list[str]] = {}
    page.goto(f"{base}/procedures/drafts/")
    check(page, "drafts list", found)
    page.goto(editor_url)
    wait_ready(page)
    page.click("#btn-try-open")
    page.click("#btn-publish-open")
    check(page, "editor", found)
    assert found == {}
