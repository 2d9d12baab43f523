"""Under load: any thread count of `nadzor serve` answers, a backlog of timers is drained in
one call, a held lock gives a clear 503 after a bounded wait, and the log stays readable."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from engine.config import Settings
from engine.db import Database
from engine.errors import Busy
from engine.models import ProcessInstance
from tests.conftest import BENCH_MODEL, BPMN_DIR, FIXTURES
from tests.test_engine_steps import PLACED, start_check
from web.app import create_app
from web.cli import main
from web.serving import QueueDepthSummary, create_server, serve_database
from workflows.demo import seed_organization
from workflows.migrate import upgrade
from workflows.runtime import build_engine
from workflows.users import UserDirectory

THREADS = 20


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'load.db'}"
    upgrade(url)
    return url


class Served:
    """A waitress server as `nadzor serve` builds it, on a free loopback port, in a thread."""

    def __init__(self, app: Any, threads: int) -> None:
        self.server = create_server(app, "127.0.0.1", 0, threads)
        self.port = self.server.effective_port
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        # waitress's own run() has no stop: poll its loop until asked, then close here
        while not self._stop.is_set():
            self.server.asyncore.loop(timeout=0.05, map=self.server._map, count=1)
        self.server.task_dispatcher.shutdown(timeout=5)
        self.server.close()

    def get(self, path: str, timeout: float = 40) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)


@pytest.fixture
def serve(sqlite_url: str) -> Iterator:  # type: ignore[no-untyped-def]
    made: list[tuple[Served, Any]] = []

    def start(threads: int, route: Any = None) -> tuple[Served, Any]:
        engine = build_engine(
            Settings(sqlite_url, "test", FIXTURES), db=serve_database(sqlite_url, threads)
        )
        app = create_app({"NADZOR_ENGINE": engine, "SECRET_KEY": "test"})
        if route is not None:
            app.add_url_rule("/load-probe", "load_probe", route(engine))
        served = Served(app, threads)
        made.append((served, engine))
        return served, engine

    yield start
    for served, engine in made:
        served.close()
        engine.db.dispose()


def _all_at_once(count: int, call: Any) -> list[Any]:
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001  (reported in the assertion)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    return results


def test_twenty_server_threads_that_each_wrote_all_answer_at_once(serve) -> None:
    """Each request thread keeps its SQLite write connection; with 20 of them busy at the same
    instant (the barrier) every one must still get a read connection and answer."""
    barrier = threading.Barrier(THREADS, timeout=20)

    def route(engine: Any) -> Any:
        def probe() -> str:
            with engine.db.write() as conn:  # this server thread now keeps a write connection
                conn.execute(text("SELECT 1"))
            barrier.wait()  # every server thread holds one at once
            with engine.db.read() as conn:
                conn.execute(select(ProcessInstance.id).limit(1)).all()
            return "ok"

        return probe

    served, _engine = serve(THREADS, route)
    started = time.monotonic()
    results = _all_at_once(THREADS, lambda: served.get("/load-probe"))
    assert results == [(200, "ok")] * THREADS
    assert time.monotonic() - started < 15  # not the 30 s pool timeout of a starved pool


def test_waitress_queue_warnings_are_one_line_not_one_per_request(serve, caplog) -> None:
    release = threading.Event()

    def route(_engine: Any) -> Any:
        def slow() -> str:
            release.wait(timeout=20)
            return "ok"

        return slow

    served, _engine = serve(1, route)
    caplog.set_level(logging.WARNING, logger="waitress.queue")
    clients = 30
    results: list[Any] = []
    runner = threading.Thread(
        target=lambda: results.extend(_all_at_once(clients, lambda: served.get("/load-probe")))
    )
    runner.start()
    deadline = time.monotonic() + 20
    while len(served.server.task_dispatcher.queue) < clients - 1:  # all queued behind one
        assert time.monotonic() < deadline, "the requests did not queue up"
        time.sleep(0.01)
    release.set()
    runner.join(timeout=60)
    assert results == [(200, "ok")] * clients
    lines = [r for r in caplog.records if r.name == "waitress.queue"]
    assert len(lines) <= 1, [r.getMessage() for r in lines]  # was one per queued request


def test_the_queue_summary_counts_what_it_kept_quiet() -> None:
    now = [0.0]
    summary = QueueDepthSummary(every=10, clock=lambda: now[0])

    def record(depth: int) -> logging.LogRecord:
        return logging.LogRecord(
            "waitress.queue", logging.WARNING, "", 0, "depth %d", (depth,), None
        )

    shown = [r for r in (record(d) for d in range(1, 501)) if summary.filter(r)]
    assert len(shown) == 1
    now[0] = 10.5
    last = record(3)
    assert summary.filter(last)
    assert last.getMessage().startswith("500 requests waited for a free thread (deepest queue 500)")


def test_one_timers_fire_drains_twelve_hundred_due_timers(
    make_engine, database_url, monkeypatch
) -> None:
    engine = make_engine()
    start_check(engine)
    for _ in range(1199):
        engine.runtime.start(
            "bench_penalty_check",
            {"placed_at": PLACED, "remote": False, "convict_name": "P", "office_code": "D01"},
            actor="ivanov",
        )
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(FIXTURES))
    result = CliRunner().invoke(
        main, ["timers", "fire", "--now", "2026-11-26T00:00:00Z"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["fired"] == 1200  # was 500: one batch only
    with engine.db.read() as conn:
        statuses = conn.execute(select(ProcessInstance.status)).scalars().all()
    assert statuses == ["completed"] * 1200


# -- a lock held past the bounded wait -------------------------------------------------------


@pytest.fixture
def busy_api(database_url: str, clock) -> Iterator:  # type: ignore[no-untyped-def]
    """The API over an engine that waits 0.3 s for a lock (5 s in production)."""
    settings = Settings(database_url=database_url, secret_key="test", bpmn_dir=BPMN_DIR)
    engine = build_engine(settings, clock=clock, db=Database(database_url, lock_wait=0.3))
    seed_organization(engine)
    engine.repository.publish(BENCH_MODEL, now=clock.now())
    app = create_app({"NADZOR_ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    token = UserDirectory(engine.db).issue_token("tlg.prosecutor")
    yield engine, app.test_client(), {"Authorization": f"Bearer {token}"}
    engine.db.dispose()


def _hold_lock(database_url: str, instance_id: int) -> Any:
    """Another process's long step: SQLite's write lock, or the case's row on PostgreSQL."""
    if database_url.startswith("sqlite"):
        raw = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        return raw
    other = create_engine(database_url)
    conn = other.connect()
    conn.begin()
    conn.execute(
        select(ProcessInstance.id).where(ProcessInstance.id == instance_id).with_for_update()
    ).all()
    conn.release = lambda: (conn.rollback(), conn.close(), other.dispose())  # type: ignore[attr-defined]
    return conn


