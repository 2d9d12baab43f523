"""What `nadzor serve` needs around waitress: a listening server sized for its threads, a
database whose pools fit them, and logs that stay readable under load.

Kept apart from the CLI so the load tests build exactly what `serve` runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from engine.db import Database, pool_size_for

#: --threads accepted by `nadzor serve`: SQLite has one writer, so more threads only queue
#: there; PostgreSQL is further bounded by the server's max_connections (checked at start)
MAX_THREADS = 200
#: Retry-After of a 503 when the database stayed locked past the bounded wait (engine.db)
RETRY_AFTER_SECONDS = 5
#: the largest body waitress buffers at all (the app itself refuses more than 1 MiB, or 30 MiB
#: where a step may carry files: web/app.py FILE_BODY_BYTES)
WAITRESS_MAX_BODY_BYTES = 32 * 1024 * 1024
#: at most one line about queued requests per this many seconds
QUEUE_SUMMARY_SECONDS = 10.0


class QueueDepthSummary(logging.Filter):
    """Waitress warns "Task queue depth is N" once per request that waits for a free thread:
    under load that is thousands of lines (27,000 in 30 s with 50 clients). This filter lets
    one line through per `every` seconds, saying how many requests waited since the last line
    and how deep the queue got."""

    def __init__(
        self, every: float = QUEUE_SUMMARY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._waited = 0
        self._deepest = 0
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        with self._lock:
            self._waited += 1
            self._deepest = max(self._deepest, int(depth))
            now = self.clock()
            if self._last is not None and now - self._last < self.every:
                return False
            self._last = now
            waited, deepest = self._waited, self._deepest
            self._waited = self._deepest = 0
        record.msg = (
            "%d requests waited for a free thread (deepest queue %d) in the last %g s; "
            "more --threads may help"
        )
        record.args = (waited, deepest, self.every)
        return True


def quiet_queue_warnings() -> None:
    """Install the summary on waitress's queue logger (once per process)."""
    logger = logging.getLogger("waitress.queue")
    if not any(isinstance(f, QueueDepthSummary) for f in logger.filters):
        logger.addFilter(QueueDepthSummary())


def serve_database(url: str, threads: int) -> Database:
    """The database of a server with `threads` request threads (plus its timer worker)."""
    return Database(url, threads=threads)


def connection_shortfall(db: Database, threads: int) -> str | None:
    """On PostgreSQL, why the server cannot give `threads` threads a connection each (the
    pool is sized for them), or None when it can. SQLite has no such limit."""
    if db.is_sqlite:
        return None
    wanted = pool_size_for(threads)
    with db.read() as conn:
        allowed = int(conn.execute(text("SHOW max_connections")).scalar_one())
        reserved = int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one())
        used = int(conn.execute(text("SELECT count(*) FROM pg_stat_activity")).scalar_one())
    free = allowed - reserved - used + 1  # this connection is the pool's own
    if wanted <= free:
        return None
    return (
        f"--threads {threads} needs {wanted} database connections but PostgreSQL has {free} "
        f"free (max_connections {allowed}): lower --threads or raise max_connections"
    )


def create_server(app: Any, host: str, port: int, threads: int) -> Any:
    """A waitress server bound to host:port (raises OSError when the port is taken)."""
    from waitress import create_server as waitress_create_server

    quiet_queue_warnings()
    return waitress_create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="nadzor",
        # waitress buffers a body before the app sees it (1 GB by default, to a temporary
        # file); past this it answers 413 itself. Up to it the app answers its own 413.
        max_request_body_size=WAITRESS_MAX_BODY_BYTES,
    )
