"""The Procedures area for methodologists (and admins): every procedure with its versions, each
version's diagram, forms and decision tables in words, its files to download, and any two
versions compared side by side.

Who may enter is the domain's rule (`Rights.may_manage_models`, workflows/rights.py), asked once
for every page of this blueprint; the versions, their callers and the running cases come from the
engine's repository (engine/repository.py), what changed between two versions from
engine/model_diff.py. This module only puts words beside them: names in the reader's language
(name_kk / name_en in the model), people by name, instants in Almaty time, "yes / no".
Diagrams are drawn by bpmn-js (NavigatedViewer, read-only) from a JSON data block read by
web/static/procedures.js, so the CSP needs no inline script.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from lxml import etree
from werkzeug.routing import BuildError

from engine.errors import ModelError, NotFound
from engine.model_diff import BPMN, SPIFF, changed_ids, diff_files
from engine.safety.xmlparse import parse_xml
from workflows.catalogue import procedure_title
from workflows.rights import Refusal
from workflows.scope import CASE_ROLES

from .case_file import People
from .diagram import element_name, localized_diagram
from .i18n import local_time, locale_code
from .ids import register_converters
from .refusals import mark_denied, rights

procedures_ui = Blueprint("procedures", __name__)
procedures_ui.record(register_converters)  # web/ids.py: impossible ids are 404 before a query

#: a process id as models write it (anything else is no procedure: 404 before any query)
PROCESS_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")

TYPES: dict[str, Any] = {
    "process": lazy_gettext("procedure"),
    "participant": lazy_gettext("procedure"),
    "lane": lazy_gettext("lane"),
    "startEvent": lazy_gettext("start"),
    "endEvent": lazy_gettext("end"),
    "intermediateCatchEvent": lazy_gettext("waiting event"),
    "intermediateThrowEvent": lazy_gettext("signal sent"),
    "boundaryEvent": lazy_gettext("event on a task"),
    "userTask": lazy_gettext("task for a person"),
    "manualTask": lazy_gettext("task for a person"),
    "scriptTask": lazy_gettext("calculation"),
    "serviceTask": lazy_gettext("automatic step"),
    "businessRuleTask": lazy_gettext("decision table"),
    "sendTask": lazy_gettext("message sent"),
    "receiveTask": lazy_gettext("message awaited"),
    "task": lazy_gettext("step"),
    "callActivity": lazy_gettext("another procedure"),
    "subProcess": lazy_gettext("sub-procedure"),
    "exclusiveGateway": lazy_gettext("choice"),
    "inclusiveGateway": lazy_gettext("choice of several"),
    "parallelGateway": lazy_gettext("parallel paths"),
    "eventBasedGateway": lazy_gettext("waiting for the first event"),
    "sequenceFlow": lazy_gettext("flow"),
    "messageFlow": lazy_gettext("message flow"),
    "textAnnotation": lazy_gettext("note"),
    "association": lazy_gettext("link to a note"),
    "dataObjectReference": lazy_gettext("data"),
    "dataStoreReference": lazy_gettext("data store"),
}
PROPERTIES: dict[str, Any] = {
    "type": lazy_gettext("Kind"),
    "name": lazy_gettext("Name"),
    "name_ru": lazy_gettext("Name on the diagram (Russian)"),
    "name_kk": lazy_gettext("Name in Kazakh"),
    "name_en": lazy_gettext("Name in English"),
    "title_kk": lazy_gettext("Task title in Kazakh"),
    "title_en": lazy_gettext("Task title in English"),
    "documentation": lazy_gettext("Documentation"),
    "lane": lazy_gettext("Lane"),
    "script": lazy_gettext("Script"),
    "pre_script": lazy_gettext("Script before the task"),
    "post_script": lazy_gettext("Script after the task"),
    "condition": lazy_gettext("Condition"),
    "called_element": lazy_gettext("Called procedure"),
    "default_flow": lazy_gettext("Default path"),
    "attached_to": lazy_gettext("On the task"),
    "source": lazy_gettext("From"),
    "target": lazy_gettext("To"),
    "incoming": lazy_gettext("Paths in"),
    "outgoing": lazy_gettext("Paths out"),
    "interrupting": lazy_gettext("Interrupts the task"),
    "event": lazy_gettext("Event"),
    "multi_instance": lazy_gettext("Repeated"),
    "timer_duration": lazy_gettext("Timer: duration"),
    "timer_date": lazy_gettext("Timer: instant"),
    "timer_cycle": lazy_gettext("Timer: cycle"),
    "form": lazy_gettext("Form"),
    "calledDecisionId": lazy_gettext("Decision table"),
    "basis": lazy_gettext("Basis (¶ of the Instruction)"),
    "deadline": lazy_gettext("Deadline"),
    "deadline_rule": lazy_gettext("Term"),
    "deadline_rule_kk": lazy_gettext("Term in Kazakh"),
    "deadline_rule_en": lazy_gettext("Term in English"),
    # forms
    "label": lazy_gettext("Label"),
    "label_kk": lazy_gettext("Label in Kazakh"),
    "label_en": lazy_gettext("Label in English"),
    "description": lazy_gettext("Description"),
    "description_kk": lazy_gettext("Description in Kazakh"),
    "description_en": lazy_gettext("Description in English"),
    "values": lazy_gettext("Options"),
    "validate.required": lazy_gettext("Required"),
    "validate.min": lazy_gettext("Smallest value"),
    "validate.max": lazy_gettext("Largest value"),
    "validate.minLength": lazy_gettext("Shortest length"),
    "validate.maxLength": lazy_gettext("Longest length"),
    "validate.pattern": lazy_gettext("Pattern"),
    "conditional.hide": lazy_gettext("Hidden when"),
    # decisions
    "hit_policy": lazy_gettext("Hit policy"),
}
FIELD_TYPES: dict[str, Any] = {
    "textfield": lazy_gettext("text"),
    "textarea": lazy_gettext("long text"),
    "number": lazy_gettext("number"),
    "checkbox": lazy_gettext("yes / no"),
    "select": lazy_gettext("choice from a list"),
    "radio": lazy_gettext("one of the options"),
    "datetime": lazy_gettext("date and time"),
    "filepicker": lazy_gettext("files"),
    "group": lazy_gettext("group of fields"),
    "text": lazy_gettext("text shown"),
}
HIT_POLICIES: dict[str, Any] = {
    "UNIQUE": lazy_gettext("exactly one rule applies"),
    "FIRST": lazy_gettext("the first rule that applies"),
    "PRIORITY": lazy_gettext("the rule of highest priority"),
    "ANY": lazy_gettext("any applying rule (all give the same)"),
    "COLLECT": lazy_gettext("every applying rule"),
    "RULE ORDER": lazy_gettext("every applying rule, in order"),
    "OUTPUT ORDER": lazy_gettext("every applying rule, by output"),
}
CHANGES: dict[str, Any] = {
    "added": lazy_gettext("added"),
    "removed": lazy_gettext("removed"),
    "changed": lazy_gettext("changed"),
    "unreadable": lazy_gettext("cannot be read"),
}


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _repo() -> Any:
    return _engine().repository


def _url(endpoint: str, fallback: str, **values: Any) -> str:
    """A page of another helper's blueprint by its endpoint when it is registered, else its
    documented path (the page still works while that blueprint is being built)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


