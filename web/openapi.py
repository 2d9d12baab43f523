"""The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.

Written by hand and kept exact, because outside systems generate clients from it and the test
suite fuzzes the API from it (tests/test_api_fuzz.py): every route and method the blueprint
serves (tests/test_api.py checks the list), each parameter with its type and limits, each body,
and every status each operation answers, with the one error shape. The limits are read from the
code that enforces them, so the document cannot drift from the checks.
"""

from __future__ import annotations

from typing import Any

from engine import data as case_data
from engine.runtime import (
    MAX_CORRELATION_KEYS,
    MAX_CORRELATION_TEXT,
    MAX_ID,
    MAX_MESSAGE_NAME,
)

from .ids import PROCEDURE_ID, TASK_ID

#: statuses every authenticated operation may answer besides its own
_WORDS = {
    400: "The request is not understood: the body is not a JSON object, or a query parameter "
    "is out of its range (`fields` names it). Nothing was written.",
    401: "No `Authorization: Bearer <token>` header, or the token is unknown, revoked or expired.",
    403: "The user's roles do not allow this (e.g. an auditor acting on a task, a colleague "
    "unclaiming a task someone else claimed). Nothing changed; the refusal is recorded.",
    404: "No such case, task or procedure, or it is outside the user's office scope (the two "
    "are answered alike, so ids cannot be probed). Ids of an impossible shape (not a UUID, "
    "beyond 2^63-1) are 404 without a database query.",
    409: "The task's or case's state stands in the way: completed or claimed by someone else, "
    "or the case changed meanwhile. Nothing of this request was written.",
    405: "The address does not take this method; `Allow` lists those it takes. (Answered for "
    "any method not documented here.)",
    413: "The body is larger than the limit (1 MiB; 30 MiB for a start or a completion whose "
    "form has a file field); it was not read.",
    422: "The data breaks a rule: the form's rules (`error` `validation`, `fields` maps each "
    "offending key, also keys the form does not offer, to its message), the limits of case "
    "data (`invalid_data`), or the model failed on it (`model_error`). Nothing was written.",
    503: "The database stayed locked by another step longer than the bounded wait; nothing was "
    "written. Retry after the number of seconds in `Retry-After`.",
}

_TASK_REF = {"$ref": "#/components/schemas/Task"}
_INSTANCE_REF = {"$ref": "#/components/schemas/Instance"}
_DATA_REF = {"$ref": "#/components/schemas/CaseData"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: int, schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    """The success answer and the errors (always 401: every operation here needs a token)."""
    out: dict[str, Any] = {
        str(ok): {"description": "Created" if ok == 201 else "OK", "content": _json(schema)}
    }
    for code in sorted({401, *errors}):
        out[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    return out


def _body(schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    content = _json(schema)
    if example is not None:
        content["application/json"]["example"] = example
    return {"required": True, "description": description, "content": content}


_TERM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["office", "day"],
    "properties": {
        "office": {"type": "string", "description": "The regional office's code."},
        "day": {"type": "integer", "minimum": 1, "maximum": 28},
    },
}
_OFFICE_CODE = {
    "name": "office_code",
    "in": "path",
    "required": True,
    "description": "A regional office's code, e.g. ALM-OBL (any other office is 404).",
    "schema": {"type": "string"},
}
#: a regional office's own term for its districts' quarterly information (¶13.17)
_REPORT_TERM: dict[str, Any] = {
    "get": {
        "summary": "A regional office's term for its districts' quarterly information",
        "description": "The day of the month after the quarter by which the region's district "
        "offices send their information on the state of supervision (¶13.17; default 3).",
        "parameters": [_OFFICE_CODE],
        "responses": _responses(200, _TERM_SCHEMA, 404),
    },
    "put": {
        "summary": "Set a regional office's term for its districts (a head of it, or an admin)",
        "description": "Applies to the reports of quarters that end after it is set; a case "
        "keeps the term it opened with. Others get 403; a day outside 1-28 is 422. The same "
        "rule as `nadzor org report-term`.",
        "parameters": [_OFFICE_CODE],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["day"],
                "properties": {"day": {"type": "integer", "minimum": 1, "maximum": 28}},
            },
            "The day of the month after the quarter.",
            example={"day": 2},
        ),
        "responses": _responses(200, _TERM_SCHEMA, 400, 403, 404, 422),
    },
}


