"""The editor bundles `make assets` builds (web/static/vendor/nadzor-*), in a real browser under
the app's own Content-Security-Policy: the BPMN modeler with our properties panel and bpmnlint,
the form-js editor and the dmn-js modeler open every model Nadzor ships, nothing is refused
(no eval, no inline script), and the bpmn.io watermark is there.

No product page loads all three bundles on its own, so the test registers a page of its own on
the real app (same after-request hook, so the same security headers) before serving it. Its
script is a file from the app's origin too: an inline one would be refused, like on any page.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Response
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from engine.clock import FakeClock
from engine.config import Settings
from tests.conftest import BPMN_DIR
from web.app import CONTENT_SECURITY_POLICY, create_app
from workflows.demo import seed_organization
from workflows.migrate import upgrade
from workflows.runtime import build_engine

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "web" / "static" / "vendor"
SHOTS = ROOT / "var" / "screenshots"
MAIN = "penalty_room_check/penalty_room_check.bpmn"

PAGE = """<!doctype html>
<html lang="{locale}"><head><meta charset="utf-8"><title>bundles</title>
<link rel="stylesheet" href="/static/vendor/nadzor-modeler/modeler.css">
<link rel="stylesheet" href="/static/vendor/nadzor-form-editor/form-editor.css">
<link rel="stylesheet" href="/static/vendor/nadzor-dmn/dmn-modeler.css">
<style>
  #editor {{ display: flex; height: 620px; }} #canvas {{ flex: 1; }}
  #props {{ width: 340px; overflow: auto; border-left: 1px solid #ccc; }}
  #form, #dmn {{ height: 420px; border-top: 1px solid #ccc; }}
</style>
</head><body>
<div id="editor"><div id="canvas"></div><div id="props"></div></div>
<div id="form"></div><div id="dmn"></div>
<script type="application/json" id="files">{files}</script>
<script src="/static/vendor/nadzor-modeler/modeler.js"></script>
<script src="/static/vendor/nadzor-form-editor/form-editor.js"></script>
<script src="/static/vendor/nadzor-dmn/dmn-modeler.js"></script>
<script src="/_test/bundles.js"></script>
</body></html>"""

# the page's own script, served from the app's origin (script-src 'self')
DRIVER = r"""
// the paths of `original` whose value `saved` does not keep
function lost(original, saved, path) {
  if (original === null || typeof original !== 'object') {
    return original === saved ? [] : [path + ' = ' + JSON.stringify(original)];
  }
  if (saved === null || typeof saved !== 'object') {
    return [path];
  }
  return Object.keys(original).flatMap((key) => lost(original[key], saved[key], path + '/' + key));
}

