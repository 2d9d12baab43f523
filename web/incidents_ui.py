"""Failed cases (`/operations/incidents`): the incidents of running cases with their case, task,
element, error, attempts and time; retry one, cancel its case with a reason, or go to the
migration of the case to a fixed version. The REST API's `GET /api/v1/incidents` answers the
same list.

Who may: methodologists and admins (workflows/rights.py `may_operate`), the rule `nadzor
incidents` and `nadzor cases cancel` ask too. The work itself is the engine's
(engine/management.py `retry_incident`, `cancel_case`): each writes its event to the case's
chain in the transaction that does it. The navigation shows how many need attention (one COUNT
on the status index, only for the users who may act on them).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from engine.errors import Busy, DataRejected, EngineError, InvalidOperation, NotFound
from engine.management import INCIDENT_STATUSES, MAX_AUTOMATIC_ATTEMPTS, MAX_REASON
from workflows.catalogue import procedure_title
from workflows.rights import Refusal

from .api import _iso, _refuse, _user, api, authenticated
from .case_file import People
from .i18n import local_time, locale_code
from .ids import PROCEDURE_ID, register_converters
from .refusals import mark_denied, rights

operations = Blueprint("operations", __name__, url_prefix="/operations")
operations.record(register_converters)

#: at most this many incidents are listed (the counts say how many there are)
MAX_LISTED = 500

KIND_WORDS: dict[str, Any] = {
    "timer": lazy_gettext("a step after a timer failed"),
    "service": lazy_gettext("an outside system failed"),
    "script": lazy_gettext("a step failed"),
    "schedule": lazy_gettext("a scheduled start failed"),
}
STATUS_WORDS: dict[str, Any] = {
    "open": lazy_gettext("retried automatically"),
    "needs_attention": lazy_gettext("needs attention"),
    "resolved": lazy_gettext("resolved"),
}
RESOLUTION_WORDS: dict[str, Any] = {
    "fired": lazy_gettext("the step ran at its next attempt"),
    "answered": lazy_gettext("the outside system answered"),
    "retried": lazy_gettext("retried by hand"),
    "cancelled": lazy_gettext("the case was cancelled"),
}


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def refusal_sentence(refusal: Refusal) -> str:
    """The page's words for the rule's refusal (no_operate_role)."""
    if refusal.code == "no_operate_role":
        return gettext(
            "Only methodologists and administrators retry, migrate or cancel failed cases."
        )
    return refusal.message


def _denied(refusal: Refusal) -> Any:
    """403 with the rule's sentence in the user's language; recorded as a denial."""
    mark_denied(refusal)
    html = render_template(
        "errors/error.html",
        status=403,
        title=gettext("Access denied"),
        message=refusal_sentence(refusal),
    )
    return Response(html, status=403, mimetype="text/html")


def _operator_refusal() -> Refusal | None:
    return rights().may_operate(current_user.user)


@operations.app_context_processor
def _navigation() -> dict[str, Any]:
    """`may_operate()` and `failed_cases_count()` for the navigation: callables, so that the
    count is only asked when the link is drawn (for those who may act on failed cases)."""

    def may_operate() -> bool:
        return bool(
            current_user.is_authenticated and rights().may_operate(current_user.user) is None
        )

    def failed_cases_count() -> int:
        try:
            return int(_engine().management.incident_counts()["needs_attention"])
        except Exception:  # the navigation never breaks a page
            current_app.logger.exception("counting the incidents failed")
            return 0

    return {"may_operate": may_operate, "failed_cases_count": failed_cases_count}


def _filters() -> tuple[str, str | None]:
    """The status filter (`active`: open and needing attention; `all`; or one status) and the
    procedure filter, both checked against what exists."""
    status = request.args.get("status", "active")
    if status not in ("active", "all", *INCIDENT_STATUSES):
        status = "active"
    procedure = request.args.get("procedure") or None
    if procedure is not None and not PROCEDURE_ID.fullmatch(procedure):
        procedure = None
    return status, procedure


def _query(status: str, procedure: str | None) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"process_id": procedure, "newest_first": True, "limit": MAX_LISTED}
    if status == "all":
        kwargs["open_only"] = False
    elif status != "active":
        kwargs["status"] = status
    return _engine().management.incidents(**kwargs)


def _row(
    r: dict[str, Any], may_read_cases: bool, locale: str, titles: dict[str, str], people: Any
) -> dict[str, Any]:
    """One incident in words for the table (`titles`: the procedures' own names, for those
    the catalogue does not know)."""
    element = r["element_name"] or r["element_id"] or r["task_name"] or ""
    return {
        "id": r["id"],
        "instance_id": r["instance_id"],
        "case_label": r["business_key"] or (f"№ {r['instance_id']}" if r["instance_id"] else ""),
        "case_link": url_for("cases.case_page", instance_id=r["instance_id"])
        if may_read_cases and r["instance_id"]
        else None,
        "case_running": r["case_status"] == "running",
        # a case's step runs again while the case runs; a calendar start has no case yet
        "retryable": r["status"] != "resolved"
        and (r["case_status"] == "running" or (r["kind"] == "schedule" and not r["instance_id"])),
        "procedure": procedure_title(r["process_id"], locale, titles.get(r["process_id"]))
        if r["process_id"]
        else "—",
        "process_id": r["process_id"],
        "version": r["version"],
        "element": element,
        "element_id": r["element_id"] if r["element_id"] and r["element_id"] != element else "",
        "kind": str(KIND_WORDS.get(r["kind"], r["kind"])),
        "error": r["error"],
        "attempts": r["attempts"],
        "first": local_time(r["created_at"]),
        "last": local_time(r["last_attempt_at"] or r["created_at"]),
        "status": r["status"],
        "status_words": str(STATUS_WORDS.get(r["status"], r["status"])),
        "resolved": local_time(r["resolved_at"]) if r["resolved_at"] else "",
        "resolution": str(RESOLUTION_WORDS.get(r["resolution"] or "", r["resolution"] or "")),
        "resolved_by": people.name(r["resolved_by"]) if r["resolved_by"] else "",
        "migrate": f"/procedures/{r['process_id']}/migrate?case={r['instance_id']}"
        if r["instance_id"] and r["process_id"]
        else None,
    }


@operations.get("/incidents")
@login_required
def incidents() -> Any:
    refusal = _operator_refusal()
    if refusal is not None:
        return _denied(refusal)
    status, procedure = _filters()
    engine = _engine()
    locale = locale_code()
    may_read_cases = rights().may_read_cases(current_user.user) is None
    titles = {r["process_id"]: r["title"] for r in engine.repository.list() if r.get("title")}
    people = People(
        current_app.extensions["nadzor.users"], current_app.extensions["nadzor.directory"], locale
    )
    rows = [_row(r, may_read_cases, locale, titles, people) for r in _query(status, procedure)]
    procedures = sorted(titles)
    return render_template(
        "operations/incidents.html",
        rows=rows,
        counts=engine.management.incident_counts(),
        status=status,
        procedure=procedure,
        procedures=[(p, procedure_title(p, locale, titles.get(p))) for p in procedures],
        statuses=[("active", gettext("open and needing attention"))]
        + [(s, str(STATUS_WORDS[s])) for s in INCIDENT_STATUSES]
        + [("all", gettext("all"))],
        max_attempts=MAX_AUTOMATIC_ATTEMPTS,
        max_reason=MAX_REASON,
        max_listed=MAX_LISTED,
    )


def _back() -> Any:
    """Back to the list with the filters it was sent from."""
    status, procedure = _filters_from_form()
    args = {k: v for k, v in (("status", status), ("procedure", procedure)) if v}
    return redirect(url_for("operations.incidents", **args))


def _filters_from_form() -> tuple[str | None, str | None]:
    status = request.form.get("status")
    procedure = request.form.get("procedure")
    if status not in ("active", "all", *INCIDENT_STATUSES):
        status = None
    if procedure and not PROCEDURE_ID.fullmatch(procedure):
        procedure = None
    return status, procedure or None


def _engine_words(exc: EngineError) -> str:
    """An engine refusal in the user's language where the page knows the case."""
    if isinstance(exc, NotFound):
        return gettext("There is no such incident or case.")
    if isinstance(exc, Busy):
        return gettext(
            "Another action was being saved and this one waited too long; nothing was saved. "
            "Try again in a few seconds."
        )
    if isinstance(exc, InvalidOperation):
        text = str(exc)
        if "resolved already" in text:
            return gettext("This incident is resolved already.")
        if "before its case existed" in text:
            return gettext(
                "This start failed before its case existed: there is no case to retry. Start "
                "the case again; a scheduled start is retried by its schedule."
            )
        if "not running" in text or "only a running case" in text:
            return gettext("The case is no longer running: nothing was done.")
    return str(exc)


