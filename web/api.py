"""REST API `/api/v1`: JSON over the engine for outside systems, with bearer tokens.

Every route authenticates the token, checks the user's role and office scope, and answers
errors as `{"error": code, "detail": text, "fields": {...}}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import force_locale

from engine.calendar import ALMATY
from engine.engine import Engine
from engine.errors import (
    Busy,
    ConflictError,
    DataRejected,
    EngineError,
    InvalidOperation,
    ModelError,
    NotFound,
    ScriptFailed,
    UnsafeCode,
    ValidationFailed,
)
from engine.step import StepContext
from engine.tasks import TaskQuery, TaskView
from web.serving import RETRY_AFTER_SECONDS
from workflows.organization import OrganizationDirectory
from workflows.rights import Refusal, gravest
from workflows.scope import CASE_ROLES, READ_ROLES, visible_offices
from workflows.users import TokenExpired, User, UserDirectory

from .forms import problem_texts, problems_json
from .i18n import DEFAULT_LOCALE
from .ids import PROCEDURE_ID, register_converters
from .refusals import mark_denied, rights

api = Blueprint("api", __name__, url_prefix="/api/v1")

api.record(register_converters)  # web/ids.py: before the routes below, which use them


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, fields: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.fields = status, code, detail, fields or {}


def _engine() -> Engine:
    return current_app.extensions["nadzor.engine"]


def _directory() -> OrganizationDirectory:
    return current_app.extensions["nadzor.directory"]


def _users() -> UserDirectory:
    return current_app.extensions["nadzor.users"]


@api.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify(error=exc.code, detail=exc.detail, fields=exc.fields), exc.status


@api.errorhandler(TokenExpired)
def _token_expired(exc: TokenExpired) -> tuple[Response, int]:
    """A known token past its 90 days: 401, saying so (not "invalid")."""
    return jsonify(error="token_expired", detail=str(exc), fields={}), 401


@api.errorhandler(EngineError)
def _engine_error(exc: EngineError) -> tuple[Response, int]:
    if isinstance(exc, Busy):  # another step held the lock past the bounded wait: retry
        response = jsonify(error="busy", detail=str(exc), fields={})
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, 503
    mapping: list[tuple[type[EngineError], int, str]] = [
        (NotFound, 404, "not_found"),
        (ConflictError, 409, "conflict"),
        (InvalidOperation, 409, "invalid_state"),
        (ModelError, 422, "model_error"),
        (UnsafeCode, 422, "model_error"),
        (ScriptFailed, 422, "model_error"),
    ]
    if isinstance(exc, ValidationFailed):  # per field, in the user's language, as the page
        user = getattr(g, "user", None)
        with force_locale(user.locale if user is not None and user.locale else DEFAULT_LOCALE):
            fields = problem_texts(exc)
        body = dict(error="validation", detail=str(exc), fields=fields)
        return jsonify(**body, problems=problems_json(exc)), 422
    if isinstance(exc, DataRejected):
        return jsonify(error="invalid_data", detail=str(exc), fields={}, path=exc.path), 422
    for cls, status, code in mapping:
        if isinstance(exc, cls):
            return jsonify(error=code, detail=str(exc), fields={}), status
    return jsonify(error="engine_error", detail=str(exc), fields={}), 422


def authenticated(*roles: str):  # type: ignore[no-untyped-def]
    """Bearer token required; with roles, the user must hold one of them."""

    def decorate(view):  # type: ignore[no-untyped-def]
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'")
            user = _users().by_token(header[7:].strip())
            if user is None:
                raise ApiError(401, "unauthorized", "the token is not valid")
            if roles and not user.has_role(*roles):
                raise ApiError(403, "forbidden", f"this needs one of the roles: {', '.join(roles)}")
            g.user = user
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _user() -> User:
    return g.user


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def task_json(task: TaskView) -> dict[str, Any]:
    return {
        "id": task.task_guid,
        "name": task.task_name,
        "title": task.title,
        "role": task.role,
        "office_code": task.office_code,
        "assignee": task.assignee,
        "due_at": _iso(task.due_at),
        "state": task.state,
        "instance_id": task.instance_id,
        "procedure": task.process_id,
    }


def instance_json(instance_id: int) -> dict[str, Any]:
    engine = _engine()
    view = engine.runtime.get(instance_id)
    _refuse(rights().may_read_case(_user(), instance_id, view.office_code))
    return {
        "id": view.id,
        "procedure": view.process_id,
        "version": view.version,
        "status": view.status,
        "data": engine.runtime.data(instance_id),
        "tasks": _open_tasks(instance_id),
        "created_at": _iso(view.created_at),
        "completed_at": _iso(view.completed_at),
    }


def _open_tasks(instance_id: int) -> list[dict[str, Any]]:
    return [task_json(t) for t in _engine().tasks.open_tasks(instance_id)]


def step_json(ctx: StepContext) -> dict[str, Any]:
    """The instance shape from the step just run: no second restore, one query for tasks."""
    return {
        "id": ctx.instance_id,
        "procedure": ctx.definition.process_id,
        "version": ctx.definition.version,
        "status": ctx.status,
        "data": _engine().serializer.convert_data(ctx.data),
        "tasks": _open_tasks(ctx.instance_id),
    }


def _json_body() -> dict[str, Any]:
    """The body as a JSON object, or 400 saying why not (never a 500: see web/jsonbody.py)."""
    from .jsonbody import BadJson, parse_json  # imported here: the one user of the module

    if not request.is_json:
        raise ApiError(400, "bad_request", "send the body as JSON (Content-Type: application/json)")
    try:
        body = parse_json(request.get_data(cache=True))
    except BadJson as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return body


def _refuse(refusal: Refusal | None) -> None:
    """Answer a refusal of workflows/rights.py: out of scope exactly as missing (404, the
    engine's words), recorded as a denial all the same."""
    if refusal is None:
        return
    mark_denied(refusal)
    if refusal.kind == "hidden":
        raise NotFound(refusal.message)
    fields = {refusal.field: refusal.message} if refusal.field else {}
    code = {"forbidden": "forbidden", "invalid": "validation", "conflict": "conflict"}
    raise ApiError(refusal.status, code[refusal.kind], refusal.message, fields)


def _visible_task(task_id: str) -> TaskView:
    task = _engine().tasks.get(task_id)
    _refuse(rights().may_read(_user(), task))
    return task


def _own_task(task_id: str, action: str = "complete", to: Any = None) -> TaskView:
    """Acting on a task: the rule of workflows/rights.py for `action` (claim, unclaim,
    delegate to `to`, complete), the same one the pages ask."""
    task = _engine().tasks.get(task_id)
    checks = rights()
    user = _user()
    if action == "claim":
        refusal = checks.may_claim(user, task)
    elif action == "unclaim":
        refusal = checks.may_unclaim(user, task)
    elif action == "delegate":
        refusal = checks.may_delegate(user, task, to)
    else:
        refusal = checks.may_complete(user, task)
    _refuse(refusal)
    return task


# -- procedures and instances --------------------------------------------------------------------


@api.get("/procedures")
@authenticated()
def procedures() -> Any:
    latest: dict[str, dict[str, Any]] = {}
    for row in _engine().repository.list():
        latest[row["process_id"]] = {
            "id": row["process_id"],
            "title": row["title"],
            "version": row["version"],
            "sha256": row["sha256"],
            "published_at": _iso(row["published_at"]),
        }
    return jsonify(list(latest.values()))


@api.post("/procedures/<procedure:process_id>/instances")
@authenticated(*CASE_ROLES)
def start_instance(process_id: str) -> Any:
    engine, user = _engine(), _user()
    body = _json_body()
    payload = engine.runtime.clean_start(process_id, body)  # the start form's rules
    office = engine.organization.case_office(payload, process_id)
    if office is not None:
        _refuse(rights().may_start(user, office))  # the same rule as the start page
    # the body, not the cleaned payload: files are uploads there, stored by the start's step
    instance_id = engine.runtime.start(
        process_id, body, actor=user.login, office_code=user.office_code
    )
    return jsonify(instance_json(instance_id)), 201


@api.get("/instances/<case:instance_id>")
@authenticated(*READ_ROLES)
def get_instance(instance_id: int) -> Any:
    return jsonify(instance_json(instance_id))


@api.get("/instances/<case:instance_id>/history")
@authenticated(*READ_ROLES)
def instance_history(instance_id: int) -> Any:
    instance_json(instance_id)  # scope check
    events = _engine().history.events(instance_id)
    return jsonify(
        [
            {
                "seq": e["seq"],
                "instant": _iso(e["instant"]),
                "actor": e["actor"],
                "office_code": e["office_code"],
                "event_type": e["event_type"],
                "task_id": e["task_guid"],
                "task_name": e["task_name"],
                "data_before": e["data_before"],
                "data_after": e["data_after"],
                "hash": e["hash"],
            }
            for e in events
        ]
    )


@api.get("/cases/<case:instance_id>/attachments/<attachment_id>")
@authenticated(*READ_ROLES)
def attachment(instance_id: int, attachment_id: str) -> Any:
    """A file a step attached (engine/attachments.py), within the case's scope; a changed
    content is refused (409 `attachment_damaged`), not served."""
    from engine.attachments import AttachmentDamaged

    from .access_log import record_access
    from .attachments_ui import file_response, stored_file

    record_access("api", case_id=instance_id)  # an API read of the case, served or refused
    view = _engine().runtime.get(instance_id)
    _refuse(rights().may_read_case(_user(), instance_id, view.office_code))
    try:
        return file_response(stored_file(instance_id, attachment_id))
    except AttachmentDamaged as exc:
        raise ApiError(409, "attachment_damaged", str(exc)) from None


# -- tasks ---------------------------------------------------------------------------------------


@api.get("/tasks")
@authenticated(*READ_ROLES)
def list_tasks() -> Any:
    """A queue page. Every parameter is checked before the query: a bad one is a 400 naming it
    (`limit` 1-500, `offset` 0-100,000, `scope`, `overdue` 0 or 1, `procedure` an id)."""
    user = _user()
    scope = request.args.get("scope", "visible")
    query = TaskQuery(
        limit=_int_arg("limit", 50, 1, MAX_LIMIT), offset=_int_arg("offset", 0, 0, MAX_OFFSET)
    )
    if scope == "mine":
        query.assignee = user.login
    elif scope == "office":
        query.offices, query.roles, query.unassigned = [user.office_code], list(user.roles), True
    elif scope == "visible":
        query.offices = sorted(visible_offices(_directory(), user))
    else:
        message = "The scope is mine, office or visible (the default)."
        raise ApiError(400, "bad_request", f"Unknown queue scope. {message}", {"scope": message})
    overdue = request.args.get("overdue", "0")
    if overdue not in ("0", "1"):
        message = "overdue is 1 (only tasks past their deadline) or 0."
        raise ApiError(400, "bad_request", message, {"overdue": message})
    if overdue == "1":
        query.due_before = _engine().clock.now()
    procedure = request.args.get("procedure", "")
    if procedure and not PROCEDURE_ID.fullmatch(procedure):
        message = (
            "procedure is a procedure id: a letter or _, then letters, digits, _ . or -, "
            "at most 200 characters."
        )
        raise ApiError(400, "bad_request", message, {"procedure": message})
    if procedure:
        query.process_id = procedure
    return jsonify([task_json(t) for t in _engine().tasks.list(query)])


MAX_LIMIT = 500
MAX_OFFSET = 100_000


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter in [low, high]: ASCII digits only (int() would also read
    spaces, signs and other scripts' digits), so `-1` cannot lift the row cap."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.isascii() and raw.isdigit() and len(raw) <= 7 and low <= int(raw) <= high:
        return int(raw)
    message = f"{name} must be a whole number from {low} to {high:,}."
    raise ApiError(400, "bad_request", f"{message} It was {raw[:20]!r}.", {name: message})


@api.get("/tasks/<task:task_id>")
@authenticated(*READ_ROLES)
def get_task(task_id: str) -> Any:
    task = _visible_task(task_id)
    engine = _engine()
    definition = engine.repository.get(engine.runtime.get(task.instance_id).definition_id)
    return jsonify({**task_json(task), "form": definition.form(task.form)})


@api.post("/tasks/<task:task_id>/claim")
@authenticated(*CASE_ROLES)
def claim(task_id: str) -> Any:
    _own_task(task_id, "claim")
    user = _user()
    return jsonify(
        task_json(_engine().tasks.claim(task_id, actor=user.login, office_code=user.office_code))
    )


@api.post("/tasks/<task:task_id>/unclaim")
@authenticated(*CASE_ROLES)
def unclaim(task_id: str) -> Any:
    _own_task(task_id, "unclaim")
    user = _user()
    return jsonify(
        task_json(_engine().tasks.unclaim(task_id, actor=user.login, office_code=user.office_code))
    )


@api.post("/tasks/<task:task_id>/delegate")
@authenticated(*CASE_ROLES)
def delegate(task_id: str) -> Any:
    """Only to someone who could complete the task (its role or head, in its office)."""
    to = _json_body().get("to")
    _own_task(task_id, "delegate", to)
    user = _user()
    return jsonify(
        task_json(
            _engine().tasks.delegate(task_id, to, actor=user.login, office_code=user.office_code)
        )
    )


#: tasks one bulk reassignment may name (a head's page shows 50 a page)
MAX_REASSIGN = 500


@api.post("/tasks/reassign")
@authenticated("head")
def reassign() -> Any:
    """A head hands several tasks of the office to one colleague: all of them or none. A
    refused batch names every task that cannot be reassigned (in `fields`, by task id)."""
    body = _json_body()
    guids, to = body.get("tasks"), body.get("to")
    if not isinstance(guids, list) or not all(isinstance(t, str) for t in guids):
        raise ApiError(422, "validation", "'tasks' must be a list of task ids", {"tasks": "list"})
    if not guids or len(guids) > MAX_REASSIGN:
        message = f"name from 1 to {MAX_REASSIGN} tasks at a time"
        raise ApiError(422, "validation", message, {"tasks": message})
    engine, user = _engine(), _user()
    found: dict[str, TaskView | None] = {}
    for guid in dict.fromkeys(guids):
        try:
            found[guid] = engine.tasks.get(guid)
        except NotFound:
            found[guid] = None
    refusals = rights().may_reassign(user, found, to)
    worst = gravest(refusals)
    if worst is not None:
        for r in refusals:
            mark_denied(r)
        detail = "nothing was reassigned: " + "; ".join(r.message for r in refusals)
        fields = {(r.task_id or r.field or "tasks"): r.message for r in refusals}
        code = {"forbidden": "forbidden", "hidden": "not_found", "invalid": "validation"}
        raise ApiError(worst.status, code.get(worst.kind, worst.kind), detail, fields)
    done = engine.tasks.reassign_many(
        list(found), to, actor=user.login, office_code=user.office_code
    )
    return jsonify({"reassigned": [task_json(t) for t in done]})


@api.post("/tasks/<task:task_id>/complete")
@authenticated(*CASE_ROLES)
def complete(task_id: str) -> Any:
    _own_task(task_id)
    body = _json_body()
    data = body.get("data", body)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "'data' must be a JSON object")
    user = _user()
    ctx = _engine().tasks.complete(task_id, data, actor=user.login, office_code=user.office_code)
    return jsonify(step_json(ctx))


@api.get("/indicators")
@authenticated()
def get_indicators() -> Any:
    """The supervision indicators of `office` (default: the user's own) and the offices below
    it, for the cases received `from`..`to` (Almaty dates; default: the current quarter); the
    rule and the figures are workflows/indicators.py's, as on the page and in the CLI."""
    from workflows.indicators import BadPeriod, figures, may_see_indicators, parse_period

    user = _user()
    office = request.args.get("office") or user.office_code
    today = _engine().clock.now().astimezone(ALMATY).date()
    try:
        start, end = parse_period(request.args.get("from"), request.args.get("to"), today)
    except BadPeriod as exc:
        raise ApiError(400, "bad_request", str(exc), {exc.field: str(exc)}) from None
    _refuse(may_see_indicators(_directory(), user, office))
    return jsonify(figures(_engine().db, office, start, end, now=_engine().clock.now()))


# -- the regional office's term for its districts' quarterly information (¶13.17) -------------


def _regional_office(office_code: str) -> str:
    office = _directory().office(office_code)
    if office is None or office.level != "regional":
        raise NotFound(f"no regional office '{office_code[:50]}'")
    return office.code


@api.get("/offices/<office_code>/report-term")
@authenticated()
def get_report_term(office_code: str) -> Any:
    from workflows.quarterly import report_due_day

    code = _regional_office(office_code)
    return jsonify(office=code, day=report_due_day(_engine().db, code))


@api.put("/offices/<office_code>/report-term")
@authenticated()
def put_report_term(office_code: str) -> Any:
    """Set by a head of that regional office or an admin: the rule of workflows/rights.py that
    `nadzor org report-term` asks too."""
    from workflows.quarterly import report_due_day, set_report_term

    code = _regional_office(office_code)
    day = _json_body().get("day")
    _refuse(rights().may_set_report_term(_user(), code))
    if not isinstance(day, int) or isinstance(day, bool):
        raise ApiError(422, "validation", "'day' must be a whole number", {"day": "a number"})
    try:
        set_report_term(_engine().db, code, day, actor=_user().login, now=_engine().clock.now())
    except ValueError as exc:
        raise ApiError(422, "validation", str(exc), {"day": str(exc)}) from None
    return jsonify(office=code, day=report_due_day(_engine().db, code))


@api.get("/openapi.json")
def openapi() -> Any:
    from .openapi import openapi_document

    return jsonify(openapi_document())


# -- messages ------------------------------------------------------------------------------------


@api.post("/messages")
@authenticated(*CASE_ROLES)
def messages() -> Any:
    """The name and correlation are checked by the engine (`engine.runtime.check_message`):
    a bad one is a 422 naming the field, before any query runs."""
    body = _json_body()
    name = body.get("name")
    correlation = body.get("correlation", body.get("correlation_keys"))
    payload = body.get("data")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        message = "The message's data must be a JSON object."
        raise ApiError(422, "validation", message, {"data": message})
    user = _user()
    delivered = _engine().runtime.deliver_message(
        name,
        payload,
        correlation=correlation,
        actor=user.login,
        office_code=user.office_code,
        within_offices=visible_offices(_directory(), user),
    )
    if not delivered:
        raise ApiError(
            404,
            "not_found",
            f"No case in your scope is waiting for the message '{name}' with these correlation "
            "keys; nothing was delivered.",
        )
    return jsonify({"delivered": delivered})