#: a start payload of `penalty_room_check` as an integration sends it (README "Procedures")
START_EXAMPLE = {
    "institution": "UK-161-2",
    "convict_name": "Иванов И. И.",
    "placed_at": "2026-11-24T09:30:00+05:00",
    "resolution_number": "ДИЗО-17",
    "resolution_date": "2026-11-24",
    "grounds": "Нарушение установленного порядка отбывания наказания",
    "duration_days": 10,
}


def _task_action(
    summary: str, description: str, body: dict[str, Any] | None = None, *errors: int
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "parameters": [{"$ref": "#/components/parameters/TaskId"}],
        "responses": _responses(200, _TASK_REF, 403, 404, 409, 503, *errors),
    }
    if body:
        op["requestBody"] = _body(body, "JSON object")
        op["responses"] = _responses(200, _TASK_REF, 400, 403, 404, 409, 413, 503, *errors)
    return {"post": op}


_ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
# the shapes the URL converters accept (web/ids.py), anchored as JSON Schema wants them
_PROCEDURE_PATTERN = f"^{PROCEDURE_ID.pattern}$"
_TASK_PATTERN = f"^{TASK_ID.pattern}$"
_DATA_KEY_PATTERN = rf"^[A-Za-z][A-Za-z0-9_]{{0,{case_data.MAX_KEY - 1}}}$"

TASK: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "name",
        "title",
        "role",
        "office_code",
        "assignee",
        "due_at",
        "state",
        "instance_id",
        "procedure",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "The task id."},
        "name": {"type": "string", "description": "The task's element id in the model."},
        "title": {"type": "string"},
        "role": {"type": ["string", "null"], "description": "The role that may do it."},
        "office_code": {"type": ["string", "null"], "description": "The office it belongs to."},
        "assignee": {"type": ["string", "null"], "description": "Login of who claimed it."},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
        "instance_id": {**_ID_SCHEMA, "description": "The case."},
        "procedure": {"type": "string"},
    },
}

INSTANCE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "procedure", "version", "status", "data", "tasks"],
    "properties": {
        "id": _ID_SCHEMA,
        "procedure": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "description": "`running` or `completed`."},
        "data": {"type": "object", "description": "The case's current data."},
        "tasks": {"type": "array", "items": _TASK_REF, "description": "Open tasks."},
        "created_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["seq", "instant", "actor", "event_type", "hash"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "instant": {"type": "string", "format": "date-time"},
        "actor": {"type": "string"},
        "office_code": {"type": ["string", "null"]},
        "event_type": {"type": "string"},
        "task_id": {"type": ["string", "null"]},
        "task_name": {"type": ["string", "null"]},
        "data_before": {"description": "JSON, or null."},
        "data_after": {"description": "JSON, or null."},
        "hash": {"type": "string", "description": "SHA-256 chaining the event to the last."},
    },
}

PROCEDURE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "version", "sha256", "published_at"],
    "properties": {
        "id": {"type": "string", "pattern": _PROCEDURE_PATTERN},
        "title": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "sha256": {"type": "string"},
        "published_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail", "fields"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A code: bad_request, unauthorized, forbidden, not_found, "
            "token_expired, method_not_allowed, too_large, conflict, invalid_state, validation, "
            "invalid_data, model_error, engine_error, busy, internal_error.",
        },
        "detail": {"type": "string", "description": "What happened and what to do, in words."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The message for each input at fault (form field, `correlation.KEY`,"
            " query parameter, task id) in the user's language; empty when no one input is.",
        },
        "problems": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["code", "params"],
                "properties": {"code": {"type": "string"}, "params": {"type": "object"}},
            },
            "description": "With `validation`: each field's broken rule as a code and its "
            "parameters, for clients that word the messages themselves.",
        },
        "path": {
            "type": "string",
            "description": "With `invalid_data`: where in the data the problem is.",
        },
    },
}