def _refusal_text(refusal: Refusal) -> str:
    if refusal.code == "no_model_role":
        return gettext(
            "The procedures' models are kept by methodologists and administrators; your roles "
            "do not include them."
        )
    return refusal.message


@procedures_ui.before_request
def _model_roles_only() -> Any:
    """Every page here asks the same rule first (before any id is looked up)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    refusal = rights().may_manage_models(current_user.user)
    if refusal is not None:
        mark_denied(refusal)
        return (
            render_template("procedures/denied.html", message=_refusal_text(refusal)),
            refusal.status,
        )
    return None


def is_methodologist_only(user: Any) -> bool:
    """A methodologist who works no cases and audits nothing: the Procedures area is their start
    page (their office queue would always be empty)."""
    return user.has_role("methodologist") and not user.has_role(*CASE_ROLES, "auditor")


@procedures_ui.app_template_global("may_manage_models")
def may_manage_models() -> bool:
    """For the navigation: whether the signed-in user may enter the Procedures area (the same
    rule every page here asks)."""
    if not current_user.is_authenticated:
        return False
    return rights().may_manage_models(current_user.user) is None


def _pid(process_id: str) -> str:
    if not PROCESS_ID.fullmatch(process_id):
        abort(404)
    return process_id


def _yes_no(value: Any) -> str:
    if value in (True, "true"):
        return gettext("yes")
    if value in (False, "false"):
        return gettext("no")
    return "" if value is None else str(value)


# -- the repository's answers (engine/repository.py) -------------------------------------------


def _versions(process_id: str) -> list[dict[str, Any]]:
    """The procedure's versions, newest first (404: it was never published)."""
    try:
        return list(_repo().versions(process_id))
    except NotFound:
        abort(404)


