"""Drafts of procedure models in the browser: the list of drafts with the import of a `.bpmn`,
the editor page (bpmn-js modeler, Check, Try, Publish), the form and decision-table editors
for a draft's other files, and the JSON endpoints the editor's script calls.

Every route asks workflows/rights.py (`may_manage_models`; publishing `may_publish`) before it
looks at the draft, so an auditor or a prosecutor is refused the same way through every address.
The drafts themselves live in engine/drafts.py (one transaction per change); this module only
turns the engine's answers into words: refusals, problems with the element's drawn name, and
instants in Almaty local time. The JSON endpoints take the session cookie and the CSRF token
in the X-CSRFToken header (Flask-WTF's CSRFProtect reads it); no script is inline (the page's
data travels in `<script type="application/json" id="editor-config">`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from engine.calendar import ALMATY
from engine.drafts import (
    MAX_FILE_BYTES,
    DraftConflict,
    DraftProblems,
    DraftRefused,
)
from engine.errors import DataRejected, EngineError, ModelError, NotFound, ValidationFailed
from engine.safety.xmlparse import parse_xml
from workflows.catalogue import procedure_title

from .case_file import office_name
from .i18n import local_time, locale_code
from .ids import register_converters
from .refusals import abort_page, mark_denied, rights

drafts_ui = Blueprint("drafts", __name__)
drafts_ui.record(register_converters)  # web/ids.py: impossible ids are 404 before a query

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: the largest body of an import or a file save: a 2 MB model, escaped as JSON (web/app.py)
DRAFT_BODY_BYTES = 6 * 1024 * 1024
DRAFT_ENDPOINTS = frozenset({"drafts.import_draft", "drafts.files"})


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _is_json() -> bool:
    return request.path.endswith(("/files", "/check", "/try", "/publish"))


def _require_manager() -> None:
    """Methodologists and admins; everyone else is refused before anything is read."""
    refusal = rights().may_manage_models(current_user.user)
    if refusal is None:
        return
    if _is_json():
        mark_denied(refusal)
        abort(_json_error(403, refusal.code, _refusal_text(refusal.code)))
    abort_page(refusal)


def _refusal_text(code: str) -> str:
    if code == "no_model_role":
        return gettext("Only methodologists and administrators work on the procedures' models.")
    if code == "no_publish_role":
        return gettext("Only a methodologist publishes a version of a procedure.")
    return gettext("You do not have the right to do this.")


def _json_error(status: int, code: str, message: str, **extra: Any) -> Response:
    response = jsonify({"ok": False, "error": code, "message": message, **extra})
    response.status_code = status
    return response


def person(login: str | None) -> str:
    """A login as the person's name (the login itself for an unknown or system account)."""
    if not login:
        return ""
    try:
        return str(current_app.extensions["nadzor.users"].get(login).name)
    except Exception:  # NotFound, or a login no account has (e.g. "system")
        return login


def refused_text(exc: DraftRefused) -> str:
    """A draft refusal in the user's language."""
    p = {k: ("—" if v is None else v) for k, v in exc.params.items()}
    code = exc.code
    if code == "malformed_xml":
        if p.get("line") not in (None, "—"):
            return gettext(
                "%(name)s is not well-formed XML (line %(line)s): %(problem)s. Save the file "
                "again from the modeler and import it once more.",
                **p,
            )
        return gettext("%(name)s cannot be read as a model: %(problem)s.", **p)
    if code == "file_too_large":
        size = "{:,}".format(int(p["size"])).replace(",", " ")
        return gettext(
            "%(name)s has %(size)s bytes; a model file may have at most %(limit)s bytes. "
            "Split the procedure or remove embedded images.",
            name=p["name"],
            size=size,
            limit="2 000 000",
        )
    if code == "not_bpmn":
        return gettext("%(name)s is not a .bpmn file; import a BPMN diagram.", **p)
    if code == "not_utf8":
        return gettext("%(name)s is not UTF-8 text; save it as UTF-8 and import it again.", **p)
    if code == "no_process":
        return gettext("%(name)s holds no BPMN process; draw a process and import it again.", **p)
    if code == "bad_process_id":
        return gettext(
            "The process id “%(process_id)s” may hold only Latin letters, digits, “_”, “-” "
            "and “.”, and must start with a letter; change it in the modeler.",
            **p,
        )
    if code == "process_id_changed":
        return gettext("The main process must keep its id “%(process_id)s”; change it back.", **p)
    if code == "bad_file_name":
        return gettext("“%(name)s” is not a model file of this draft.", **p)
    if code == "malformed_json":
        return gettext("%(name)s is not a JSON object (line %(line)s).", **p)
    if code == "too_many_files":
        return gettext("A draft may hold at most %(limit)s files.", **p)
    if code == "draft_too_large":
        return gettext("The draft's files together are too large; remove some files.")
    if code == "note_required":
        return gettext("Write a change note: what changed and why.")
    return str(exc)