CASE_DATA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Plain JSON within the limits of case data: strings (at most "
        f"{case_data.MAX_STRING:,} characters, no NUL, no lone surrogates), integers of 64 bits, "
        "finite numbers, booleans, null, lists (at most "
        f"{case_data.MAX_ITEMS:,} items) and objects (at most {case_data.MAX_KEYS} keys, each a "
        f"data name of at most {case_data.MAX_KEY} characters); nesting at most "
        f"{case_data.MAX_DEPTH} deep; at most {case_data.MAX_BYTES // 1024} KiB as UTF-8 JSON. "
        "Anything else is a 422 `invalid_data` naming the path. The keys a start or a task "
        "takes are those of its published form; other keys are a 422 `validation`."
    ),
    "maxProperties": case_data.MAX_KEYS,
    "propertyNames": {"pattern": _DATA_KEY_PATTERN},
}

_CORRELATION: dict[str, Any] = {
    "type": "object",
    "description": (
        "Which waiting cases the message is for: `instance_id` (or `case_id`) names one case; "
        "every other key must equal that start-data value of the case. Values are short "
        "scalars; anything else is a 422 naming `correlation.KEY`."
    ),
    "maxProperties": MAX_CORRELATION_KEYS,
    "propertyNames": {"pattern": _DATA_KEY_PATTERN},
    "properties": {"instance_id": _ID_SCHEMA, "case_id": _ID_SCHEMA},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": MAX_CORRELATION_TEXT, "pattern": "^[^\\x00]*$"},
            {"type": "number", "minimum": -MAX_ID - 1, "maximum": MAX_ID},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
}


def _error_responses() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, words in _WORDS.items():
        error = _json({"$ref": "#/components/schemas/Error"})
        out[f"E{code}"] = {"description": words, "content": error}
    out["E405"]["headers"] = {
        "Allow": {"description": "The methods the address takes.", "schema": {"type": "string"}}
    }
    out["E503"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
    }
    return out


_NULLABLE_TEXT = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
#: failed cases (web/incidents_ui.py): the list the page /operations/incidents shows
_INCIDENT = {
    "type": "object",
    "required": ["id", "instance_id", "process_id", "element_id", "error", "attempts", "status"],
    "properties": {
        "id": _ID_SCHEMA,
        "instance_id": {"type": ["integer", "null"], "description": "null: a start that failed"},
        "business_key": _NULLABLE_TEXT,
        "process_id": _NULLABLE_TEXT,
        "version": {"type": ["integer", "null"]},
        "task_id": _NULLABLE_TEXT,
        "task_name": _NULLABLE_TEXT,
        "element_id": _NULLABLE_TEXT,
        "element_name": _NULLABLE_TEXT,
        "kind": {"type": "string", "examples": ["timer", "service", "script", "schedule"]},
        "error": {"type": "string"},
        "attempts": {"type": "integer", "minimum": 0},
        "created_at": {"type": "string", "format": "date-time"},
        "last_attempt_at": _NULLABLE_TIME,
        "status": {"type": "string", "enum": ["open", "needs_attention", "resolved"]},
        "needs_attention": {"type": "boolean"},
        "resolved_at": _NULLABLE_TIME,
        "resolved_by": _NULLABLE_TEXT,
        "resolution": {
            "type": ["string", "null"],
            "examples": ["fired", "answered", "retried", "cancelled"],
        },
    },
}
_INCIDENTS: dict[str, Any] = {
    "get": {
        "summary": "Failed cases: incidents with their case, task, element and attempts",
        "description": "Newest first, at most 500. A failing timer or outside system is "
        "retried automatically a bounded number of times (`open`), then it needs a person "
        "(`needs_attention`): retry it or cancel the case on the page /operations/incidents or "
        "with `nadzor incidents retry` / `nadzor cases cancel`. Methodologists and "
        "administrators only; others get 403.",
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "description": "`active` (default: open and needing attention), `all`, or one "
                "status; another value is a 400.",
                "schema": {
                    "type": "string",
                    "enum": ["active", "all", "open", "needs_attention", "resolved"],
                    "default": "active",
                },
            },
            {
                "name": "procedure",
                "in": "query",
                "description": "Only this procedure's incidents (a procedure id; another "
                "shape is a 400).",
                "schema": {"type": "string", "pattern": _PROCEDURE_PATTERN},
            },
        ],
        "responses": _responses(
            200,
            {
                "type": "object",
                "required": ["counts", "incidents"],
                "properties": {
                    "counts": {
                        "type": "object",
                        "required": ["open", "needs_attention"],
                        "properties": {
                            "open": {"type": "integer", "minimum": 0},
                            "needs_attention": {"type": "integer", "minimum": 0},
                        },
                    },
                    "incidents": {"type": "array", "items": _INCIDENT},
                },
            },
            400,
            403,
        ),
    }
}

