"""REST API `/api/v1`: JSON over the engine for outside systems, with bearer tokens.

Every route authenticates the token, checks the user's role and office scope, and answers
errors as `{"error": code, "detail": text, "fields": {...}}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from engine.engine import Engine
from engine.errors import (
    ConflictError,
    EngineError,
    InvalidOperation,
    ModelError,
    NotFound,
    ScriptFailed,
    UnsafeCode,
)
from engine.step import StepContext
from engine.tasks import TaskQuery, TaskView
from workflows.organization import OrganizationDirectory
from workflows.scope import CASE_ROLES, READ_ROLES, can_see_office, visible_offices
from workflows.users import User, UserDirectory

api = Blueprint("api", __name__, url_prefix="/api/v1")


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


@api.errorhandler(EngineError)
def _engine_error(exc: EngineError) -> tuple[Response, int]:
    mapping: list[tuple[type[EngineError], int, str]] = [
        (NotFound, 404, "not_found"),
        (ConflictError, 409, "conflict"),
        (InvalidOperation, 409, "invalid_state"),
        (ModelError, 422, "model_error"),
        (UnsafeCode, 422, "model_error"),
        (ScriptFailed, 422, "model_error"),
    ]
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
    if not can_see_office(_directory(), _user(), view.office_code):
        raise ApiError(403, "forbidden", f"case {instance_id} is outside your office's scope")
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
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return body


def _visible_task(task_id: str) -> TaskView:
    task = _engine().tasks.get(task_id)
    if not can_see_office(_directory(), _user(), task.office_code):
        raise ApiError(403, "forbidden", f"task {task_id} is outside your office's scope")
    return task


def _own_task(task_id: str) -> TaskView:
    """Acting on a task needs its role in its office (or a head of that office)."""
    task = _visible_task(task_id)
    user = _user()
    if task.office_code != user.office_code or not user.has_role(task.role or "", "head"):
        raise ApiError(403, "forbidden", f"task {task_id} is for {task.role} of {task.office_code}")
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


@api.post("/procedures/<process_id>/instances")
@authenticated(*CASE_ROLES)
def start_instance(process_id: str) -> Any:
    payload = _json_body()
    engine, user = _engine(), _user()
    office = engine.organization.case_office(payload, process_id)
    if office is not None and not can_see_office(_directory(), user, office):
        raise ApiError(403, "forbidden", f"office {office} is outside your office's scope")
    instance_id = engine.runtime.start(
        process_id, payload, actor=user.login, office_code=user.office_code
    )
    return jsonify(instance_json(instance_id)), 201


@api.get("/instances/<int:instance_id>")
@authenticated(*READ_ROLES)
def get_instance(instance_id: int) -> Any:
    return jsonify(instance_json(instance_id))


@api.get("/instances/<int:instance_id>/history")
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


# -- tasks ---------------------------------------------------------------------------------------


@api.get("/tasks")
@authenticated(*READ_ROLES)
def list_tasks() -> Any:
    user = _user()
    scope = request.args.get("scope", "visible")
    query = TaskQuery(
        limit=min(int(request.args.get("limit", 50)), 500),
        offset=int(request.args.get("offset", 0)),
    )
    if scope == "mine":
        query.assignee = user.login
    elif scope == "office":
        query.offices, query.roles, query.unassigned = [user.office_code], list(user.roles), True
    elif scope == "visible":
        query.offices = sorted(visible_offices(_directory(), user))
    else:
        raise ApiError(
            400, "bad_request", "scope is one of mine, office, visible", {"scope": "unknown scope"}
        )
    if request.args.get("overdue") == "1":
        query.due_before = _engine().clock.now()
    if request.args.get("procedure"):
        query.process_id = request.args["procedure"]
    return jsonify([task_json(t) for t in _engine().tasks.list(query)])


@api.get("/tasks/<task_id>")
@authenticated(*READ_ROLES)
def get_task(task_id: str) -> Any:
    task = _visible_task(task_id)
    engine = _engine()
    definition = engine.repository.get(engine.runtime.get(task.instance_id).definition_id)
    return jsonify({**task_json(task), "form": definition.form(task.form)})


@api.post("/tasks/<task_id>/claim")
@authenticated(*CASE_ROLES)
def claim(task_id: str) -> Any:
    _own_task(task_id)
    user = _user()
    return jsonify(
        task_json(_engine().tasks.claim(task_id, actor=user.login, office_code=user.office_code))
    )


@api.post("/tasks/<task_id>/unclaim")
@authenticated(*CASE_ROLES)
def unclaim(task_id: str) -> Any:
    _own_task(task_id)
    user = _user()
    return jsonify(
        task_json(_engine().tasks.unclaim(task_id, actor=user.login, office_code=user.office_code))
    )


@api.post("/tasks/<task_id>/delegate")
@authenticated(*CASE_ROLES)
def delegate(task_id: str) -> Any:
    task = _own_task(task_id)
    to = _json_body().get("to")
    if not isinstance(to, str) or not to:
        raise ApiError(422, "validation", "name the colleague", {"to": "required"})
    try:
        colleague = _users().get(to)
    except NotFound as exc:
        raise ApiError(422, "validation", str(exc), {"to": "unknown user"}) from exc
    if colleague.office_code != task.office_code:
        raise ApiError(
            422,
            "validation",
            "tasks are delegated within the same office",
            {"to": "not in the task's office"},
        )
    user = _user()
    return jsonify(
        task_json(
            _engine().tasks.delegate(task_id, to, actor=user.login, office_code=user.office_code)
        )
    )


@api.post("/tasks/<task_id>/complete")
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


@api.get("/openapi.json")
def openapi() -> Any:
    from .openapi import openapi_document

    return jsonify(openapi_document())


# -- messages ------------------------------------------------------------------------------------


@api.post("/messages")
@authenticated(*CASE_ROLES)
def messages() -> Any:
    body = _json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(422, "validation", "a message needs a name", {"name": "required"})
    correlation = body.get("correlation") or body.get("correlation_keys") or {}
    payload = body.get("data") or {}
    if not isinstance(correlation, dict) or not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "'correlation' and 'data' must be JSON objects")
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
        raise ApiError(404, "not_found", f"no case is waiting for message '{name}' with these keys")
    return jsonify({"delivered": delivered})