@operations.post("/incidents/<id:incident_id>/retry")
@login_required
def retry(incident_id: int) -> Any:
    refusal = _operator_refusal()
    if refusal is not None:
        return _denied(refusal)
    engine = _engine()
    try:
        after = engine.management.retry_incident(incident_id, actor=current_user.user.login)
    except EngineError as exc:
        flash(_engine_words(exc), "error")
        return _back()
    if after["status"] == "resolved":
        flash(gettext("The step ran again and succeeded; the incident is resolved."), "ok")
    else:
        flash(
            gettext(
                "The step failed again (attempt %(n)s): %(error)s",
                n=after["attempts"],
                error=after["error"],
            ),
            "error",
        )
    return _back()


@operations.post("/cases/<case:instance_id>/cancel")
@login_required
def cancel(instance_id: int) -> Any:
    refusal = _operator_refusal()
    if refusal is not None:
        return _denied(refusal)
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        flash(gettext("Say why the case is cancelled: the reason is kept in its history."), "error")
        return _back()
    if len(reason) > MAX_REASON:
        flash(gettext("The reason is longer than %(n)s characters.", n=MAX_REASON), "error")
        return _back()
    try:
        _engine().management.cancel_case(instance_id, reason=reason, actor=current_user.user.login)
    except DataRejected:
        flash(gettext("Say why the case is cancelled: the reason is kept in its history."), "error")
        return _back()
    except EngineError as exc:
        flash(_engine_words(exc), "error")
        return _back()
    flash(gettext("Case № %(id)s is cancelled; its tasks left the queues.", id=instance_id), "ok")
    return _back()