def conflict_text(exc: DraftConflict) -> str:
    return gettext(
        "The draft was saved by %(who)s at %(when)s meanwhile; reload the page to see their "
        "changes (yours are not saved).",
        who=person(exc.by),
        when=local_time(exc.at),
    )


SPIFF_PROPERTY = "{http://spiffworkflow.org/bpmn/schema/1.0/core}property"


def _element_names(files: dict[str, str], locale: str = "ru") -> dict[str, str]:
    """Element id -> its name in the reader's language (the `name_kk` / `name_en` property a
    methodologist gave it, else the drawn name), over the draft's BPMN files (for problems,
    timers, paths). A lane is also found by its name, which is the key the engine reports."""
    names: dict[str, str] = {}
    for key, text in files.items():
        if not key.endswith(".bpmn"):
            continue
        try:
            tree = parse_xml(text.encode("utf-8"), key)
        except ModelError:
            continue
        for element in tree.iter():
            if not isinstance(element.tag, str) or not element.get("id"):
                continue
            props = {
                p.get("name"): p.get("value")
                for p in element.iter(SPIFF_PROPERTY)
                if p.getparent() is not None
                and p.getparent().getparent() is not None
                and p.getparent().getparent().getparent() is element
            }
            name = props.get(f"name_{locale}") or element.get("name")
            if not name:
                continue
            names.setdefault(element.get("id"), name)
            if element.tag.endswith("}lane") and element.get("name"):
                names.setdefault(f"lane:{element.get('name')}", name)
    return names