#: how a form's file field (form-js `filepicker`) is sent (engine/attachments.py)
FILE_FIELDS = (
    'A file field (form-js `filepicker`) takes a list of uploads `{"name": ..., '
    '"content_type": ..., "content_base64": ...}` (one object is taken as a list of one): '
    "at most 20 files a field, 10 MB (10,485,760 bytes) a file, 20 MB for all files of the "
    "step, names up to 255 characters; anything else is a 422 `validation` naming the field "
    "(codes `file_required`, `too_many_files`, `file_too_large`, `files_too_large`, "
    "`bad_base64`, `not_files`, `file_name_*`, `file_type_invalid`). The step stores each file "
    "with its SHA-256 and puts its reference `{attachment_id, name, content_type, size, "
    "sha256}` in the case data and its history instead of the bytes; a refused or failed step "
    "stores none. Such a request may have a body of up to 30 MiB."
)


def openapi_document() -> dict[str, Any]:
    from .app import MAX_BODY_BYTES

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nadzor API",
            "version": "1",
            "description": (
                "JSON over the engine for outside systems. Every operation but this document "
                "needs `Authorization: Bearer <token>` (`nadzor users token LOGIN`). Errors are "
                "`{error, detail, fields}` with the status: 400 bad request, 401 no or bad "
                "token, 403 not allowed, 404 missing or outside the user's scope (alike), 405 "
                "a method the address does not take (with `Allow`), 409 state conflict, 413 a "
                f"body over {MAX_BODY_BYTES:,} bytes, 422 data that breaks a rule, 503 busy "
                "(with `Retry-After`). A refused request changes nothing (refusals of rights "
                "are recorded as such)."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/procedures": {
                "get": {
                    "summary": "Published procedures (latest version of each)",
                    "responses": _responses(
                        200, {"type": "array", "items": {"$ref": "#/components/schemas/Procedure"}}
                    ),
                }
            },
            "/procedures/{procedure_id}/instances": {
                "post": {
                    "summary": "Start a case with the procedure's start payload",
                    "description": (
                        "The payload obeys the procedure's start form; values the domain "
                        "computes (offices, remoteness, case id, deadlines) cannot be set. "
                        "403 when the case's office is outside the user's scope; 409 for a "
                        "procedure that only its calendar starts (a timer start event, e.g. "
                        "`quarterly_report`, `reception`). " + FILE_FIELDS
                    ),
                    "parameters": [{"$ref": "#/components/parameters/ProcedureId"}],
                    "requestBody": _body(
                        _DATA_REF, "The start form's fields.", example=START_EXAMPLE
                    ),
                    "responses": _responses(201, _INSTANCE_REF, 400, 403, 404, 409, 413, 422, 503),
                }
            },
            "/instances/{instance_id}": {
                "get": {
                    "summary": "A case: status, data and open tasks",
                    "parameters": [{"$ref": "#/components/parameters/InstanceId"}],
                    "responses": _responses(200, _INSTANCE_REF, 403, 404),
                }
            },
            "/cases/{instance_id}/attachments/{attachment_id}": {
                "get": {
                    "summary": "Download a file a step attached to the case",
                    "description": (
                        "The file's bytes with its media type, `Content-Disposition: "
                        "attachment` (the name as ASCII and as UTF-8 `filename*`), "
                        "`X-Content-Type-Options: nosniff` and `X-Content-SHA256`. The case "
                        "data and its history hold each file's reference `{attachment_id, "
                        "name, content_type, size, sha256}`. 404 for a file of another case or "
                        "a case outside the scope; 409 `attachment_damaged` when the stored "
                        "content no longer matches its SHA-256 (it is not served)."
                    ),
                    "parameters": [
                        {"$ref": "#/components/parameters/InstanceId"},
                        {
                            "name": "attachment_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The file",
                            "content": {
                                "application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        **{
                            str(code): {"$ref": f"#/components/responses/E{code}"}
                            for code in (401, 403, 404, 409)
                        },
                    },
                }
            },
            "/instances/{instance_id}/history": {
                "get": {
                    "summary": "The case's audit trail, oldest first",
                    "parameters": [{"$ref": "#/components/parameters/InstanceId"}],
                    "responses": _responses(
                        200,
                        {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                        403,
                        404,
                    ),
                }
            },
            "/tasks": {
                "get": {
                    "summary": "Task queue, earliest deadline first",
                    "parameters": [
                        {
                            "name": "scope",
                            "in": "query",
                            "description": "mine: claimed by me; office: unclaimed tasks of my "
                            "office for my roles; visible: every open task in my scope.",
                            "schema": {
                                "type": "string",
                                "enum": ["mine", "office", "visible"],
                                "default": "visible",
                            },
                        },
                        {
                            "name": "overdue",
                            "in": "query",
                            "description": "1: only tasks past their deadline.",
                            "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                        },
                        {
                            "name": "procedure",
                            "in": "query",
                            "description": "Only tasks of this procedure (empty: all).",
                            "schema": {
                                "type": "string",
                                "pattern": r"^([A-Za-z_][A-Za-z0-9_.\-]{0,199})?$",
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 500,
                                "default": 50,
                            },
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": 100_000,
                                "default": 0,
                            },
                        },
                    ],
                    "responses": _responses(200, {"type": "array", "items": _TASK_REF}, 400, 403),
                }
            },
            "/offices/{office_code}/report-term": _REPORT_TERM,
            "/incidents": _INCIDENTS,
            "/indicators": {
                "get": {
                    "summary": "Supervision indicators of an office and the offices below it",
                    "description": "The figures of workflows/indicators.py (its docstring "
                    "documents every key) for the cases received in the period, Almaty dates "
                    "inclusive: penalty-room checks within 24/48 h, emergencies and incidents "
                    "by kind, notices within 1 h / 3 h / 24 h, torture reports and the hours "
                    "to registration, appeals answered in time, acts by route, type and "
                    "outcome, receptions against the calendar. Read by heads (their office "
                    "and below), the GP unit (every office) and auditors (their scope); "
                    "others get 403. The page /indicators and `nadzor indicators` give the "
                    "same numbers.",
                    "parameters": [
                        {
                            "name": "office",
                            "in": "query",
                            "description": "An office code (default: the user's office).",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "from",
                            "in": "query",
                            "description": "First day, YYYY-MM-DD (default: the current "
                            "quarter's first day).",
                            "schema": {"type": "string", "format": "date"},
                        },
                        {
                            "name": "to",
                            "in": "query",
                            "description": "Last day, YYYY-MM-DD, inclusive; at most three "
                            "years after `from` (default: the current quarter's last day).",
                            "schema": {"type": "string", "format": "date"},
                        },
                    ],
                    "responses": _responses(
                        200,
                        {
                            "type": "object",
                            "required": [
                                "office",
                                "period_start",
                                "period_end",
                                "penalty_room_checks",
                                "emergencies",
                                "incidents",
                                "notices",
                                "torture_reports",
                                "appeals",
                                "acts",
                                "receptions",
                            ],
                            "additionalProperties": True,
                        },
                        400,
                        403,
                        422,
                    ),
                }
            },
            "/tasks/{task_id}": {
                "get": {
                    "summary": "A task with its form schema",
                    "parameters": [{"$ref": "#/components/parameters/TaskId"}],
                    "responses": _responses(
                        200,
                        {
                            "allOf": [_TASK_REF],
                            "type": "object",
                            "required": ["form"],
                            "properties": {
                                "form": {
                                    "type": ["object", "null"],
                                    "description": "The task's form-js schema, or null.",
                                }
                            },
                        },
                        403,
                        404,
                    ),
                }
            },
            "/tasks/{task_id}/claim": _task_action(
                "Claim the task",
                "By a user of the task's role in its office, or a head of that office.",
            ),
            "/tasks/{task_id}/unclaim": _task_action(
                "Give the task back to the office queue",
                "By whoever claimed it, or a head of the task's office.",
            ),
            "/tasks/{task_id}/delegate": _task_action(
                "Hand the task to a colleague of the same office",
                "Only to an active colleague of the task's office who could complete it (its "
                "role or head), else 422 naming `to`; a task claimed by someone else only by "
                "them or a head (403).",
                {
                    "type": "object",
                    "required": ["to"],
                    "properties": {"to": {"type": "string", "description": "A login."}},
                },
                422,
            ),
            "/tasks/reassign": {
                "post": {
                    "summary": "A head hands several tasks of the office to one colleague",
                    "description": "All or none: a refusal names each task that cannot be "
                    "reassigned in `fields` (by task id), and nothing is reassigned.",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["tasks", "to"],
                            "properties": {
                                "tasks": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 500,
                                    "items": {"type": "string", "pattern": _TASK_PATTERN},
                                },
                                "to": {"type": "string", "description": "A login."},
                            },
                        },
                        "The task ids and the colleague's login.",
                    ),
                    "responses": _responses(
                        200,
                        {
                            "type": "object",
                            "required": ["reassigned"],
                            "properties": {"reassigned": {"type": "array", "items": _TASK_REF}},
                        },
                        400,
                        403,
                        404,
                        409,
                        413,
                        422,
                        503,
                    ),
                }
            },
            "/tasks/{task_id}/complete": {
                "post": {
                    "summary": "Complete the task with data; a second completion is 409",
                    "description": (
                        "The data obeys the task's published form (required fields, types, "
                        "options, limits, real dates); keys the form does not offer are a 422 "
                        "naming them; a task without a form takes no data. An unclaimed task "
                        "is claimed for the caller in the same step (a `task_claimed` event). "
                        "The answer is the case after the step. " + FILE_FIELDS
                    ),
                    "parameters": [{"$ref": "#/components/parameters/TaskId"}],
                    "requestBody": _body(
                        {"type": "object", "properties": {"data": _DATA_REF}},
                        '`{"data": {...}}` with the form\'s fields; a body without `data` is '
                        "taken as the data itself.",
                    ),
                    "responses": _responses(200, _INSTANCE_REF, 400, 403, 404, 409, 413, 422, 503),
                }
            },
            "/messages": {
                "post": {
                    "summary": "Deliver a message (e.g. an addressee's answer) to waiting cases",
                    "description": (
                        "To every case in the user's scope that waits for the message and "
                        "matches the correlation; 404 when none does. Each delivery is a step "
                        "of its own case."
                    ),
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": MAX_MESSAGE_NAME,
                                    "pattern": "^[^\\x00-\\x1f\\x7f]+$",
                                    "examples": ["addressee_answer", "investigation_outcome"],
                                },
                                "correlation": _CORRELATION,
                                "data": _DATA_REF,
                            },
                        },
                        "The message's name, correlation and data.",
                        example={
                            "name": "addressee_answer",
                            "correlation": {"case_id": 1},
                            "data": {"answer_summary": "The act was considered and satisfied."},
                        },
                    ),
                    "responses": _responses(
                        200,
                        {
                            "type": "object",
                            "required": ["delivered"],
                            "properties": {"delivered": {"type": "array", "items": _ID_SCHEMA}},
                        },
                        400,
                        403,
                        404,
                        409,
                        413,
                        422,
                        503,
                    ),
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {"description": "OK", "content": _json({"type": "object"})}
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "TaskId": {
                    "name": "task_id",
                    "in": "path",
                    "required": True,
                    "description": "A UUID; another shape is a 404.",
                    "schema": {"type": "string", "format": "uuid", "pattern": _TASK_PATTERN},
                },
                "InstanceId": {
                    "name": "instance_id",
                    "in": "path",
                    "required": True,
                    "description": "A case number from 1 to 2^63-1; another is a 404.",
                    "schema": _ID_SCHEMA,
                },
                "ProcedureId": {
                    "name": "procedure_id",
                    "in": "path",
                    "required": True,
                    "description": "A procedure id (see GET /procedures).",
                    "schema": {"type": "string", "pattern": _PROCEDURE_PATTERN},
                    "example": "penalty_room_check",
                },
            },
            "responses": _error_responses(),
            "schemas": {
                "Task": TASK,
                "Instance": INSTANCE,
                "Event": EVENT,
                "Procedure": PROCEDURE,
                "CaseData": CASE_DATA,
                "Error": ERROR,
            },
        },
    }
