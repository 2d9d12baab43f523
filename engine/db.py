"""Database connection set-up: WAL SQLite by default, PostgreSQL when configured.

Steps write through `Database.write()`, which on SQLite begins with BEGIN IMMEDIATE so that two
writers never both read and then both try to upgrade their lock (SQLite's deadlock); on
PostgreSQL the step locks its instance row instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_ACTIVE: ContextVar[Connection | None] = ContextVar("nadzor_write_connection", default=None)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            self.engine: Engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)
            _configure_postgresql(self.engine)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._local = threading.local()
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that commits on success and rolls back on any error.

        A write opened inside another one on the same thread (a service handler writing during
        a step) joins it under a savepoint: SQLite has one writer, so a second connection would
        only wait for the first; and the handler's rows then commit or roll back with the step.
        On SQLite each thread keeps its write connection open: checking a connection out of the
        pool and resetting it on return costs more than the step's own statements.
        """
        outer = _ACTIVE.get()
        if outer is not None:
            with outer.begin_nested():
                yield outer
            return
        token = None
        try:
            if not self.is_sqlite:
                with self._writer.begin() as conn:
                    token = _ACTIVE.set(conn)
                    yield conn
                return
            conn = getattr(self._local, "conn", None)
            if conn is None or conn.closed or conn.invalidated:
                conn = self._local.conn = self._writer.connect()
            with conn.begin():
                token = _ACTIVE.set(conn)
                yield conn
        finally:
            if token is not None:
                _ACTIVE.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self.engine.dispose()


def ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Steps and queue pages are short queries: starting parallel workers for one costs
        # more (tens of ms) than it could save, so each connection runs alone.
        cur = dbapi_conn.cursor()
        cur.execute("SET max_parallel_workers_per_gather = 0")
        cur.close()
        dbapi_conn.commit()  # a SET inside a transaction rolled back later would be undone


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        # queues read large indexes: 64 MiB of page cache and a memory map keep them off the
        # read() system call (the default cache is 2 MiB)
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