def _version(process_id: str, version: int) -> Any:
    """A published version (404 when there is none)."""
    try:
        return _repo().get_version(process_id, version)
    except NotFound:
        abort(404)


def _callers(process_id: str) -> list[dict[str, Any]]:
    """Procedures whose latest version holds a copy of this one, and whether it is outdated."""
    try:
        return list(_repo().callers(process_id))
    except NotFound:
        return []


# -- reading a version's files in words --------------------------------------------------------


def _main_file(definition: Any) -> str | None:
    """The key of the file defining the version's process."""
    main = getattr(definition, "main_file", None)
    return main if main in definition.files else None


@lru_cache(maxsize=128)
def _tree(text: str) -> etree._ElementTree | None:
    try:
        return parse_xml(text.encode("utf-8"), "model")
    except ModelError:
        return None


def process_ids(text: str) -> tuple[str, ...]:
    tree = _tree(text)
    if tree is None:
        return ()
    return tuple(p.get("id") or "" for p in tree.iter(f"{{{BPMN}}}process"))


def _props(element: Any) -> dict[str, str]:
    found = element.findall(
        f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property"
    )
    return {p.get("name"): p.get("value") or "" for p in found if p.get("name")}


def procedure_titles(text: str, process_id: str) -> dict[str, str]:
    """A procedure's title per locale from its model: the process's (or its pool's) name and
    name_kk / name_en properties; the catalogue's words where the model gives none."""
    tree = _tree(text)
    titles: dict[str, str] = {}
    if tree is not None:
        holders = [p for p in tree.iter(f"{{{BPMN}}}process") if p.get("id") == process_id]
        holders += [
            p for p in tree.iter(f"{{{BPMN}}}participant") if p.get("processRef") == process_id
        ]
        for element in holders:
            props = _props(element)
            if element.get("name"):
                titles.setdefault("ru", element.get("name") or "")
            for locale in ("kk", "en"):
                if props.get(f"name_{locale}"):
                    titles.setdefault(locale, props[f"name_{locale}"])
    for locale in ("ru", "kk", "en"):
        titles.setdefault(locale, procedure_title(process_id, locale, titles.get("ru")))
    return titles


def _title(definition: Any) -> str:
    main = _main_file(definition)
    if main is None:
        return procedure_title(definition.process_id, locale_code(), definition.title)
    return procedure_titles(definition.files[main], definition.process_id)[locale_code()]


def _localized(value: dict[str, Any] | None, key: str, default: str = "") -> str:
    """A form-js component's text in the reader's language (`properties.<key>_<locale>`)."""
    if not value:
        return default
    locale = locale_code()
    props = value.get("properties") if isinstance(value.get("properties"), dict) else {}
    return (
        (props or {}).get(f"{key}_{locale}") or value.get(f"{key}_{locale}") or value.get(key)
    ) or default


def _form_tables(files: dict[str, str]) -> list[dict[str, Any]]:
    """Each form of the version: its fields in words (label, kind, required, options, when
    hidden, limits)."""
    out = []
    for name, text in sorted(files.items()):
        if not name.endswith(".form.json"):
            continue
        try:
            form = json.loads(text)
        except ValueError:
            out.append({"file": name, "fields": [], "error": True})
            continue
        fields: list[dict[str, Any]] = []
        _walk_fields(form.get("components") if isinstance(form, dict) else None, 0, fields)
        out.append({"file": name, "fields": fields, "error": False})
    return out


