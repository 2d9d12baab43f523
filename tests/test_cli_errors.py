"""Every configuration or database problem of the `nadzor` command is one line that says what
to do, with exit status 2: no traceback for an operator to read through."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import BENCH_MODEL, FIXTURES, PG_URL
from web.cli import main
from workflows.migrate import upgrade


def _pg(database: str, port: int | None = None) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL).set(database=database)
    if port is not None:
        url = url.set(port=port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def nadzor(monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(FIXTURES))
    monkeypatch.setenv("NADZOR_SECRET_KEY", "a-test-key-that-is-long-enough-for-serving-0123")

    def run(url: str, *args: str) -> tuple[int, list[str]]:
        monkeypatch.setenv("NADZOR_DATABASE_URL", url)
        result = CliRunner().invoke(main, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is what this test is against
        lines = [line for line in result.output.splitlines() if line.strip()]
        return result.exit_code, lines

    yield run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_database_server(nadzor) -> None:
    code, lines = nadzor(_pg("test", port=_free_port()), "definitions", "list")
    assert code == 2 and len(lines) == 1, lines
    assert (
        lines[0].startswith("error: cannot use the database") and "start the database" in lines[0]
    )


def test_a_missing_postgresql_database(nadzor) -> None:
    code, lines = nadzor(
        _pg("nadzor_no_such_database"), "timers", "fire", "--now", "2026-11-26T00:00Z"
    )
    assert code == 2 and len(lines) == 1, lines
    assert "nadzor_no_such_database" in lines[0] and "create the database" in lines[0]


@pytest.mark.parametrize("url", ["not a url", "foo://somewhere/db", "postgresql+nodriver://h/db"])
def test_an_unparsable_database_url(nadzor, url: str) -> None:
    code, lines = nadzor(url, "users", "list")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: NADZOR_DATABASE_URL") and "set it to e.g." in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("definitions", "list"),
        ("timers", "fire", "--now", "2026-11-26T00:00Z"),
        ("audit", "verify"),
        ("worker", "--once"),
        ("serve", "--port", "0"),
    ],
)
def test_an_unmigrated_database_says_run_db_upgrade(nadzor, tmp_path: Path, args) -> None:
    code, lines = nadzor(f"sqlite:///{tmp_path / 'empty.db'}", *args)
    assert code == 2 and len(lines) == 1, lines
    assert "run `nadzor db upgrade`" in lines[0]


def test_a_database_folder_that_cannot_be_made(nadzor, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for args in (("db", "upgrade"), ("definitions", "list")):
        code, lines = nadzor(f"sqlite:///{blocker / 'sub' / 'nadzor.db'}", *args)
        assert code == 2 and len(lines) == 1, lines
        assert "set NADZOR_DATABASE_URL to a writable place" in lines[0]


@pytest.mark.parametrize("command", ["validate", "publish"])
def test_a_folder_given_as_a_model(nadzor, tmp_path: Path, command: str) -> None:
    url = f"sqlite:///{tmp_path / 'nadzor.db'}"
    upgrade(url)
    said = ("--actor", "gp.methodologist", "--note", "n") if command == "publish" else ()
    code, lines = nadzor(url, "definitions", command, str(BENCH_MODEL.parent), *said)
    assert code == 2 and len(lines) == 1, lines
    assert "is a folder: give the model's .bpmn file, e.g." in lines[0]
    assert BENCH_MODEL.name in lines[0]


def test_a_port_in_use(nadzor, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nadzor.db'}"
    upgrade(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = nadzor(url, "serve", "--port", str(port), "--no-worker")
    assert code == 2 and len(lines) == 1, lines
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0] and "another --port" in lines[0]


def test_too_many_threads_are_refused_with_the_range(nadzor, tmp_path: Path) -> None:
    code, lines = nadzor(f"sqlite:///{tmp_path / 'nadzor.db'}", "serve", "--threads", "100000")
    assert code == 2 and "--threads" in lines[-1] and "1<=x<=200" in lines[-1]