(async function () {
  const files = JSON.parse(document.getElementById('files').textContent);
  const locale = document.documentElement.lang;
  const report = { bpmn: {}, forms: {}, dmn: {} };
  // ?all: open every shipped file first (the round-trip test); else only the editor
  const all = new URLSearchParams(location.search).has('all');
  try {
    // every model opens in the modeler, keeping all of its spiffworkflow extension elements
    for (const [name, xml] of Object.entries(all ? files.bpmn : {})) {
      const probe = document.createElement('div');
      document.body.appendChild(probe);
      const m = NadzorModeler.create({ container: probe });
      const linted = new Promise((resolve) => {
        m.get('eventBus').once('linting.completed', (e) => resolve(e.issues));
      });
      const { warnings } = await m.importXML(xml);
      const issues = Object.values(await linted).flat();
      const saved = (await m.saveXML({ format: true })).xml;
      const count = (s) => (s.match(/<spiffworkflow:[a-zA-Z]+/g) || []).length;
      report.bpmn[name] = {
        warnings: warnings.map((w) => w.message), before: count(xml), after: count(saved),
        lintErrors: issues.filter((i) => i.category === 'error').map((i) => i.id + ': ' + i.message)
      };
      m.destroy();
      probe.remove();
    }
    if (all) {
      // the read-only viewer reads the spiffworkflow extension too (names in other languages)
      const probe = document.createElement('div');
      document.body.appendChild(probe);
      const viewer = new NadzorModeler.Viewer({ container: probe });
      const { warnings } = await viewer.importXML(files.bpmn[files.main]);
      const participant = viewer.get('elementRegistry').get('penalty_room_check_participant');
      const props = participant.businessObject.extensionElements.values[0].properties;
      report.viewer = {
        warnings: warnings.map((w) => w.message),
        name_en: props.find((p) => p.name === 'name_en').value
      };
      viewer.destroy();
      probe.remove();
    }
    const formProbe = document.createElement('div');
    document.body.appendChild(formProbe);
    for (const [name, schema] of Object.entries(all ? files.forms : {})) {
      const editor = await NadzorFormEditor.open({ container: formProbe, schema });
      const saved = editor.saveSchema();
      report.forms[name] = {
        components: (saved.components || []).length,
        original: (schema.components || []).length,
        // the editor writes its own schemaVersion (a newer one): not a loss
        lost: lost(Object.assign({}, schema, { schemaVersion: saved.schemaVersion }), saved, name)
      };
      editor.destroy();
    }
    formProbe.remove();
    for (const [name, xml] of Object.entries(all ? files.dmn : {})) {
      const probe = document.createElement('div');
      document.body.appendChild(probe);
      const d = NadzorDmn.create({ container: probe });
      const { warnings } = await d.importXML(xml);
      const saved = (await d.saveXML({ format: true })).xml;
      const texts = (s) => (s.match(/<(\w+:)?text>/g) || []).length;
      report.dmn[name] = {
        warnings: warnings.map((w) => w.message), views: d.getViews().length,
        before: texts(xml), after: texts(saved)
      };
      d.destroy();
      probe.remove();
    }
    // the editor a methodologist works in
    const modeler = NadzorModeler.create({
      container: '#canvas', propertiesParent: '#props', locale: locale,
      formFiles: files.formNames,
      procedures: [
        { id: 'act_routing', name: 'Направление акта' }, { id: 'torture_report', name: '' }
      ]
    });
    await modeler.importXML(files.bpmn[files.main]);
    modeler.get('canvas').zoom('fit-viewport');
    window.modeler = modeler;
    const form = NadzorFormEditor.create({
      container: document.getElementById('form'), schema: files.forms[files.form]
    });
    window.formEditor = form;
    const dmn = NadzorDmn.create({ container: '#dmn' });
    await dmn.importXML(files.dmn[files.decision]);
    window.dmnModeler = dmn;
    document.body.dataset.report = JSON.stringify(report);
    document.body.dataset.ready = 'true';
  } catch (error) {
    document.body.dataset.error = String(error && error.stack || error);
    throw error;
  }
})();
"""


def files_json() -> str:
    """Every model, form and decision table in bpmn/, for the page's JSON block."""
    data = {
        "bpmn": {
            str(p.relative_to(BPMN_DIR)): p.read_text() for p in sorted(BPMN_DIR.glob("*/*.bpmn"))
        },
        "forms": {
            str(p.relative_to(BPMN_DIR)): json.loads(p.read_text())
            for p in sorted(BPMN_DIR.glob("*/*.form.json"))
        },
        "dmn": {
            str(p.relative_to(BPMN_DIR)): p.read_text() for p in sorted(BPMN_DIR.glob("*/*.dmn"))
        },
        "formNames": sorted(p.name for p in (BPMN_DIR / "penalty_room_check").glob("*.form.json")),
        "main": MAIN,
        "form": "penalty_room_check/placement_check.form.json",
        "decision": "act_routing/route.dmn",
    }
    # inside <script type="application/json">: "</" must not close the element
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