def _forms_in_order(
    files: dict[str, str], main: str | None, steps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The procedure's own forms first, each titled by the steps that show it; then the forms
    of the procedures it calls (they travel with the version)."""
    folder = (main or "").rpartition("/")[0]
    uses: dict[str, list[str]] = {}
    for step in steps:
        if step["form"]:
            uses.setdefault(f"{folder}/{step['form']}", []).append(step["name"])
    forms = _form_tables(files)
    for form in forms:
        form["steps"] = uses.get(form["file"], [])
        form["own"] = form["file"].rpartition("/")[0] == folder
    return sorted(forms, key=lambda f: (not f["own"], f["file"]))


def _walk_fields(components: Any, depth: int, fields: list[dict[str, Any]]) -> None:
    """A form's components in order, a group's fields after it (one level deeper)."""
    if not isinstance(components, list):
        return
    for c in components:
        if not isinstance(c, dict):
            continue
        validate = c.get("validate") if isinstance(c.get("validate"), dict) else {}
        conditional = c.get("conditional") if isinstance(c.get("conditional"), dict) else {}
        fields.append(
            {
                "key": c.get("key") or "",
                "label": _localized(c, "label", c.get("key") or ""),
                "type": str(FIELD_TYPES.get(c.get("type"), c.get("type") or "")),
                "required": _yes_no(bool(validate.get("required"))),
                "options": [
                    _localized(v, "label", str(v.get("value")))
                    for v in c.get("values") or []
                    if isinstance(v, dict)
                ],
                "hidden": conditional.get("hide") or "",
                "limits": [
                    f"{PROPERTIES[f'validate.{k}']}: {validate[k]}"
                    for k in ("min", "max", "minLength", "maxLength", "pattern")
                    if k in validate
                ],
                "depth": depth,
                "readonly": bool(c.get("readonly") or c.get("disabled")),
            }
        )
        _walk_fields(c.get("components"), depth + 1, fields)


def _dmn_local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _kids(element: Any, local: str) -> list[Any]:
    return [c for c in element if _dmn_local(c) == local]


def _cell(element: Any) -> str:
    text = next(iter(_kids(element, "text")), None)
    value = (text.text or "").strip() if text is not None else ""
    if value in ("True", "False"):  # a Python truth value: said as yes / no
        return _yes_no(value.lower())
    return gettext("any") if value in ("", "-") else value


def _decision_tables(files: dict[str, str]) -> list[dict[str, Any]]:
    """Each decision table: its name, hit policy in words, columns and rules."""
    out = []
    for name, text in sorted(files.items()):
        if not name.endswith(".dmn"):
            continue
        tree = _tree(text)
        if tree is None:
            out.append({"file": name, "id": "", "name": name, "error": True})
            continue
        for decision in tree.getroot().iter():
            if _dmn_local(decision) != "decision":
                continue
            table = next(iter(_kids(decision, "decisionTable")), None)
            if table is None:
                continue
            inputs = [
                c.get("label") or _cell(next(iter(_kids(c, "inputExpression")), c))
                for c in _kids(table, "input")
            ]
            outputs = [c.get("label") or c.get("name") or "" for c in _kids(table, "output")]
            rules = []
            for number, rule in enumerate(_kids(table, "rule"), start=1):
                desc = next(iter(_kids(rule, "description")), None)
                rules.append(
                    {
                        "number": number,
                        "id": rule.get("id") or "",
                        "inputs": [_cell(e) for e in _kids(rule, "inputEntry")],
                        "outputs": [_cell(e) for e in _kids(rule, "outputEntry")],
                        "description": (desc.text or "").strip() if desc is not None else "",
                    }
                )
            policy = table.get("hitPolicy") or "UNIQUE"
            out.append(
                {
                    "file": name,
                    "id": decision.get("id") or "",
                    "name": decision.get("name") or decision.get("id") or "",
                    "hit_policy": str(HIT_POLICIES.get(policy, policy)),
                    "inputs": inputs,
                    "outputs": outputs,
                    "rules": rules,
                    "error": False,
                }
            )
    return out


def _steps(text: str, process_id: str) -> dict[str, Any]:
    """The process's documentation and its steps in words: name, kind, lane, form, timer,
    called procedure, documentation (the diagram's text alternative)."""
    tree = _tree(text)
    result: dict[str, Any] = {"documentation": "", "steps": [], "calls": []}
    if tree is None:
        return result
    locale = locale_code()
    process = next((p for p in tree.iter(f"{{{BPMN}}}process") if p.get("id") == process_id), None)
    if process is None:
        return result
    doc = process.find(f"{{{BPMN}}}documentation")
    result["documentation"] = (doc.text or "").strip() if doc is not None else ""
    lanes = {}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        for ref in lane.findall(f"{{{BPMN}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = element_name(lane, locale) or lane.get("id")
    for element in process:
        local = _dmn_local(element)
        if local in ("laneSet", "sequenceFlow", "documentation", "extensionElements", ""):
            continue
        if local in ("textAnnotation", "association", "dataObject"):
            continue
        props = _props(element)
        timer = ""
        for definition in element.iter(f"{{{BPMN}}}timerEventDefinition"):
            for child in definition:
                timer = (child.text or "").strip()
        step_doc = element.find(f"{{{BPMN}}}documentation")
        called = element.get("calledElement")
        if called:
            result["calls"].append(called)
        result["steps"].append(
            {
                "id": element.get("id"),
                "name": element_name(element, locale) or str(TYPES.get(local, local)),
                "type": str(TYPES.get(local, local)),
                "lane": lanes.get(element.get("id") or "", ""),
                "form": props.get("formJsonSchemaFilename") or props.get("form") or "",
                "basis": props.get("basis", ""),
                "term": props.get(f"deadline_rule_{locale}") or props.get("deadline_rule", ""),
                "timer": timer,
                "called": called or "",
                "documentation": (step_doc.text or "").strip() if step_doc is not None else "",
            }
        )
    return result


def _diagram_data(definition: Any) -> dict[str, Any] | None:
    main = _main_file(definition)
    if main is None:
        return None
    return {"xml": localized_diagram(definition.files[main], locale_code()), "file": main}


# -- pages ---------------------------------------------------------------------------------------


def _people() -> People:
    return People(
        current_app.extensions["nadzor.users"],
        current_app.extensions["nadzor.directory"],
        locale_code(),
    )


def _title_of(process_id: str, latest_id: int | None = None) -> str:
    """A procedure's title in the reader's language, from its latest version's model."""
    try:
        latest = latest_id if latest_id is not None else _repo().latest_id(process_id)
        return _title(_repo().get(latest))
    except NotFound:
        return procedure_title(process_id, locale_code())


def _outdated_warning(caller: dict[str, Any], callee: str, callee_version: int) -> str:
    """ "torture_report v2 includes emergency_report v1; publish torture_report again to use
    v3", with the procedures' titles (a copy that matches no published version: "an earlier
    copy")."""
    params = {
        "caller": _title_of(caller["process_id"]),
        "caller_version": caller["version"],
        "callee": _title_of(callee),
        "callee_version": callee_version,
    }
    if caller.get("frozen_version"):
        return gettext(
            "%(caller)s v%(caller_version)s includes %(callee)s v%(frozen_version)s; publish "
            "%(caller)s again to use v%(callee_version)s.",
            frozen_version=caller["frozen_version"],
            **params,
        )
    return gettext(
        "%(caller)s v%(caller_version)s includes an earlier copy of %(callee)s; publish "
        "%(caller)s again to use v%(callee_version)s.",
        **params,
    )


def _caller_rows(
    process_id: str, latest_version: int, callers: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The procedures that call this one, each with its warning when its copy is outdated."""
    return [
        {
            "process_id": c["process_id"],
            "title": _title_of(c["process_id"]),
            "version": c["version"],
            "outdated": c["outdated"],
            "warning": _outdated_warning(c, process_id, latest_version) if c["outdated"] else "",
        }
        for c in (callers if callers is not None else _callers(process_id))
    ]


@procedures_ui.get("/procedures/")
def procedure_list() -> Any:
    rows = [
        {
            "process_id": p["process_id"],
            "title": _title_of(p["process_id"], p["latest_id"]),
            "latest_version": p["latest_version"],
            "versions": p["versions"],
            "running_cases": p["running_cases"],
            "callers": _caller_rows(p["process_id"], p["latest_version"], p["callers"]),
        }
        for p in _repo().procedures()
    ]
    return render_template(
        "procedures/list.html",
        procedures=rows,
        drafts_url=_url("drafts.list_drafts", "/procedures/drafts/"),
    )


@procedures_ui.get("/procedures/<procedure:process_id>")
def versions(process_id: str) -> Any:
    pid = _pid(process_id)
    rows = _versions(pid)
    if not rows:
        abort(404)
    people = _people()
    listed = [
        {
            "version": r["version"],
            "when": local_time(r["published_at"]),
            "who": people.name(r.get("published_by")),
            "note": r.get("note") or "",
            "legal_basis": r.get("legal_basis") or "",
            "sha256": r["sha256"],
            "running_cases": r.get("running_cases", 0),
        }
        for r in rows
    ]
    drafts = []
    engine = _engine()
    if getattr(engine, "drafts", None) is not None:
        for d in engine.drafts.list(process_id=pid):
            drafts.append(
                {
                    "id": d["id"],
                    "href": _url(
                        "drafts.editor", f"/procedures/drafts/{d['id']}", draft_id=d["id"]
                    ),
                    "base_version": d.get("base_version"),
                    "who": people.name(d.get("updated_by") or d.get("created_by")),
                    "when": local_time(d.get("updated_at") or d.get("created_at")),
                }
            )
    latest = rows[0]
    return render_template(
        "procedures/versions.html",
        process_id=pid,
        title=_title_of(pid, latest["id"]),
        versions=listed,
        drafts=drafts,
        callers=_caller_rows(pid, latest["version"]),
        compare_a=rows[1]["version"] if len(rows) > 1 else latest["version"],
        compare_b=latest["version"],
    )


@procedures_ui.get("/procedures/<procedure:process_id>/v<int:version>")
def version_page(process_id: str, version: int) -> Any:
    pid = _pid(process_id)
    definition = _version(pid, version)
    rows = _versions(pid)
    row = next((r for r in rows if r["version"] == version), {})
    main = _main_file(definition)
    steps = (
        _steps(definition.files[main], pid)
        if main
        else {"documentation": "", "steps": [], "calls": []}
    )
    people = _people()
    called_titles = {c: _title_of(c) for c in dict.fromkeys(steps["calls"])}
    return render_template(
        "procedures/version.html",
        process_id=pid,
        version=version,
        title=_title(definition),
        row={
            "when": local_time(row.get("published_at")),
            "who": people.name(row.get("published_by")),
            "note": row.get("note") or "",
            "legal_basis": row.get("legal_basis") or "",
            "sha256": definition.sha256,
            "running_cases": row.get("running_cases", 0),
        },
        other_versions=[r["version"] for r in rows if r["version"] != version],
        diagram=_diagram_data(definition),
        documentation=steps["documentation"],
        steps=steps["steps"],
        calls=[{"process_id": c, "title": called_titles[c]} for c in called_titles],
        called_titles=called_titles,
        forms=_forms_in_order(definition.files, main, steps["steps"]),
        decisions=_decision_tables(definition.files),
        files=sorted(definition.files),
        callers=_caller_rows(pid, rows[0]["version"] if rows else version),
        draft_action=_url(
            "drafts.create_from_version",
            f"/procedures/{pid}/v{version}/draft",
            pid=pid,
            version=version,
        ),
        migrate_url=_url(
            "migration.page",
            f"/procedures/{pid}/migrate?from={version}",
            process_id=pid,
            **{"from": version},
        ),
    )


@procedures_ui.get("/procedures/<procedure:process_id>/v<int:version>/download")
def download(process_id: str, version: int) -> Any:
    """The version's files as a zip, each under its name in the version (folder/file)."""
    pid = _pid(process_id)
    definition = _version(pid, version)
    buffer = io.BytesIO()
    stamp = _zip_time(getattr(definition, "published_at", None))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(definition.files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, definition.files[name].encode("utf-8"))
    response = Response(buffer.getvalue(), mimetype="application/zip")
    response.headers.set("Content-Disposition", "attachment", filename=f"{pid}-v{version}.zip")
    return response


def _zip_time(instant: datetime | None) -> tuple[int, int, int, int, int, int]:
    if instant is None:
        return (1980, 1, 1, 0, 0, 0)
    return (instant.year, instant.month, instant.day, instant.hour, instant.minute, instant.second)


@procedures_ui.get("/procedures/<procedure:process_id>/v<int:version>/files/<path:name>")
def version_file(process_id: str, version: int, name: str) -> Any:
    """One file of the version, as it was published."""
    pid = _pid(process_id)
    definition = _version(pid, version)
    if name not in definition.files:
        abort(404)
    mimetype = "application/json" if name.endswith(".json") else "application/xml"
    response = Response(definition.files[name].encode("utf-8"), mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=name.rpartition("/")[2])
    return response


def _property_label(key: str) -> str:
    if key in PROPERTIES:
        return str(PROPERTIES[key])
    if key.startswith("input: "):
        return gettext("Condition “%(column)s”", column=key.removeprefix("input: "))
    if key.startswith("output: "):
        return gettext("Result “%(column)s”", column=key.removeprefix("output: "))
    if key.startswith(("input ", "output ")):
        kind, _, number = key.partition(" ")
        return gettext("Column %(number)s", number=number)
    if key.startswith("validate."):
        return gettext("Rule “%(rule)s”", rule=key.removeprefix("validate."))
    return gettext("Property “%(name)s”", name=key)


def _value(key: str, value: str | None) -> str:
    if value is None:
        return "—"
    if key == "type":
        return str(TYPES.get(value, value))
    if key == "hit_policy":
        return str(HIT_POLICIES.get(value, value))
    if value in ("true", "false", "True", "False"):  # JSON and Python (decision cells) truth
        return _yes_no(value.lower())
    return value


def _properties_in_words(properties: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "property": _property_label(p["property"]),
            "before": _value(p["property"], p["before"]),
            "after": _value(p["property"], p["after"]),
        }
        for p in properties
    ]


@procedures_ui.get("/procedures/<procedure:process_id>/diff")
def diff(process_id: str) -> Any:
    pid = _pid(process_id)
    rows = _versions(pid)
    if not rows:
        abort(404)
    numbers = [r["version"] for r in rows]
    try:
        a = int(request.args.get("a", numbers[1] if len(numbers) > 1 else numbers[0]))
        b = int(request.args.get("b", numbers[0]))
    except ValueError:
        a, b = -1, -1
    if a not in numbers or b not in numbers:
        return (
            render_template(
                "procedures/denied.html",
                message=gettext("Choose two versions of this procedure to compare."),
                back=url_for("procedures.versions", process_id=pid),
            ),
            400,
        )
    before, after = _version(pid, a), _version(pid, b)
    changes = diff_files(before.files, after.files)
    locale = locale_code()
    main_a, main_b = _main_file(before), _main_file(after)
    sides = []
    for side, definition, main, marks in (
        ("a", before, main_a, ("removed", "changed")),
        ("b", after, main_b, ("added", "changed")),
    ):
        ids = changed_ids(changes, main) if main else {}
        sides.append(
            {
                "side": side,
                "version": definition.version,
                "diagram": {
                    "xml": localized_diagram(definition.files[main], locale) if main else "",
                    "marks": {m: ids.get(m, []) for m in marks},
                },
            }
        )
    forms_a = {f["file"]: f for f in _form_tables(before.files)}
    forms_b = {f["file"]: f for f in _form_tables(after.files)}

    def field_label(file: str, key: str) -> str:
        for forms in (forms_b, forms_a):
            for field in (forms.get(file) or {}).get("fields", []):
                if field["key"] == key:
                    return field["label"]
        return key

    decision_names = {
        d["id"]: d["name"] for d in _decision_tables(before.files) + _decision_tables(after.files)
    }
    return render_template(
        "procedures/diff.html",
        process_id=pid,
        title=_title(after),
        a=a,
        b=b,
        numbers=numbers,
        sides=sides,
        files=[
            {**f, "change_label": str(CHANGES.get(f["change"], f["change"]))}
            for f in changes["files"]
        ],
        elements=[
            {
                "file": e["file"],
                "element_id": e["element_id"],
                "name": (e.get("names") or {}).get(locale) or e["name"],
                "type": str(TYPES.get(e["type"], e["type"])),
                "change": e["change"],
                "change_label": str(CHANGES[e["change"]]),
                "on_diagram": e["file"] in (main_a, main_b),
                "properties": _properties_in_words(e["properties"]),
            }
            for e in changes["elements"]
        ],
        forms=[
            {
                "file": f["file"],
                "field": field_label(f["file"], f["field"]),
                "change": f["change"],
                "change_label": str(CHANGES[f["change"]]),
                "properties": _properties_in_words(f["properties"]),
            }
            for f in changes["forms"]
        ],
        decisions=[
            {
                "file": d["file"],
                "decision": decision_names.get(d["decision_id"], d["decision_id"]),
                "rule": d.get("number"),
                "change": d["change"],
                "change_label": str(CHANGES[d["change"]]),
                "properties": _properties_in_words(d["properties"]),
            }
            for d in changes["decisions"]
        ],
    )
