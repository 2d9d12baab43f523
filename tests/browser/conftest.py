"""Browser tests: Playwright driving Debian's Chromium against the app on a local port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.clock import FakeClock
from engine.config import Settings
from tests.conftest import BPMN_DIR
from web.app import create_app
from workflows.demo import seed_organization
from workflows.migrate import upgrade
from workflows.runtime import build_engine

CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"],
    }


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """The app on 127.0.0.1 with the demo organization, on a fresh SQLite database."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    clock = FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    engine = build_engine(Settings(url, "browser-test", BPMN_DIR), clock=clock)
    seed_organization(engine)
    engine.repository.publish(
        BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn", now=clock.now()
    )
    app = create_app({"NADZOR_ENGINE": engine, "SECRET_KEY": "browser-tests-only"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", engine
    finally:
        server.shutdown()
        engine.db.dispose()
