"""Errors the engine raises, each worded for the person who has to act on it.

Callers (CLI, web) show ``str(error)`` to users, so messages are complete sentences that
name the file, line, element or task concerned.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine reports on purpose."""


class ModelError(EngineError):
    """A BPMN/DMN/form file cannot be used; names the file, line and element id."""

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        element_id: str | None = None,
        element_name: str | None = None,
    ) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.element_id = element_id
        #: the element's name as drawn (a methodologist knows "Проверка", not "Activity_1x2")
        self.element_name = element_name
        where = []
        if filename:
            where.append(filename)
        if line:
            where.append(f"line {line}")
        if element_id:
            named = f" ({element_name})" if element_name else ""
            where.append(f"element '{element_id}'{named}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnsafeCode(EngineError):
    """An expression or script uses something outside the whitelist (found before running)."""


class ScriptFailed(EngineError):
    """An expression or script raised while running, or ran past its time bound."""


class ScriptTimeout(ScriptFailed):
    """A script or expression ran longer than allowed."""


class NotFound(EngineError):
    """An instance, task or definition does not exist."""


class InvalidOperation(EngineError):
    """The operation does not apply to the object in its current state."""


class ConflictError(EngineError):
    """Someone else changed the case first; nothing of this step was written."""

    def __init__(self, message: str, *, task_id: str | None = None, by: str | None = None) -> None:
        self.task_id = task_id
        self.by = by
        super().__init__(message)


class ServiceCallFailed(EngineError):
    """An outside system behind a service task failed; the step keeps its progress and retries."""


class FieldProblem:
    """One field's broken rule: a code the UI translates, its parameters, an English message."""

    __slots__ = ("code", "params", "message")

    def __init__(self, code: str, message: str, **params: object) -> None:
        self.code = code
        self.message = message
        self.params = params

    def __repr__(self) -> str:
        return f"FieldProblem({self.code!r}, {self.message!r}, {self.params!r})"


class ValidationFailed(EngineError):
    """Submitted data breaks the rules of the published form (start or task); nothing was
    written. `fields` maps each offending key (also keys the form does not offer) to its
    problem, so every door (page, API, CLI) can say the same thing per field."""

    def __init__(self, fields: dict[str, FieldProblem], message: str | None = None) -> None:
        self.fields = fields
        detail = "; ".join(f"{k}: {p.message}" for k, p in fields.items())
        super().__init__(message or f"the data breaks the form's rules ({detail})")


class DataRejected(EngineError):
    """Data is not plain JSON within the documented limits (depth, keys, sizes, characters);
    `path` names where in the data the problem is."""

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class Busy(EngineError):
    """The database stayed locked by another step longer than the bounded wait; nothing was
    written and the request may be retried (HTTP 503 with Retry-After)."""