def problem_words(problem: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A problem of Check with a sentence naming where it is."""
    element_id = problem.get("element_id")
    name = problem.get("element_name") or (names.get(element_id) if element_id else None)
    where = []
    if name:
        where.append(f"«{name}»")
    if element_id:
        where.append(f"({element_id})")
    if problem.get("file"):
        where.append(
            gettext("%(file)s, line %(line)s", file=problem["file"], line=problem["line"])
            if problem.get("line")
            else str(problem["file"])
        )
    text = " ".join(where)
    return {
        **problem,
        "element_name": name,
        "text": f"{text}: {problem.get('message')}" if text else str(problem.get("message")),
    }


def _draft_or_404(draft_id: int) -> dict[str, Any]:
    try:
        return _engine().drafts.get(draft_id)
    except NotFound:
        abort(404)


def _definition_id(process_id: str, version: int) -> int:
    for row in _engine().repository.list():
        if row["process_id"] == process_id and row["version"] == version:
            return int(row["id"])
    abort(404)


def _version_url(process_id: str, version: int) -> str:
    try:
        return url_for("procedures.version", pid=process_id, version=version)
    except Exception:  # the procedures pages are not registered in this app
        return f"/procedures/{process_id}/v{version}"


# -- pages ------------------------------------------------------------------------------------


@drafts_ui.post("/procedures/<procedure:pid>/v<int:version>/draft")
@login_required
def create_from_version(pid: str, version: int) -> Any:
    """Open a published version as a new draft, and go to its editor."""
    _require_manager()
    definition_id = _definition_id(pid, version)
    draft_id = _engine().drafts.create_from_version(
        definition_id, actor=current_user.user.login, now=_engine().clock.now()
    )
    return redirect(url_for("drafts.editor", draft_id=draft_id))


@drafts_ui.get("/procedures/drafts/")
@login_required
def list_drafts() -> Any:
    _require_manager()
    return render_template("drafts/list.html", drafts=_rows(), limit=MAX_FILE_BYTES)


def _rows() -> list[dict[str, Any]]:
    return [
        {
            **row,
            "title": procedure_title(row["process_id"], locale_code(), row["process_id"]),
            "created_by_name": person(row["created_by"]),
            "updated_by_name": person(row["updated_by"]),
            "updated_label": local_time(row["updated_at"]),
            "created_label": local_time(row["created_at"]),
        }
        for row in _engine().drafts.list()
    ]


@drafts_ui.post("/procedures/drafts/import")
@login_required
def import_draft() -> Any:
    """A `.bpmn` drawn in another tool becomes a draft; a refusal says why, on the list."""
    _require_manager()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(gettext("Choose a .bpmn file to import."), "error")
        return redirect(url_for("drafts.list_drafts")), 303
    content = upload.stream.read(MAX_FILE_BYTES + 1)
    try:
        draft_id = _engine().drafts.create_from_upload(
            upload.filename, content, actor=current_user.user.login, now=_engine().clock.now()
        )
    except DraftRefused as exc:
        return (
            render_template(
                "drafts/list.html",
                drafts=_rows(),
                limit=MAX_FILE_BYTES,
                import_error=refused_text(exc),
            ),
            400,
        )
    flash(gettext("The file was imported as a draft."), "ok")
    return redirect(url_for("drafts.editor", draft_id=draft_id)), 303


@drafts_ui.post("/procedures/drafts/<id:draft_id>/delete")
@login_required
def delete_draft(draft_id: int) -> Any:
    _require_manager()
    try:
        _engine().drafts.delete(draft_id)
    except NotFound:
        abort(404)
    flash(gettext("The draft was deleted."), "ok")
    return redirect(url_for("drafts.list_drafts")), 303


def _start_form(draft: dict[str, Any]) -> dict[str, Any] | None:
    """The start form of the draft's main process (the file its start event names)."""
    main, files = draft["main"], draft["files"]
    try:
        tree = parse_xml(files[main].encode("utf-8"), main)
    except (ModelError, KeyError):
        return None
    folder = main.rsplit("/", 1)[0]
    for start in tree.iter(f"{{{BPMN_NS}}}startEvent"):
        for prop in start.iter():
            if (
                isinstance(prop.tag, str)
                and prop.tag.endswith("}property")
                and prop.get("name") in ("formJsonSchemaFilename", "form")
            ):
                text = files.get(f"{folder}/{prop.get('value')}")
                if text:
                    try:
                        value = json.loads(text)
                    except ValueError:
                        return None
                    return value if isinstance(value, dict) else None
    return None


def sample_data(form: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """Start data to try with: each field of the start form with a value of its kind."""
    out: dict[str, Any] = {}
    local = now.astimezone(ALMATY)
    for component in (form or {}).get("components", []):
        key, kind = component.get("key"), component.get("type")
        if not key:
            continue
        if kind == "number":
            out[key] = 1
        elif kind == "checkbox":
            out[key] = False
        elif kind in ("select", "radio") and component.get("values"):
            out[key] = component["values"][0].get("value")
        elif kind == "datetime":
            subtype = component.get("subtype")
            if subtype == "date":
                out[key] = local.date().isoformat()
            else:
                out[key] = local.replace(second=0, microsecond=0).isoformat()
        elif kind in ("textfield", "textarea"):
            out[key] = ""
    return out


def _words() -> dict[str, str]:
    """What the editor's script says, in the user's language."""
    return {
        "saved": gettext("Saved"),
        "saving": gettext("Saving…"),
        "unsaved": gettext("Unsaved changes"),
        "save_failed": gettext("Not saved"),
        "checks": gettext("The draft checks: no problems found."),
        "problems": gettext("Problems found"),
        "checking": gettext("Checking…"),
        "trying": gettext("Running…"),
        "publishing": gettext("Publishing…"),
        "published": gettext("Published as version %(version)s.", version="{version}"),
        "unchanged": gettext(
            "The content equals the current version %(version)s; nothing was published.",
            version="{version}",
        ),
        "open_version": gettext("Open the version"),
        "data_not_json": gettext('The start data must be a JSON object, e.g. {"key": "value"}.'),
        "tasks": gettext("Tasks"),
        "timers": gettext("Timers"),
        "path": gettext("Path"),
        "status": gettext("Status"),
        "office": gettext("Office"),
        "lane": gettext("Lane"),
        "due": gettext("Due (Almaty time)"),
        "none": gettext("none"),
        "failed": gettext("The request failed; try again."),
        "lint": gettext("Drawing hints"),
        "load_failed": gettext("The diagram could not be opened"),
        "signed_out": gettext(
            "You were signed out; sign in again in another tab, then save here once more."
        ),
        "status_waiting": gettext("waits for tasks, timers or messages"),
        "status_completed": gettext("completed"),
        "status_stopped_at_service": gettext(
            "stopped at a service task (outside systems are not called in a trial)"
        ),
    }


@drafts_ui.get("/procedures/drafts/<id:draft_id>")
@login_required
def editor(draft_id: int) -> Any:
    _require_manager()
    draft = _draft_or_404(draft_id)
    now = _engine().clock.now()
    others = [
        {
            "name": name,
            "kind": "form" if name.endswith(".form.json") else "dmn",
            "url": url_for(
                "drafts.form_editor" if name.endswith(".form.json") else "drafts.dmn_editor",
                draft_id=draft_id,
                name=name,
            ),
        }
        for name in sorted(draft["files"])
        if name.endswith((".form.json", ".dmn"))
    ]
    bpmn_others = [n for n in sorted(draft["files"]) if n.endswith(".bpmn") and n != draft["main"]]
    may_publish = rights().may_publish(current_user.user) is None
    folder = draft["main"].rsplit("/", 1)[0] + "/"
    locale = locale_code()
    config = {
        "draft_id": draft_id,
        "main": draft["main"],
        "locale": locale,
        # what the properties panel offers: the forms of the draft's own folder, the procedures
        "form_files": sorted(
            n[len(folder) :]
            for n in draft["files"]
            if n.startswith(folder) and n.endswith(".form.json")
        ),
        "procedures": [
            {"id": pid, "name": procedure_title(pid, locale, pid)}
            for pid in sorted({d["process_id"] for d in _engine().repository.list()})
        ],
        "revision": draft["revision"],
        "csrf": generate_csrf(),
        "may_publish": may_publish,
        "urls": {
            "files": url_for("drafts.files", draft_id=draft_id),
            "check": url_for("drafts.check", draft_id=draft_id),
            "try": url_for("drafts.try_draft", draft_id=draft_id),
            "publish": url_for("drafts.publish", draft_id=draft_id),
        },
        "words": _words(),
    }
    return render_template(
        "drafts/editor.html",
        draft=draft,
        title=procedure_title(draft["process_id"], locale, draft["process_id"]),
        config=config,
        others=others,
        bpmn_others=bpmn_others,
        may_publish=may_publish,
        updated_by=person(draft["updated_by"]),
        updated_label=local_time(draft["updated_at"]),
        sample=json.dumps(sample_data(_start_form(draft), now), ensure_ascii=False, indent=1),
        now_local=now.astimezone(ALMATY).strftime("%Y-%m-%dT%H:%M"),
    )


def _other_file_page(draft_id: int, name: str, kind: str) -> Any:
    _require_manager()
    draft = _draft_or_404(draft_id)
    wanted = ".form.json" if kind == "form" else ".dmn"
    if name not in draft["files"] or not name.endswith(wanted):
        abort(404)
    config = {
        "draft_id": draft_id,
        "name": name,
        "kind": kind,
        "revision": draft["revision"],
        "csrf": generate_csrf(),
        "urls": {
            "files": url_for("drafts.files", draft_id=draft_id),
            "editor": url_for("drafts.editor", draft_id=draft_id),
        },
        "words": _words(),
    }
    return render_template(
        "drafts/file_editor.html", draft=draft, name=name, kind=kind, config=config
    )


@drafts_ui.get("/procedures/drafts/<id:draft_id>/form/<path:name>")
@login_required
def form_editor(draft_id: int, name: str) -> Any:
    return _other_file_page(draft_id, name, "form")


@drafts_ui.get("/procedures/drafts/<id:draft_id>/dmn/<path:name>")
@login_required
def dmn_editor(draft_id: int, name: str) -> Any:
    return _other_file_page(draft_id, name, "dmn")


# -- JSON -------------------------------------------------------------------------------------


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(_json_error(400, "bad_request", gettext("Send a JSON object.")))
    return body


@drafts_ui.route("/procedures/drafts/<id:draft_id>/files", methods=["GET", "PUT"])
@login_required
def files(draft_id: int) -> Any:
    """GET: the draft's files and revision. PUT {name, content, revision}: save one file."""
    _require_manager()
    if request.method == "GET":
        draft = _draft_or_404(draft_id)
        return jsonify(
            {
                "ok": True,
                "main": draft["main"],
                "revision": draft["revision"],
                "files": draft["files"],
                "updated_by": person(draft["updated_by"]),
                "updated_at": local_time(draft["updated_at"]),
            }
        )
    body = _json_body()
    name, content, revision = body.get("name"), body.get("content"), body.get("revision")
    if not isinstance(name, str) or not isinstance(content, str) or not isinstance(revision, int):
        return _json_error(
            400, "bad_request", gettext("Send the file's name, its content and the revision.")
        )
    try:
        new_revision = _engine().drafts.save_file(
            draft_id,
            name,
            content,
            revision=revision,
            actor=current_user.user.login,
            now=_engine().clock.now(),
        )
    except NotFound:
        return _json_error(404, "not_found", gettext("There is no such draft."))
    except DraftConflict as exc:
        return _json_error(409, "conflict", conflict_text(exc), revision=exc.revision)
    except DraftRefused as exc:
        return _json_error(400, exc.code, refused_text(exc))
    return jsonify(
        {"ok": True, "revision": new_revision, "saved_at": local_time(_engine().clock.now())}
    )


@drafts_ui.post("/procedures/drafts/<id:draft_id>/check")
@login_required
def check(draft_id: int) -> Any:
    """The engine's own validation; each problem with the element's id and drawn name."""
    _require_manager()
    draft = _draft_or_404(draft_id)
    problems = _engine().drafts.check(draft_id)
    names = _element_names(draft["files"])
    return jsonify({"ok": not problems, "problems": [problem_words(p, names) for p in problems]})


def _parse_local(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=ALMATY) if parsed.tzinfo is None else parsed


@drafts_ui.post("/procedures/drafts/<id:draft_id>/try")
@login_required
def try_draft(draft_id: int) -> Any:
    """Run the draft in memory at a chosen instant (Almaty local time) with sample start data:
    tasks with the offices their lanes resolve to, timers with due instants, the path."""
    _require_manager()
    draft = _draft_or_404(draft_id)
    body = _json_body()
    now = _parse_local(body.get("now")) if body.get("now") else _engine().clock.now()
    if now is None:
        return _json_error(
            400,
            "bad_now",
            gettext("The clock instant must be a date and time, e.g. 2026-11-24 10:00."),
        )
    data = body.get("data", {})
    if not isinstance(data, dict):
        return _json_error(400, "data_not_json", _words()["data_not_json"])
    try:
        result = _engine().drafts.try_run(draft_id, now=now, data=data)
    except (DataRejected, ValidationFailed) as exc:
        return jsonify({"ok": False, "error": str(exc), "message": str(exc)})
    except EngineError as exc:
        return jsonify({"ok": False, "error": str(exc), "message": str(exc)})
    return jsonify(try_words(result, draft["files"]))


def try_words(result: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
    """The trial's answer with words beside the engine's data: office names, element names,
    due instants in Almaty local time."""
    names = _element_names(files)
    if not result.get("ok"):
        element_id = result.get("element_id")
        return {
            **result,
            "element_name": result.get("element_name") or names.get(element_id or ""),
            "message": problem_words(
                {
                    "message": result.get("error"),
                    "file": result.get("file"),
                    "line": result.get("line"),
                    "element_id": element_id,
                    "element_name": result.get("element_name"),
                },
                names,
            )["text"],
        }
    directory = current_app.extensions["nadzor.directory"]
    locale = locale_code()
    names = _element_names(files, locale)
    tasks = [
        {
            **t,
            # the engine reports the queue's (Russian) title and the lane's key: words instead
            "title": names.get(t.get("name", "")) or t.get("title"),
            "lane": names.get(f"lane:{t.get('lane')}") or t.get("lane"),
            "office_name": office_name(directory, t.get("office_code"), locale)
            if t.get("office_code")
            else "",
        }
        for t in result.get("tasks", [])
    ]
    timers = []
    for t in result.get("timers", []):
        due = t.get("due_at")
        try:
            due_label = local_time(datetime.fromisoformat(due)) if due else ""
        except (TypeError, ValueError):
            due_label = str(due)
        timers.append({**t, "name": names.get(t.get("element", ""), ""), "due_label": due_label})
    path = [
        {**p, "name": p.get("name") or names.get(p.get("element", ""), "")}
        for p in result.get("path", [])
    ]
    return {**result, "tasks": tasks, "timers": timers, "path": path}


@drafts_ui.post("/procedures/drafts/<id:draft_id>/publish")
@login_required
def publish(draft_id: int) -> Any:
    """Publish a draft that checks as the procedure's next version (methodologists only)."""
    _require_manager()
    refusal = rights().may_publish(current_user.user)
    if refusal is not None:
        mark_denied(refusal)
        return _json_error(403, refusal.code, _refusal_text(refusal.code))
    draft = _draft_or_404(draft_id)
    body = _json_body()
    revision = body.get("revision")
    try:
        loaded, created = _engine().drafts.publish(
            draft_id,
            actor=current_user.user.login,
            note=str(body.get("note") or "")[:2000],
            legal_basis=str(body.get("legal_basis") or "")[:2000],
            now=_engine().clock.now(),
            revision=revision if isinstance(revision, int) else None,
        )
    except DraftRefused as exc:
        return _json_error(400, exc.code, refused_text(exc))
    except DraftConflict as exc:
        return _json_error(409, "conflict", conflict_text(exc), revision=exc.revision)
    except (DraftProblems, ModelError) as exc:
        names = _element_names(draft["files"])
        problems = (
            exc.problems
            if isinstance(exc, DraftProblems)
            else [
                {
                    "message": exc.message,
                    "file": exc.filename,
                    "line": exc.line,
                    "element_id": exc.element_id,
                    "element_name": exc.element_name,
                }
            ]
        )
        return _json_error(
            422,
            "problems",
            gettext("The draft does not check; nothing was published. Mend the problems first."),
            problems=[problem_words(p, names) for p in problems],
        )
    return jsonify(
        {
            "ok": True,
            "created": created,
            "process_id": loaded.process_id,
            "version": loaded.version,
            "url": _version_url(loaded.process_id, loaded.version),
        }
    )
