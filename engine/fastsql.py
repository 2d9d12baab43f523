"""Hot-path statements compiled once per dialect and run on the step's DBAPI cursor.

SQLAlchemy spends 30-50 µs of Python on each `execute` (cache key, parameter processing,
result wrapping) where SQLite needs 3 µs; a step runs six or seven statements. `Prepared` keeps
SQLAlchemy's compiled SQL and its type processors (dates, JSON) and skips the rest. It runs in
the same transaction, on the same connection, as the SQLAlchemy statements around it.
Rows come back as the driver gives them: callers convert dates (`models.as_utc`) and JSON.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import Executable


class _Compiled:
    def __init__(self, stmt: Any, dialect: Dialect, column_keys: Sequence[str] | None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self.positional = dialect.positional
        self.names: list[str] = list(compiled.positiontup or compiled.binds.keys())
        # literals in the statement (e.g. state == "ready") are binds with a value of their own
        self.defaults = {
            n: compiled.binds[n].value if n in compiled.binds else None for n in self.names
        }
        processors = compiled._bind_processors
        self.processors: list[Callable[[Any], Any] | None] = [processors.get(n) for n in self.names]
        selected = getattr(stmt, "selected_columns", None)
        returning = getattr(stmt, "_returning", ())
        columns = [
            c.key for c in (selected if selected is not None and not returning else returning)
        ]
        self.row = namedtuple("Row", columns) if columns else None  # type: ignore[misc]

    def bind(self, params: dict[str, Any]) -> Any:
        values = []
        for name, proc in zip(self.names, self.processors, strict=True):
            value = params[name] if name in params else self.defaults[name]
            values.append(proc(value) if proc is not None else value)
        return values if self.positional else dict(zip(self.names, values, strict=True))


class Prepared:
    def __init__(self, stmt: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.stmt = stmt
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        name = conn.dialect.name
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = _Compiled(self.stmt, conn.dialect, self.column_keys)
        return compiled

    def execute(self, conn: Connection, params: dict[str, Any]) -> Any:
        compiled = self._for(conn)
        cursor = conn.connection.cursor()
        cursor.execute(compiled.sql, compiled.bind(params))
        return cursor

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        compiled = self._for(conn)
        row = self.execute(conn, params).fetchone()
        return compiled.row(*row) if row is not None and compiled.row else row

    def all(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        compiled = self._for(conn)
        rows = self.execute(conn, params).fetchall()
        return [compiled.row(*r) for r in rows] if compiled.row else rows

    def rowcount(self, conn: Connection, params: dict[str, Any]) -> int:
        return self.execute(conn, params).rowcount

    def many(self, conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
        compiled = self._for(conn)
        cursor = conn.connection.cursor()
        cursor.executemany(compiled.sql, [compiled.bind(r) for r in rows])
