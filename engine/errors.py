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
    ) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.element_id = element_id
        where = []
        if filename:
            where.append(filename)
        if line:
            where.append(f"line {line}")
        if element_id:
            where.append(f"element '{element_id}'")
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
