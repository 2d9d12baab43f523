"""Create the PostgreSQL database the tests use when it is missing (`make test` runs this).

The tests make a schema per test inside it (tests/conftest.py); the database itself must
exist. It is created on the server of NADZOR_TEST_PG_URL when absent; an existing one is left
as it is. Skipped when NADZOR_TEST_BACKENDS leaves PostgreSQL out.

Run as `python -m tests.ensure_pg_database` from the project folder.
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.conftest import BACKENDS, PG_URL


def ensure_database(url_text: str) -> str:
    """Create the database of `url_text` if it does not exist; say what was done."""
    url = make_url(url_text)
    name = url.database or "test"
    params = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or os.environ.get("PGUSER") or "postgres",
        "password": url.password,
        "connect_timeout": 5,
    }
    last: Exception | None = None
    for maintenance in ("postgres", "template1"):
        try:
            with psycopg.connect(dbname=maintenance, autocommit=True, **params) as conn:
                found = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if found:
                    return f"test database {name} exists"
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except psycopg.errors.DuplicateDatabase:  # made meanwhile by another run
                    return f"test database {name} exists"
                return f"created the test database {name}"
        except psycopg.OperationalError as exc:
            last = exc
    raise ConnectionError(" ".join(str(last).split())) from last


def main() -> int:
    if "postgresql" not in BACKENDS:
        return 0
    try:
        print(ensure_database(PG_URL))
    except ConnectionError as exc:
        where = make_url(PG_URL).render_as_string(hide_password=True)
        print(
            f"PostgreSQL for the tests is not reachable at {where} ({exc}): start it, set "
            "NADZOR_TEST_PG_URL, or run the tests on SQLite only with NADZOR_TEST_BACKENDS=sqlite",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
