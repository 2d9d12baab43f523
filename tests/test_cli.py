"""The `nadzor` command as outside systems and operators use it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from engine.config import load_settings
from engine.models import AuditEvent
from tests.conftest import BENCH_MODEL, FIXTURES
from web.cli import main
from workflows.demo import seed_organization
from workflows.runtime import build_engine


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(FIXTURES))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    invoke("db", "upgrade")
    return invoke


def _methodologist() -> None:
    """The demo organization: publishing takes a methodologist (gp.methodologist)."""
    engine = build_engine(load_settings())
    try:
        seed_organization(engine)
    finally:
        engine.db.dispose()


PUBLISH_AS = ("--actor", "gp.methodologist", "--note", "first version")


def test_publish_list_and_a_second_publish_changes_nothing(cli) -> None:
    _methodologist()
    first = json.loads(cli("definitions", "publish", str(BENCH_MODEL), *PUBLISH_AS, "--json"))
    again = json.loads(cli("definitions", "publish", str(BENCH_MODEL), *PUBLISH_AS, "--json"))
    assert first["created"] is True and again["created"] is False
    assert first["note"] == again["note"] == "first version"
    assert first["version"] == again["version"] == 1
    [row] = json.loads(cli("definitions", "list", "--json"))
    assert (row["process_id"], row["version"], row["sha256"]) == (
        "bench_penalty_check",
        1,
        first["sha256"],
    )


def test_validate_names_the_problem_and_exits_1(cli, tmp_path: Path) -> None:
    evil = tmp_path / "evil.bpmn"
    evil.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    )
    out = json.loads(cli("definitions", "validate", str(evil), "--json", code=1))
    assert out["ok"] is False and "DOCTYPE" in out["error"] and out["filename"] == "evil.bpmn"
    ok = json.loads(cli("definitions", "validate", str(BENCH_MODEL), "--json"))
    assert ok["ok"] is True and ok["process_id"] == "bench_penalty_check"


def test_timers_fire_catches_up_as_of_the_given_instant(cli) -> None:
    _methodologist()
    cli("definitions", "publish", str(BENCH_MODEL), *PUBLISH_AS)
    engine = build_engine(load_settings())  # the wall clock: the deadline must lie ahead of it
    placed = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    engine.runtime.start(
        "bench_penalty_check", {"placed_at": placed.isoformat(), "remote": False}, actor="ivanov"
    )
    before, after = ((placed + timedelta(hours=24, minutes=m)).isoformat() for m in (-1, 1))
    assert json.loads(cli("timers", "fire", "--now", before))["fired"] == 0
    assert json.loads(cli("timers", "fire", "--now", after))["fired"] == 1
    assert json.loads(cli("timers", "fire", "--now", after))["fired"] == 0
    cli("timers", "fire", "--now", "yesterday", code=2)

    verified = json.loads(cli("audit", "verify", "--json"))
    assert verified["ok"] is True and verified["events"] >= 5
    with engine.db.write() as conn:
        conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 2).values(actor="x"))
    broken = json.loads(cli("audit", "verify", "--json", code=1))
    assert broken["ok"] is False and broken["seq"] == 2


def test_bench_api_prints_its_figures() -> None:
    """The benchmark's keys are a contract; the figures themselves are not asserted."""
    result = CliRunner().invoke(main, ["bench", "api", "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {"complete_p50_ms", "complete_p95_ms", "start_p50_ms", "cases_per_s"} <= set(figures)
    assert figures["completions"] == 6


def test_bench_engine_prints_its_figures() -> None:
    result = CliRunner().invoke(
        main, ["bench", "engine", "-n", "10", "--scale-instances", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {
        "inmemory_steps_per_s",
        "roundtrip_steps_per_s",
        "persisted_steps_per_s",
        "ratio_vs_inmemory",
        "ratio_vs_roundtrip",
        "p50_step_ms",
        "p95_step_ms",
        "state_bytes",
    } <= set(figures)
    assert figures["steps"] == 25


def test_a_dangling_sequence_flow_is_named(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_text(BENCH_MODEL.read_text().replace('targetRef="lawful_gw"', 'targetRef="nowhere"'))
    out = json.loads(cli("definitions", "validate", str(bad), "--json", code=1))
    assert out["element_id"] == "f_check_gw" and "nowhere" in out["error"] and out["line"]


def test_an_event_based_gateway_is_refused_with_the_reason(cli, tmp_path: Path) -> None:
    bad = tmp_path / "gw.bpmn"
    bad.write_text(
        BENCH_MODEL.read_text()
        .replace(
            '<bpmn:exclusiveGateway id="lawful_gw" name="Lawful?" default="f_gw_act">',
            '<bpmn:eventBasedGateway id="lawful_gw" name="Lawful?">',
        )
        .replace("</bpmn:exclusiveGateway>", "</bpmn:eventBasedGateway>")
    )
    out = json.loads(cli("definitions", "validate", str(bad), "--json", code=1))
    assert out["element_id"] == "lawful_gw" and "event-based" in out["error"]
