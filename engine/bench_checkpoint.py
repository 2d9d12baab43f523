"""`nadzor bench checkpoint`: what a checkpoint costs with many stored cases.

Seeds `cases` cases (bulk inserts of bare case rows: a checkpoint reads no state and no events),
takes the one-off checkpoint that records every chain (what the first checkpoint after upgrading
to 0005 does), then times rounds in which `moved` cases take a step each and one signed checkpoint
records them, and one round in which nothing moved. Rows and bytes are counted by the checkpoint
itself; the old design's cost (every chain head in one row) is measured beside it.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update

from .audit_keys import AuditSettings, SigningKey
from .bench import MODEL, PROCESS_ID, percentile
from .clock import SystemClock
from .db import Database
from .engine import Engine
from .history import current_heads, record_checkpoint
from .migrate import upgrade
from .models import Definition, ProcessInstance

BATCH = 20000


def _seed(engine: Engine, cases: int) -> list[int]:
    inst = ProcessInstance.__table__
    with engine.db.read() as conn:
        definition_id = conn.execute(
            select(Definition.__table__.c.id).where(Definition.__table__.c.process_id == PROCESS_ID)
        ).scalar_one()
    now = datetime.now(UTC)
    for start in range(0, cases, BATCH):
        rows = [
            {
                "definition_id": definition_id,
                "process_id": PROCESS_ID,
                "version": 1,
                "status": "running",
                "revision": 1,
                "state": "{}",
                "business_key": None,
                "summary": {},
                "started_by": "bench",
                "office_code": f"D{n % 7:02d}",
                "created_at": now,
                "updated_at": now,
                "audit_seq": 3,
                "audit_head": hashlib.sha256(str(n).encode()).hexdigest(),
            }
            for n in range(start, min(start + BATCH, cases))
        ]
        with engine.db.write() as conn:
            conn.execute(insert(inst), rows)
    with engine.db.read() as conn:
        return list(conn.execute(select(inst.c.id)).scalars())


def _move(engine: Engine, ids: list[int]) -> None:
    """`ids` take a step: their chain grows by one event."""
    inst = ProcessInstance.__table__
    with engine.db.write() as conn:
        conn.execute(
            update(inst)
            .where(inst.c.id == bindparam("b_id"))
            .values(audit_seq=inst.c.audit_seq + 1, audit_head=bindparam("b_head")),
            [
                {"b_id": i, "b_head": hashlib.sha256(f"{i}:{time.time_ns()}".encode()).hexdigest()}
                for i in ids
            ],
        )


def _vacuum(engine: Engine) -> None:
    """What autovacuum does on its own after a mass update (the backlog marked every case):
    without it the partial index of moved cases still holds every case's dead entry."""
    raw = engine.db.engine.raw_connection()
    try:
        if engine.db.url.startswith("postgresql"):
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE process_instance")
        else:
            raw.driver_connection.execute("ANALYZE")
    finally:
        raw.close()


def run_checkpoint_bench(
    cases: int, *, moved: int = 100, rounds: int = 10, database_url: str | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nadzor-bench-cp-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = Engine(Database(url), Path(tmp), clock=SystemClock())
        try:
            engine.repository.publish(MODEL, actor="bench", now=engine.clock.now())
            return _run(engine, cases, moved, rounds)
        finally:
            engine.db.dispose()


def _run(engine: Engine, cases: int, moved: int, rounds: int) -> dict[str, Any]:
    audit = AuditSettings(key=SigningKey.generate())
    t0 = time.perf_counter()
    ids = _seed(engine, cases)
    seed_s = time.perf_counter() - t0
    now = datetime.now(UTC)

    # the backlog after upgrading to 0005 (every chain): slices, each its own transaction
    t0 = time.perf_counter()
    slices, initial_bytes, longest = 0, 0, 0.0
    while True:
        t1 = time.perf_counter()
        initial = record_checkpoint(engine.db, now, audit, only_if_moved=slices > 0)
        longest = max(longest, time.perf_counter() - t1)
        slices += 1
        initial_bytes += initial.get("bytes", 0)
        if not initial["more"]:
            break
    initial_ms = (time.perf_counter() - t0) * 1000
    _vacuum(engine)

    rng = random.Random(7)
    durations, figures = [], []
    for r in range(rounds):
        _move(engine, rng.sample(ids, min(moved, len(ids))))
        t0 = time.perf_counter()
        figures.append(record_checkpoint(engine.db, now + timedelta(minutes=r + 1), audit))
        durations.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    idle = record_checkpoint(engine.db, now + timedelta(hours=1), audit, only_if_moved=True)
    idle_ms = (time.perf_counter() - t0) * 1000

    # the design before 0005: every head, read and written as one row, on every checkpoint
    t0 = time.perf_counter()
    with engine.db.read() as conn:
        heads = current_heads(conn)
        conn.execute(text("SELECT 1"))
    legacy_bytes = len(json.dumps(heads, sort_keys=True, separators=(",", ":")))
    legacy_ms = (time.perf_counter() - t0) * 1000
    return {
        "database": engine.db.url.split(":")[0],
        "cases": cases,
        "seed_s": round(seed_s, 1),
        "moved_per_checkpoint": moved,
        "rounds": rounds,
        "checkpoint_ms_min": round(min(durations), 2),  # the least disturbed by other load
        "checkpoint_ms_p50": round(statistics.median(durations), 2),
        "checkpoint_ms_p95": round(percentile(durations, 0.95), 2),
        "checkpoint_bytes": figures[-1]["bytes"],
        "checkpoint_rows_read": figures[-1]["rows_read"],
        "checkpoint_rows_written": figures[-1]["rows_written"],
        "idle_checkpoint_ms": round(idle_ms, 2),
        "idle_checkpoint_written": idle["written"],
        "backlog_checkpoints": slices,
        "backlog_total_ms": round(initial_ms, 1),
        "backlog_longest_transaction_ms": round(longest * 1000, 1),
        "backlog_bytes": initial_bytes,
        "old_design_heads_ms": round(legacy_ms, 1),
        "old_design_bytes": legacy_bytes,
    }