@pytest.fixture(scope="module")
def bundles_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (demo organization, fresh SQLite) plus the test page, on 127.0.0.1; one for
    the module: the tests only read from it."""
    tmp_path = tmp_path_factory.mktemp("bundles")
    if not (VENDOR / "nadzor-modeler" / "modeler.js").is_file():
        pytest.fail("web/static/vendor/nadzor-modeler/modeler.js is missing: run `make assets`")
    url = f"sqlite:///{tmp_path / 'bundles.db'}"
    upgrade(url)
    clock = FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    engine = build_engine(Settings(url, "browser-test", BPMN_DIR), clock=clock)
    seed_organization(engine)
    app = create_app({"NADZOR_ENGINE": engine, "SECRET_KEY": "browser-tests-only"})
    page_html = {loc: PAGE.format(locale=loc, files=files_json()) for loc in ("ru", "kk", "en")}

    def bundles_page(locale: str) -> Response:
        return Response(page_html[locale], mimetype="text/html")

    def bundles_script() -> Response:
        return Response(DRIVER, mimetype="text/javascript")

    app.add_url_rule("/_test/bundles/<any(ru, kk, en):locale>", "test_bundles_page", bundles_page)
    app.add_url_rule("/_test/bundles.js", "test_bundles_script", bundles_script)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        engine.db.dispose()


def watch_console(page: Page) -> list[str]:
    """Script errors, console errors (CSP refusals among them) and CSP violation reports."""
    errors: list[str] = []

    def console(msg: Any) -> None:
        if msg.location.get("url", "").endswith("/favicon.ico"):
            return  # the app has no icon; the browser asks for one anyway
        if msg.type == "error" or "Content Security Policy" in msg.text:
            errors.append(f"console.{msg.type}: {msg.text}")

    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", console)
    return errors


def open_bundles(page: Page, base: str, locale: str, *, every_file: bool = False) -> dict[str, Any]:
    """Sign in as a methodologist, open the test page, wait for every file to be opened."""
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "tlg.methodologist")
    page.fill("input[name=password]", "nadzor-demo")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    response = page.goto(f"{base}/_test/bundles/{locale}" + ("?all" if every_file else ""))
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    body = page.locator("body")
    expect(body).to_have_attribute("data-ready", "true", timeout=60000)
    return json.loads(body.get_attribute("data-report") or "{}")


def select(page: Page, element_id: str) -> None:
    page.evaluate(
        "id => window.modeler.get('selection')"
        ".select(window.modeler.get('elementRegistry').get(id))",
        element_id,
    )


def group(page: Page, title: str):  # type: ignore[no-untyped-def]
    """A properties panel group by its title, opened."""
    header = page.locator(
        "#props .bio-properties-panel-group-header", has_text=re.compile(f"^{re.escape(title)}$")
    )
    expect(header).to_have_count(1)
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    return header.locator("xpath=..")


def test_the_bundles_open_every_model_form_and_decision_table_under_the_csp(
    page: Page, bundles_site: str
) -> None:
    errors = watch_console(page)
    report = open_bundles(page, bundles_site, "en", every_file=True)

    # every shipped model opens with no import warning, its extension elements all written back
    assert len(report["bpmn"]) == len(list(BPMN_DIR.glob("*/*.bpmn")))
    for name, result in report["bpmn"].items():
        assert result["warnings"] == [], name
        assert result["before"] > 0 and result["after"] == result["before"], (name, result)
        # the models Nadzor ships draw no lint error (warnings, e.g. an unnamed end event, allowed)
        assert result["lintErrors"] == [], name
    assert len(report["forms"]) == len(list(BPMN_DIR.glob("*/*.form.json")))
    for name, result in report["forms"].items():
        assert result["components"] == result["original"] > 0, (name, result)
        assert result["lost"] == [], name
    assert set(report["dmn"]) == {str(p.relative_to(BPMN_DIR)) for p in BPMN_DIR.glob("*/*.dmn")}
    for name, result in report["dmn"].items():
        assert result["warnings"] == [] and result["views"] >= 1, (name, result)
        assert result["before"] > 0 and result["after"] == result["before"], (name, result)

    assert report["viewer"] == {
        "warnings": [],
        "name_en": "Penalty-room placement check (¶11.6, ¶13.9, ¶13.12)",
    }

    # the form editor and the decision table are on the page
    expect(page.locator("#form .fjs-editor-container")).to_be_visible()
    expect(page.locator("#dmn .tjs-table, #dmn .djs-container").first).to_be_visible()

    # the bpmn.io watermark stays, linking to bpmn.io
    expect(page.locator('#canvas a.bjs-powered-by[href="http://bpmn.io"]')).to_be_visible()
    assert errors == []


def test_the_properties_panel_edits_what_the_engine_reads(page: Page, bundles_site: str) -> None:
    errors = watch_console(page)
    open_bundles(page, bundles_site, "en")

    # a user task: its form (a choice among the procedure's form files), names, role, deadline
    select(page, "placement_check")
    form = group(page, "Form")
    expect(form.locator("select")).to_have_value("placement_check.form.json")
    names = group(page, "Names")
    expect(names.locator("input").nth(1)).to_have_value(re.compile("Check the placement"))
    names.locator("input").nth(1).fill("Check the placement (edited)")
    names.locator("input").nth(1).press("Tab")  # the panel commits a field when it loses focus
    expect(group(page, "Deadline rule").locator("select")).to_have_value("check_deadline")
    expect(
        page.locator("#props .bio-properties-panel-group-header", has_text="Role")
    ).to_have_count(1)

    # a lane: its name for people in Russian too (its Name is the key the organization resolves)
    select(page, "lane_supervising")
    lane_names = group(page, "Names").locator("input")
    expect(lane_names.first).to_have_value("Прокуратура, надзирающая за учреждением")
    expect(lane_names).to_have_count(3)

    # a script task: its script
    select(page, "parameters")
    script = group(page, "Script")
    expect(script.locator("textarea").first).to_have_value(re.compile(r"check_hours_near = 24"))

    # a flow leaving a gateway: its condition
    flow = page.evaluate(
        """() => window.modeler.get('elementRegistry').filter(e =>
            e.type === 'bpmn:SequenceFlow' && e.businessObject.conditionExpression
            && e.source.type === 'bpmn:ExclusiveGateway')[0].id"""
    )
    select(page, flow)
    condition = group(page, "Condition")
    expect(condition.locator("textarea")).not_to_have_value("")

    # a boundary timer: bpmn-js's own Timer group reads plain BPMN timers (type and expression)
    select(page, "check_deadline")
    timer = group(page, "Timer")
    expect(timer.locator("select")).to_have_value("timeDate")
    expect(timer.locator("input")).to_have_value("check_due")

    # a call activity: the procedure it calls; the process: its documentation (with ¶)
    select(page, "route_act")
    called = group(page, "Called procedure").locator("select")
    expect(called).to_have_value("act_routing")
    expect(called.locator("option")).to_have_text(
        ["<none>", "Направление акта (act_routing)", "torture_report"]
    )
    select(page, "penalty_room_check_participant")
    documentation = group(page, "Documentation")
    expect(documentation.locator("textarea").last).to_have_value(re.compile("¶11.6"))

    # the default flow of a gateway has no condition of its own
    default = page.evaluate(
        "() => window.modeler.get('elementRegistry').get('status_gw').businessObject.default.id"
    )
    select(page, default)
    expect(
        page.locator("#props .bio-properties-panel-group-header", has_text="Condition")
    ).to_have_count(0)

    # no Form group for a gateway
    select(page, "status_gw")
    expect(
        page.locator("#props .bio-properties-panel-group-header", has_text="Form")
    ).to_have_count(0)

    # the edit is in the saved XML, as a spiffworkflow:property
    saved = page.evaluate("async () => (await window.modeler.saveXML({format: true})).xml")
    assert 'name="name_en" value="Check the placement (edited)"' in saved.replace("&#39;", "'")

    # a new task has no extension elements: the first value creates them, emptying removes it
    created = page.evaluate(
        """() => {
          const m = window.modeler;
          const lane = m.get('elementRegistry').get('lane_regional');
          const shape = m.get('elementFactory').createShape({ type: 'bpmn:UserTask' });
          return m.get('modeling').createShape(shape, { x: lane.x + 900, y: lane.y + 60 }, lane).id;
        }"""
    )
    select(page, created)
    kazakh = group(page, "Names").locator("input").first
    kazakh.fill("Жаңа тапсырма")
    choice = group(page, "Form").locator("select")
    choice.focus()  # as a click would: the name field commits what was typed when it loses focus
    choice.select_option("response_act.form.json")
    saved = page.evaluate("async () => (await window.modeler.saveXML({format: true})).xml")
    task = saved[saved.index(f'id="{created}"') :].split("</bpmn:userTask>")[0]
    assert '<spiffworkflow:property name="name_kk" value="Жаңа тапсырма" />' in task
    assert 'name="formJsonSchemaFilename" value="response_act.form.json"' in task
    kazakh.fill("")
    kazakh.press("Tab")
    saved = page.evaluate("async () => (await window.modeler.saveXML({format: true})).xml")
    task = saved[saved.index(f'id="{created}"') :].split("</bpmn:userTask>")[0]
    assert "name_kk" not in task and "formJsonSchemaFilename" in task

    # a scheduled start: the office levels it starts a case for
    page.evaluate(
        "xml => window.modeler.importXML(xml)",
        (BPMN_DIR / "quarterly_report" / "quarterly_report.bpmn").read_text(),
    )
    select(page, "start")
    schedule = group(page, "Scheduled start")
    expect(schedule.locator("input")).to_have_value("district,regional,gp")

    # a receive task: the case variable its message goes to; a business rule task: its decision
    page.evaluate(
        "xml => window.modeler.importXML(xml)",
        (BPMN_DIR / "act_routing" / "act_routing.bpmn").read_text(),
    )
    select(page, "await_answer")
    expect(group(page, "Received data").locator("input")).to_have_value("answer")
    select(page, "route_decision")
    expect(group(page, "Decision table").locator("input")).to_have_value("act_route")
    assert errors == []


def test_bpmnlint_marks_an_unconnected_task_and_check_problems_are_marked(
    page: Page, bundles_site: str
) -> None:
    errors = watch_console(page)
    open_bundles(page, bundles_site, "en")
    button = page.locator(".bjsl-button")
    expect(button).to_contain_text("No Issues")

    created = page.evaluate(
        """() => {
          const m = window.modeler;
          const lane = m.get('elementRegistry').get('lane_supervising');
          const shape = m.get('elementFactory').createShape({ type: 'bpmn:Task' });
          const at = { x: lane.x + 300, y: lane.y + lane.height - 40 };
          return m.get('modeling').createShape(shape, at, lane).id;
        }"""
    )
    expect(button).to_contain_text(re.compile(r"[1-9]\d* Errors"))
    overlay = page.locator(f'.djs-overlay-container [data-container-id="{created}"] .bjsl-overlay')
    expect(overlay).to_have_count(1)
    overlay.hover()
    expect(page.locator(".bjsl-dropdown-content").first).to_contain_text("Element is not connected")

    # the engine's Check problems, marked on their elements; messages shown as text
    unplaced = page.evaluate(
        """() => NadzorModeler.markProblems(window.modeler, [
             {message: '<b>24 hours</b> is not a timer', element_id: 'placement_check'},
             {message: 'somewhere else', element_id: 'no_such_element'}])"""
    )
    assert unplaced == [{"message": "somewhere else", "element_id": "no_such_element"}]
    marked = page.locator('.djs-element.nadzor-problem[data-element-id="placement_check"]')
    expect(marked).to_have_count(1)
    note = page.locator(".nadzor-problem-note")
    expect(note).to_have_text("<b>24 hours</b> is not a timer")
    expect(note.locator("b")).to_have_count(0)
    page.evaluate("() => NadzorModeler.markProblems(window.modeler, [])")
    expect(marked).to_have_count(0)
    expect(note).to_have_count(0)
    assert errors == []


@pytest.mark.parametrize(
    ("locale", "names", "form", "lint"),
    [
        ("ru", "Названия", "Форма", "Замечаний нет"),
        ("kk", "Атаулары", "Нысан", "Ескертулер жоқ"),
        ("en", "Names", "Form", "No Issues"),
    ],
)
def test_the_editor_speaks_the_page_language(
    page: Page, bundles_site: str, locale: str, names: str, form: str, lint: str
) -> None:
    errors = watch_console(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_bundles(page, bundles_site, locale)
    expect(page.locator(".bjsl-button")).to_contain_text(lint)
    select(page, "placement_check")
    group(page, names)
    group(page, form)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#editor").screenshot(path=str(SHOTS / f"modeler_bundle_{locale}.png"))
    assert errors == []
