"""The OpenAPI 3 document of `/api/v1`, served at `/api/v1/openapi.json`.

Written by hand, small and exact; a test checks that it names every route and method the
blueprint serves, and nothing else.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: int, schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        str(ok): {"description": "OK", "content": {"application/json": {"schema": schema}}}
    }
    for code in (401, *errors):
        out[str(code)] = {
            "description": "Error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _task_action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [{"$ref": "#/components/parameters/TaskId"}],
        "responses": _responses(200, {"$ref": "#/components/schemas/Task"}, 403, 404, 409),
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {"post": op}


TASK = {
    "type": "object",
    "required": ["id", "name", "title", "role", "office_code", "assignee", "due_at", "state"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "title": {"type": "string"},
        "role": {"type": "string", "nullable": True},
        "office_code": {"type": "string", "nullable": True},
        "assignee": {"type": "string", "nullable": True},
        "due_at": {"type": "string", "format": "date-time", "nullable": True},
        "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
        "instance_id": {"type": "integer"},
        "procedure": {"type": "string"},
    },
}

INSTANCE = {
    "type": "object",
    "required": ["id", "procedure", "version", "status", "data", "tasks"],
    "properties": {
        "id": {"type": "integer"},
        "procedure": {"type": "string"},
        "version": {"type": "integer"},
        "status": {"type": "string", "enum": ["running", "completed"]},
        "data": {"type": "object"},
        "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
    },
}


def openapi_document() -> dict[str, Any]:
    instance_ref = {"$ref": "#/components/schemas/Instance"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Nadzor API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/procedures": {
                "get": {
                    "summary": "Published procedures (latest version of each)",
                    "responses": _responses(200, {"type": "array", "items": {"type": "object"}}),
                }
            },
            "/procedures/{procedure_id}/instances": {
                "post": {
                    "summary": "Start a case with the procedure's start payload",
                    "parameters": [
                        {
                            "name": "procedure_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {**_responses(201, instance_ref, 400, 403, 404, 422)},
                }
            },
            "/instances/{instance_id}": {
                "get": {
                    "summary": "A case: status, data and open tasks",
                    "parameters": [{"$ref": "#/components/parameters/InstanceId"}],
                    "responses": _responses(200, instance_ref, 403, 404),
                }
            },
            "/instances/{instance_id}/history": {
                "get": {
                    "summary": "The case's audit trail, oldest first",
                    "parameters": [{"$ref": "#/components/parameters/InstanceId"}],
                    "responses": _responses(
                        200, {"type": "array", "items": {"type": "object"}}, 403, 404
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
                            "schema": {"type": "string", "enum": ["mine", "office", "visible"]},
                        },
                        {
                            "name": "overdue",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["1"]},
                        },
                        {"name": "procedure", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": _responses(
                        200, {"type": "array", "items": {"$ref": "#/components/schemas/Task"}}, 400
                    ),
                }
            },
            "/tasks/{task_id}": {
                "get": {
                    "summary": "A task with its form schema",
                    "parameters": [{"$ref": "#/components/parameters/TaskId"}],
                    "responses": _responses(200, {"$ref": "#/components/schemas/Task"}, 403, 404),
                }
            },
            "/tasks/{task_id}/claim": _task_action("Claim the task"),
            "/tasks/{task_id}/unclaim": _task_action("Give the task back to the office queue"),
            "/tasks/{task_id}/delegate": _task_action(
                "Hand the task to a colleague of the same office",
                {"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}}},
            ),
            "/tasks/{task_id}/complete": {
                "post": {
                    "summary": "Complete the task with data; a second completion is 409",
                    "parameters": [{"$ref": "#/components/parameters/TaskId"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"data": {"type": "object"}},
                                }
                            }
                        },
                    },
                    "responses": _responses(200, instance_ref, 400, 403, 404, 409, 422),
                }
            },
            "/messages": {
                "post": {
                    "summary": "Deliver a message (e.g. an addressee's answer) to waiting cases",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "correlation": {"type": "object"},
                                        "data": {"type": "object"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": _responses(
                        200,
                        {
                            "type": "object",
                            "properties": {
                                "delivered": {"type": "array", "items": {"type": "integer"}}
                            },
                        },
                        404,
                        422,
                    ),
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OK"}},
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
                    "schema": {"type": "string"},
                },
                "InstanceId": {
                    "name": "instance_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                },
            },
            "schemas": {
                "Task": TASK,
                "Instance": INSTANCE,
                "Error": {
                    "type": "object",
                    "required": ["error", "detail", "fields"],
                    "properties": {
                        "error": {"type": "string"},
                        "detail": {"type": "string"},
                        "fields": {"type": "object"},
                    },
                },
            },
        },
    }
