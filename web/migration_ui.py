"""Moving running cases between versions of a procedure: `/procedures/<pid>/migrate`.

The methodologist chooses the version the cases run on (N) and the one they move to (M); the dry
run (engine/case_migration.py `plan`) lists case by case whether it can move and why not, and its
deadlines before and after in Almaty time; the checked cases move with "Migrate selected"
(`migrate`, one transaction per case) and the result is listed the same way. `?case=ID`
preselects a case (the failed-cases view links here). Who may is the domain's rule
(`Rights.may_operate`), the same rule the CLI asks; this module only puts words on what the
engine answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from engine import case_migration
from engine.errors import NotFound
from workflows.catalogue import procedure_title
from workflows.rights import Refusal

from .i18n import local_time, locale_code
from .refusals import mark_denied, rights

migration_ui = Blueprint("migration", __name__)

#: what a process id may look like (anything else is no procedure: 404 before any look-up)
PROCESS_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")

#: at most this many cases are planned on one page (and moved in one action)
MAX_CASES = 300

REASONS: dict[str, Any] = {
    "not_running": lazy_gettext("the case is %(status)s: only running cases move"),
    "other_procedure": lazy_gettext("the case belongs to another procedure"),
    "same_version": lazy_gettext("the case is already on version %(version)s"),
    "open_task_missing": lazy_gettext(
        "its open step «%(task)s» does not exist in version %(version)s"
    ),
    "passed_step_missing": lazy_gettext(
        "the step «%(task)s» it has passed does not exist in version %(version)s "
        "(its history would lose it)"
    ),
    "kind_changed": lazy_gettext(
        "its open step «%(task)s» is a %(before)s here but a %(after)s in version %(version)s"
    ),
    "event_added": lazy_gettext(
        "version %(version)s adds the event «%(event)s» to the open step «%(task)s», which "
        "cannot be attached to a step already open"
    ),
    "called_missing": lazy_gettext(
        "it is inside the called procedure «%(called)s», which version %(version)s does not include"
    ),
    "called_changed": lazy_gettext(
        "it is inside the called procedure «%(called)s», which the step «%(task)s» of version "
        "%(version)s no longer calls"
    ),
    "cycle_changed": lazy_gettext(
        "the repetition of its timer «%(task)s» changed; a repeating schedule cannot be carried "
        "over"
    ),
    "deadline_error": lazy_gettext(
        "the new deadline of «%(task)s» cannot be computed from this case's data: %(error)s"
    ),
    "position_error": lazy_gettext(
        "its position cannot be carried over to version %(version)s (the steps around its open "
        "steps are arranged differently there)"
    ),
    "changed_meanwhile": lazy_gettext(
        "the case changed since the dry run (a step was taken); run the dry run again"
    ),
    "failed": lazy_gettext("it could not be moved: %(error)s"),
    "missing": lazy_gettext("case %(case)s does not exist"),
    "kept": lazy_gettext("unchanged: the deadline stays"),
    "computed_at_start": lazy_gettext(
        "the deadline stays: it was computed when the case reached «%(step)s», which version "
        "%(version)s changes but which does not run again for this case"
    ),
    "recomputed_from_data": lazy_gettext("recomputed from the case's own data"),
    "recomputed_from_opened": lazy_gettext("recomputed from when «%(task)s» opened (%(instant)s)"),
    "recomputed_from_waiting": lazy_gettext(
        "recomputed from when the timer started waiting (%(instant)s)"
    ),
    "follows_timer": lazy_gettext("follows its timer"),
}

KINDS: dict[str, Any] = {
    "user": lazy_gettext("user task"),
    "manual": lazy_gettext("manual task"),
    "script": lazy_gettext("script task"),
    "service": lazy_gettext("service task"),
    "rule": lazy_gettext("decision task"),
    "call": lazy_gettext("called procedure"),
    "subprocess": lazy_gettext("subprocess"),
    "receive": lazy_gettext("receive task"),
    "timer_boundary": lazy_gettext("timer on a step"),
    "message_boundary": lazy_gettext("message on a step"),
    "event_boundary": lazy_gettext("event on a step"),
    "timer_catch": lazy_gettext("timer event"),
    "message_catch": lazy_gettext("message event"),
    "signal_catch": lazy_gettext("signal event"),
    "event_catch": lazy_gettext("catch event"),
    "gateway": lazy_gettext("gateway"),
}

STATUSES: dict[str, Any] = {
    "completed": lazy_gettext("completed"),
    "cancelled": lazy_gettext("cancelled"),
    "running": lazy_gettext("running"),
}


def _name(names: dict[str, str] | Any) -> str:
    """A step's name in the user's language (the model's Russian name when it has no other)."""
    if not isinstance(names, dict):
        return str(names)
    return names.get(locale_code()) or names.get("ru") or names.get("name") or ""


def _param(key: str, value: Any) -> Any:
    if key == "error" and value == case_migration.UNEXPECTED:
        return gettext("an unexpected error, written to the server's log")
    if isinstance(value, dict):
        return _name(value)
    if key in ("before", "after"):
        return str(KINDS.get(value, gettext("step")))
    if key == "status":
        return str(STATUSES.get(value, value))
    if key == "instant" and isinstance(value, str | datetime):
        return local_time(datetime.fromisoformat(value) if isinstance(value, str) else value)
    return value


def sentence(code: dict[str, Any] | None) -> str:
    """A reason or a note in the user's language, from its code and parameters."""
    if not code:
        return ""
    template = REASONS.get(code.get("code", ""))
    params = {k: _param(k, v) for k, v in code.items() if k != "code"}
    if template is None:
        return ""
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return str(template)


def _refusal_text(refusal: Refusal) -> str:
    if refusal.code == "no_operate_role":
        return gettext("Only methodologists and administrators move running cases.")
    return refusal.message


def _check() -> Any:
    """The rule first, before any id is looked up; the page's answer when refused."""
    refusal = rights().may_operate(current_user.user)
    if refusal is None:
        return None
    mark_denied(refusal)
    return (
        render_template("migration/denied.html", message=_refusal_text(refusal)),
        refusal.status,
    )


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**62 else None


def _revision(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 <= number < 2**31 else None


def _rows(results: list[dict[str, Any]], selected: set[int] | None) -> list[dict[str, Any]]:
    """The engine's answers with words for the page: names, sentences, Almaty times."""
    rows = []
    for r in results:
        reasons = [sentence(c) for c in r.get("reason_codes") or []]
        deadlines = [
            {
                "name": _name(d.get("names") or d.get("name")),
                "before": local_time(datetime.fromisoformat(d["before"])) if d["before"] else "—",
                "after": local_time(datetime.fromisoformat(d["after"])) if d["after"] else "—",
                "changed": d["changed"],
                "past": bool(d.get("past")),
                "note": sentence(d.get("note_code")),
            }
            for d in r["deadlines"]
        ]
        rows.append(
            {
                "id": r["instance_id"],
                "business_key": r.get("business_key") or "",
                "revision": r.get("revision"),
                "tasks": [_name(t) for t in r.get("tasks") or []],
                "can_move": r["can_move"],
                "moved": r.get("moved"),
                "reasons": reasons,
                "deadlines": deadlines,
                "checked": r["can_move"] and (selected is None or r["instance_id"] in selected),
            }
        )
    return rows


def _versions(engine: Any, pid: str) -> list[dict[str, Any]]:
    if not PROCESS_ID.fullmatch(pid):
        abort(404)
    try:
        return engine.repository.versions(pid)
    except NotFound:
        abort(404)


def _defaults(
    versions: list[dict[str, Any]], preselected: list[int], engine: Any
) -> tuple[int, int]:
    latest = versions[0]["version"]
    source = None
    if preselected:
        try:
            case = engine.runtime.get(preselected[0])
            source = case.version
        except NotFound:
            source = None
    if source is None:
        older = [v["version"] for v in versions if v["running_cases"] and v["version"] != latest]
        source = older[0] if older else (versions[1]["version"] if len(versions) > 1 else latest)
    return source, latest


def _back_url(pid: str) -> str | None:
    """The procedure's own page when the Procedures area is there (it is another blueprint)."""
    for endpoint, args in (
        ("procedures.versions", {"process_id": pid}),
        ("procedures.procedure_list", {}),
    ):
        try:
            return url_for(endpoint, **args)
        except BuildError:
            continue
    return None


def _render(pid: str, versions: list[dict[str, Any]], **context: Any) -> Any:
    title = procedure_title(pid, locale_code(), versions[0]["title"])
    return render_template(
        "migration/page.html",
        pid=pid,
        title=title,
        back_url=_back_url(pid),
        versions=[
            {
                "version": v["version"],
                "label": gettext(
                    "version %(n)s · %(when)s · running cases: %(cases)s",
                    n=v["version"],
                    when=local_time(v["published_at"]),
                    cases=v["running_cases"],
                ),
            }
            for v in versions
        ],
        **context,
    )


@migration_ui.get("/procedures/<procedure:process_id>/migrate")
@login_required
def page(process_id: str) -> Any:
    refused = _check()
    if refused is not None:
        return refused
    engine = current_app.extensions["nadzor.engine"]
    versions = _versions(engine, process_id)
    preselected = [i for i in (_int(v) for v in request.args.getlist("case")[:MAX_CASES]) if i]
    source, target = _defaults(versions, preselected, engine)
    source = _int(request.args.get("from")) or source
    target = _int(request.args.get("to")) or target
    known = {v["version"]: v["id"] for v in versions}
    error, rows, more = None, [], 0
    if source not in known or target not in known:
        error = gettext("Choose versions the procedure has.")
    elif source == target and not ("from" in request.args or "to" in request.args):
        # arrived from a link (e.g. a failed case on the newest version): nothing to move to yet
        error = gettext(
            "The cases already run on the newest version %(v)s: publish a corrected version "
            "first, then move them to it.",
            v=target,
        )
    elif source == target:
        error = gettext("Choose two different versions: the cases move from one to the other.")
    else:
        ids = case_migration.cases_of(engine, process_id, source)
        for i in preselected:  # the preselected case comes first, whatever its position
            if i in ids:
                ids.remove(i)
                ids.insert(0, i)
        more = max(0, len(ids) - MAX_CASES)
        plan = case_migration.plan(engine, ids[:MAX_CASES], known[target])
        rows = _rows(plan, set(preselected) or None)
    return _render(
        process_id,
        versions,
        source=source,
        target=target,
        rows=rows,
        more=more,
        error=error,
        result=False,
    ), (400 if error and ("from" in request.args or "to" in request.args) else 200)


@migration_ui.post("/procedures/<procedure:process_id>/migrate")
@login_required
def migrate(process_id: str) -> Any:
    refused = _check()
    if refused is not None:
        return refused
    engine = current_app.extensions["nadzor.engine"]
    versions = _versions(engine, process_id)
    known = {v["version"]: v["id"] for v in versions}
    source, target = _int(request.form.get("from")), _int(request.form.get("to"))
    ids = list(dict.fromkeys(i for i in (_int(v) for v in request.form.getlist("case")) if i))
    error = None
    if source not in known or target not in known or source == target:
        error = gettext("Choose two different versions: the cases move from one to the other.")
    elif not ids:
        error = gettext("No case was selected.")
    elif len(ids) > MAX_CASES:
        error = gettext("At most %(n)s cases move in one action.", n=MAX_CASES)
    if error:
        return _render(
            process_id,
            versions,
            source=source,
            target=target,
            rows=[],
            more=0,
            error=error,
            result=False,
        ), 400
    on_source = set(case_migration.cases_of(engine, process_id, source))
    # the revision each case had in the dry run: a case that took a step since stays put
    revisions = {i: r for i in ids if (r := _revision(request.form.get(f"rev_{i}"))) is not None}
    wanted = [i for i in ids if i in on_source]
    results = case_migration.migrate(
        engine,
        wanted,
        known[target],
        actor=current_user.user.login,
        now=engine.clock.now(),
        revisions=revisions,
    )
    skipped = [i for i in ids if i not in on_source]
    versions = _versions(engine, process_id)  # the running cases counted anew
    rows = _rows(results, None)
    moved = sum(1 for r in results if r.get("moved"))
    return _render(
        process_id,
        versions,
        source=source,
        target=target,
        rows=rows,
        more=0,
        error=None,
        result=True,
        moved=moved,
        skipped=skipped,
    )
