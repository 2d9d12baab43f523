"""The shapes of ids in this app's addresses, as URL converters shared by the API and the pages.

An id that cannot exist is a 404 from the router itself: no query runs, so no value can
overflow a database integer (both backends stop at 2**63 - 1) or carry a NUL byte or another
stray character to PostgreSQL. Every blueprint that uses them records `register_converters`
before its routes (the converters belong to the app's URL map, filled as blueprints register).

- ``case``: a case (instance) number, ASCII digits without a leading zero, 1 to 2**63 - 1;
- ``id``: any other row id (saved filters), the same shape;
- ``task``: a task id, a UUID (8-4-4-4-12 hex digits; capitals read as the same id);
- ``procedure``: a procedure (BPMN process) id: a letter or `_`, then letters, digits, `_.-`,
  at most 200 characters.
"""

from __future__ import annotations

import re
from typing import Any

from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter, ValidationError

from engine.runtime import MAX_ID

TASK_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
PROCEDURE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}")


class RowId(BaseConverter):
    """A row id: ASCII digits without a leading zero, from 1 to MAX_ID."""

    regex = r"[1-9][0-9]{0,18}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class CaseNumber(RowId):
    """A case (instance) id."""


class TaskId(BaseConverter):
    """A task id is a UUID; capitals are read as the same id."""

    regex = TASK_ID.pattern

    def to_python(self, value: str) -> str:
        return value.lower()


class ProcedureId(BaseConverter):
    """A procedure (BPMN process) id."""

    regex = PROCEDURE_ID.pattern


ID_CONVERTERS: dict[str, type[BaseConverter]] = {
    "case": CaseNumber,
    "id": RowId,
    "task": TaskId,
    "procedure": ProcedureId,
}


def register_converters(state: BlueprintSetupState) -> None:
    """Blueprint.record this before the blueprint's routes."""
    state.app.url_map.converters.update(ID_CONVERTERS)