def _release(holder: Any) -> None:
    if isinstance(holder, sqlite3.Connection):
        holder.rollback()
        holder.close()
    else:
        holder.release()


def test_a_lock_held_too_long_is_a_503_with_retry_after_and_nothing_written(
    busy_api, database_url
) -> None:
    engine, client, auth = busy_api
    started = client.post(
        "/api/v1/procedures/bench_penalty_check/instances",
        headers=auth,
        json={
            "institution": "UK-161-2",
            "convict_name": "Петров",
            "remote": False,
            "placed_at": "2026-11-24T09:30:00+05:00",
        },
    )
    assert started.status_code == 201, started.json
    instance_id, task_id = started.json["id"], started.json["tasks"][0]["id"]
    events_before = len(engine.history.events(instance_id))

    holder = _hold_lock(database_url, instance_id)
    try:
        began = time.monotonic()
        answer = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth)
        waited = time.monotonic() - began
    finally:
        _release(holder)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"].isdigit()
    assert answer.json["error"] == "busy" and "try again" in answer.json["detail"]
    assert waited < 3  # the configured 0.3 s wait, not SQLite's former 30 s
    assert len(engine.history.events(instance_id)) == events_before  # nothing written

    again = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth)
    assert again.status_code == 200 and again.json["assignee"] == "tlg.prosecutor"


def test_a_write_waits_only_the_bounded_time_for_sqlites_lock(sqlite_url: str) -> None:
    db = Database(sqlite_url, lock_wait=0.2)
    holder = _hold_lock(sqlite_url, 0)
    try:
        began = time.monotonic()
        with pytest.raises(Busy, match="try again"), db.write() as conn:
            conn.execute(text("SELECT 1"))
        assert time.monotonic() - began < 2
    finally:
        _release(holder)
        db.dispose()


def test_a_page_that_meets_a_held_lock_says_so_with_503(sqlite_url: str, clock) -> None:
    settings = Settings(database_url=sqlite_url, secret_key="test", bpmn_dir=BPMN_DIR)
    engine = build_engine(settings, clock=clock, db=Database(sqlite_url, lock_wait=0.2))
    seed_organization(engine)
    app = create_app({"NADZOR_ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    app.config["WTF_CSRF_ENABLED"] = False
    holder = _hold_lock(sqlite_url, 0)
    try:
        page = app.test_client().post(
            "/login", data={"login": "tlg.prosecutor", "password": "nadzor-demo"}
        )
    finally:
        _release(holder)
        engine.db.dispose()
    assert page.status_code == 503
    assert page.headers["Retry-After"].isdigit()
    assert "Повторите через несколько секунд" in page.get_data(as_text=True)


def test_a_huge_body_is_refused_by_the_server_before_it_is_buffered(serve) -> None:
    """Waitress buffers a body whole before the app sees it (1 GB by default): a 200 MB upload
    filled a temporary file. Past 32 MiB the server itself answers 413 and stops reading; under
    that the app answers its own 413 in JSON (its limit is 1 MiB)."""
    served, _engine = serve(2)

    def post(size: int) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        try:
            conn.putrequest("POST", "/api/v1/messages")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            with contextlib.suppress(OSError):  # the server may close before all is sent
                conn.send(b" " * (size if size <= 4 * 1024 * 1024 else 64 * 1024))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    status, _body = post(200 * 1024 * 1024)
    assert status == 413
    status, body = post(2 * 1024 * 1024)
    assert status == 413 and b'"error"' in body  # the app's own JSON answer
