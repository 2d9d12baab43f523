"""Shared fixtures: a migrated database per test on SQLite and on PostgreSQL, a fake clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.clock import FakeClock
from engine.db import Database
from engine.engine import Engine
from workflows.demo import seed_organization
from workflows.migrate import upgrade as domain_upgrade
from workflows.runtime import build_engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BENCH_MODEL = ROOT / "engine" / "benchdata" / "penalty_check.bpmn"
PG_URL = os.environ.get("NADZOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [
    b.strip() for b in os.environ.get("NADZOR_TEST_BACKENDS", "sqlite,postgresql").split(",")
]


BPMN_DIR = ROOT / "bpmn"

# the app refuses to start without a session key (engine/config.py); the tests' apps get one
# unless a test takes it away on purpose (tests/test_sessions.py)
os.environ.setdefault("NADZOR_SECRET_KEY", "tests-only-" + uuid.uuid4().hex)


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database: a SQLite file, or a throw-away PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nadzor.db'}"
        domain_upgrade(url)
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _pg_schema_url(schema)
    try:
        domain_upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))  # 10:00 in Almaty


@pytest.fixture
def make_engine(database_url: str, clock: FakeClock) -> Iterator:
    """Engines over the same database (separate processes' view: separate caches)."""
    made: list[Engine] = []

    def factory(**kwargs: object) -> Engine:
        kwargs.setdefault("clock", clock)
        engine = Engine(Database(database_url), FIXTURES, **kwargs)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.db.dispose()


@pytest.fixture
def engine(make_engine) -> Engine:  # type: ignore[no-untyped-def]
    return make_engine()


@pytest.fixture
def domain_engine(database_url: str, clock: FakeClock) -> Iterator[Engine]:
    """The engine as the application builds it: demo organization, procedures in `bpmn/`."""
    from engine.config import Settings

    settings = Settings(database_url=database_url, secret_key="test", bpmn_dir=BPMN_DIR)
    engine = build_engine(settings, clock=clock)
    seed_organization(engine)
    yield engine
    engine.db.dispose()
