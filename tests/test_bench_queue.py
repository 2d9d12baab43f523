"""`nadzor bench queue` fills what it says and draws every queue page without a restore.

Correctness only: the figures are timings of a shared machine and are not asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from web.bench_queue import run_queue_bench
from web.cli import main

PAGES = ("office", "overdue", "soon", "mine", "search", "institution", "page20")


def test_the_queue_benchmark_fills_n_open_cases_and_restores_no_workflow(tmp_path: Path) -> None:
    figures = run_queue_bench(600, 2, f"sqlite:///{tmp_path / 'queue.db'}")
    assert figures["backend"] == "sqlite"
    assert figures["real_cases"] == 500
    assert figures["open_cases"] == 600
    assert figures["open_tasks"] >= 600
    assert figures["office_tasks"] > 0
    assert figures["workflow_restores"] == 0
    for page in PAGES:
        assert figures[f"{page}_p50_ms"] > 0
        assert figures[f"{page}_p95_ms"] >= figures[f"{page}_p50_ms"]
    # every filter finds something, so no page is timed on an empty result by mistake
    for page in ("mine", "search", "institution", "overdue", "soon"):
        assert figures[f"{page}_total"] not in ("0", ""), page
    assert figures["page20_total"] == str(figures["office_tasks"])  # below the count cap


def test_the_queue_benchmark_refuses_a_database_that_has_cases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    run_queue_bench(30, 1, url, real_cases=30)
    result = CliRunner().invoke(main, ["bench", "queue", "--cases", "30", "--database-url", url])
    assert result.exit_code != 0
    assert "without cases" in str(result.exception)


def test_the_queue_benchmark_command_prints_one_json_object() -> None:
    result = CliRunner().invoke(
        main, ["bench", "queue", "--cases", "40", "--repeat", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["open_cases"] == 40 and figures["workflow_restores"] == 0
    assert {f"{page}_p50_ms" for page in PAGES} <= set(figures)