# -- REST API: the same list, the same rule --------------------------------------------------


def incident_json(r: dict[str, Any]) -> dict[str, Any]:
    """An incident as the API and `nadzor incidents list --json` give it."""
    return {
        "id": r["id"],
        "instance_id": r["instance_id"],
        "business_key": r["business_key"],
        "process_id": r["process_id"],
        "version": r["version"],
        "task_id": r["task_guid"],
        "task_name": r["task_name"],
        "element_id": r["element_id"],
        "element_name": r["element_name"],
        "kind": r["kind"],
        "error": r["error"],
        "attempts": r["attempts"],
        "created_at": _iso(r["created_at"]),
        "last_attempt_at": _iso(r["last_attempt_at"]),
        "status": r["status"],
        "needs_attention": r["needs_attention"],
        "resolved_at": _iso(r["resolved_at"]),
        "resolved_by": r["resolved_by"],
        "resolution": r["resolution"],
    }


@api.get("/incidents")
@authenticated()
def api_incidents() -> Any:
    """Open incidents (or `?status=`), newest first; methodologists and admins only."""
    from .api import ApiError

    _refuse(rights().may_operate(_user()))
    status = request.args.get("status", "active")
    if status not in ("active", "all", *INCIDENT_STATUSES):
        raise ApiError(
            400,
            "bad_request",
            "'status' is one of active, all, open, needs_attention, resolved",
            {"status": "active, all, open, needs_attention or resolved"},
        )
    procedure = request.args.get("procedure") or None
    if procedure is not None and not PROCEDURE_ID.fullmatch(procedure):
        raise ApiError(400, "bad_request", "'procedure' is not a procedure id", {"procedure": "id"})
    rows = _query(status, procedure)
    return jsonify(
        {
            "counts": _engine().management.incident_counts(),
            "incidents": [incident_json(r) for r in rows],
        }
    )
