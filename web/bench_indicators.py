"""`nadzor bench indicators`: a region's quarter of figures over 100,000 cases, timed.

The indicators are read by heads and pre-fill every quarterly report, so they must stay fast
when the database holds a whole country's cases over years (issue 12: p95 <= 200 ms for a
region's quarter at 100,000 cases). The database is filled as `nadzor bench queue` fills it
(web/bench_queue.py: real penalty-room cases started through the engine, then copied in SQL up
to N cases); this benchmark only spreads the cases' receipt dates over two years, as a real
database's are, so that a quarter holds about an eighth of them. Then `figures()` — the
function every door and the quarterly report call — is timed for the region of the crowded
office (Almaty region) and its last full quarter, R times after a warm-up.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from engine.bench import percentile
from engine.calendar import ALMATY
from engine.engine import Engine
from engine.models import ProcessInstance
from workflows.indicators import figures, period_bounds, quarter_of

from .bench_audit import _vacuum
from .bench_queue import REAL_CASES, _multiply, _prepare, _start_real_cases

REGION = "ALM-OBL"
#: the receipt dates spread over this many days before the benchmark's "now"
SPREAD_DAYS = 730


def _spread(engine: Engine) -> None:
    """Move each case's receipt back by (id * 7919) % SPREAD_DAYS days (tasks keep theirs:
    only the case's date chooses its period)."""
    with engine.db.write() as conn:
        days = f"((id * 7919) % {SPREAD_DAYS})"
        if conn.dialect.name == "sqlite":
            shifted = f"datetime(created_at, '-' || {days} || ' days') || substr(created_at, 20)"
        else:
            shifted = f"created_at - {days} * interval '1 day'"
        conn.execute(text(f"UPDATE process_instance SET created_at = {shifted}"))


def _last_full_quarter(engine: Engine) -> tuple[date, date]:
    today = engine.clock.now().astimezone(ALMATY).date()
    start, _ = quarter_of(today)
    return quarter_of(date.fromordinal(start.toordinal() - 1))


def run_indicators_bench(
    cases: int = 100_000, repeat: int = 30, database_url: str | None = None
) -> dict[str, Any]:
    """Fill a fresh database with `cases` cases and time a region's quarter `repeat` times."""
    if repeat < 1 or cases < 1:
        raise ValueError("cases and repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="nadzor-indicators-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = _prepare(url)
        try:
            t0 = time.perf_counter()
            _start_real_cases(engine, min(REAL_CASES, cases))
            _multiply(engine, cases)
            _spread(engine)
            _vacuum(engine)  # statistics; on PostgreSQL the UPDATE's dead rows cleared too
            fill_s = time.perf_counter() - t0
            start, end = _last_full_quarter(engine)
            begin, finish = period_bounds(start, end)
            pi = ProcessInstance
            with engine.db.read() as conn:
                stored = conn.execute(select(func.count()).select_from(pi)).scalar_one()
                in_quarter = conn.execute(
                    select(func.count())
                    .select_from(pi)
                    .where(pi.created_at >= begin, pi.created_at < finish)
                ).scalar_one()
            now = engine.clock.now()
            result = figures(engine.db, REGION, start, end, now=now)  # warm-up
            durations = []
            for _ in range(repeat):
                t = time.perf_counter()
                result = figures(engine.db, REGION, start, end, now=now)
                durations.append((time.perf_counter() - t) * 1000)
        finally:
            engine.db.dispose()
    return {
        "backend": engine.db.engine.dialect.name,
        "cases": stored,
        "cases_in_quarter": in_quarter,
        "region": REGION,
        "region_cases_in_quarter": result["penalty_room_checks"]["total"],
        "period": f"{start.isoformat()}..{end.isoformat()}",
        "repeat": repeat,
        "fill_s": round(fill_s, 2),
        "p50_ms": round(statistics.median(durations), 2),
        "p95_ms": round(percentile(durations, 95), 2),
        "max_ms": round(max(durations), 2),
    }
