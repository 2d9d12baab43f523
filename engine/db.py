"""Database connection set-up: WAL SQLite by default, PostgreSQL when configured.

Steps write through `Database.write()`, which on SQLite begins with BEGIN IMMEDIATE so that two
writers never both read and then both try to upgrade their lock (SQLite's deadlock); on
PostgreSQL the step locks its instance row instead.

Waiting is bounded. A writer waits at most `lock_wait` seconds (5 by default) for SQLite's
write lock or a PostgreSQL row lock, and a thread at most as long for a pooled connection;
past that the caller gets `engine.errors.Busy` (the web answers 503 with Retry-After) instead
of hanging or reporting "database is locked". The pools are sized from the number of threads
that use the database at once (`threads`), so any thread count of `nadzor serve` fits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from .errors import Busy

_ACTIVE: ContextVar[Connection | None] = ContextVar("nadzor_write_connection", default=None)

#: seconds a writer waits for another step's lock (and a thread for a pooled connection)
LOCK_WAIT_SECONDS = 5.0
#: threads the pools are sized for when the caller does not say (`nadzor serve`'s default)
DEFAULT_THREADS = 8
#: connections beyond one per thread: the timer worker, audit checkpoints, a CLI command
SPARE_CONNECTIONS = 4

_SQLITE_LOCKED = ("database is locked", "database table is locked", "database is busy")
_PG_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired


def pool_size_for(threads: int) -> int:
    """Connections kept for `threads` request threads: one each, and the spare ones."""
    return max(threads, 1) + SPARE_CONNECTIONS


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        threads: int = DEFAULT_THREADS,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        """`threads`: how many threads use this database at once (the server's --threads);
        `lock_wait`: seconds to wait for a lock or a connection before `Busy`."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.lock_wait = lock_wait
        size = pool_size_for(threads)
        # a thread may hold a read connection while it writes (a read inside a step), so the
        # overflow doubles the pool rather than ever making a thread wait for another's reads
        pool = {"pool_size": size, "max_overflow": size, "pool_timeout": lock_wait}
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            connect_args = {"timeout": lock_wait}
            self.engine: Engine = create_engine(url, echo=echo, connect_args=connect_args, **pool)
            _configure_sqlite(self.engine, lock_wait)
            # Each thread keeps its write connection (see `write`): they live outside the
            # readers' pool, one per thread that ever wrote, so they can never exhaust it.
            write_engine = create_engine(
                url, echo=echo, connect_args=connect_args, poolclass=NullPool
            )
            _configure_sqlite(write_engine, lock_wait)
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, **pool)
            _configure_postgresql(self.engine, lock_wait)
            write_engine = self.engine
        self._write_engine = write_engine
        self._writer = write_engine.execution_options(sqlite_begin="IMMEDIATE")
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
        A lock held by another step past `lock_wait` raises `Busy`; nothing is written.
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
        except Exception as exc:
            if is_lock_timeout(exc):
                raise self._busy() from exc
            raise
        finally:
            if token is not None:
                _ACTIVE.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except Exception as exc:
            if is_lock_timeout(exc):
                raise self._busy() from exc
            raise

    def _busy(self) -> Busy:
        return Busy(
            f"the database stayed busy with another step for {self.lock_wait:g} s; nothing "
            "was written: try again in a few seconds"
        )

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self.engine.dispose()
        if self._write_engine is not self.engine:
            self._write_engine.dispose()


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a bounded wait that ran out: SQLite's "database is
    locked", PostgreSQL's lock_timeout, or no pooled connection free in time."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.TimeoutError):  # the pool had no connection in time
            return True
        if isinstance(current, sa_exc.OperationalError):
            orig = current.orig
            if getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
                return True
            if any(text in str(orig).lower() for text in _SQLITE_LOCKED):
                return True
        current = current.__cause__ or current.__context__
    return False


def ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_postgresql(engine: Engine, lock_wait: float) -> None:
    lock_timeout_ms = max(int(lock_wait * 1000), 1)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Steps and queue pages are short queries: starting parallel workers for one costs
        # more (tens of ms) than it could save, so each connection runs alone.
        cur = dbapi_conn.cursor()
        cur.execute("SET max_parallel_workers_per_gather = 0")
        # a step waits for another step's row lock this long, then gives up (Busy)
        cur.execute(f"SET lock_timeout = {lock_timeout_ms}")
        cur.close()
        dbapi_conn.commit()  # a SET inside a transaction rolled back later would be undone


def _configure_sqlite(engine: Engine, lock_wait: float) -> None:
    busy_timeout_ms = max(int(lock_wait * 1000), 1)

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
        # a writer waits this long for the write lock, then gets "database is locked" (Busy)
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
