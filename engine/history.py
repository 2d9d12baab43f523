"""The tamper-evident history: hash-chained audit events, checkpoints and their verification.

Each case has its own chain whose head lives on the case's row, so steps on different cases never
wait on a shared tail; events outside cases go to the `system` chain (head in `audit_chain`).
A checkpoint hashes every chain head, so deleting a whole case's chain is caught as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from .models import AuditChain, AuditCheckpoint, AuditEvent, ProcessInstance

SYSTEM_CHAIN = "system"
GENESIS = "0" * 64

events_table = AuditEvent.__table__
instance_table = ProcessInstance.__table__
chain_table = AuditChain.__table__
checkpoint_table = AuditCheckpoint.__table__


def case_chain(instance_id: int) -> str:
    return f"case:{instance_id}"


def iso_utc(instant: datetime) -> str:
    """One spelling of an instant for hashing, whatever the database hands back."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(row: dict[str, Any]) -> str:
    content = {
        "chain": row["chain"],
        "seq": row["seq"],
        "instant": iso_utc(row["instant"]),
        "actor": row["actor"],
        "office_code": row["office_code"],
        "instance_id": row["instance_id"],
        "task_guid": row["task_guid"],
        "task_name": row["task_name"],
        "event_type": row["event_type"],
        "data_before": row["data_before"],
        "data_after": row["data_after"],
        "prev_hash": row["prev_hash"],
    }
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


@dataclass
class PendingEvent:
    """An event a step has decided to record; chained and written at the step's end."""

    event_type: str
    actor: str
    office_code: str | None = None
    task_guid: str | None = None
    task_name: str | None = None
    data_before: Any = None
    data_after: Any = None


@dataclass
class ChainedRows:
    rows: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    head: str = GENESIS


def chain_events(
    chain: str,
    instance_id: int | None,
    start_seq: int,
    start_head: str,
    instant: datetime,
    events: Sequence[PendingEvent],
) -> ChainedRows:
    out = ChainedRows(seq=start_seq, head=start_head or GENESIS)
    for ev in events:
        out.seq += 1
        row = {
            "chain": chain,
            "seq": out.seq,
            "instant": instant,
            "actor": ev.actor,
            "office_code": ev.office_code,
            "instance_id": instance_id,
            "task_guid": ev.task_guid,
            "task_name": ev.task_name,
            "event_type": ev.event_type,
            "data_before": ev.data_before,
            "data_after": ev.data_after,
            "prev_hash": out.head,
        }
        row["hash"] = event_hash(row)
        out.head = row["hash"]
        out.rows.append(row)
    return out


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(events_table), rows)


def append_case_event(
    conn: Connection, instance_id: int, now: datetime, event: PendingEvent
) -> None:
    """Append one event to a case's chain outside a workflow step (the case row must be locked
    or, on SQLite, the write transaction held)."""
    seq, head = conn.execute(
        select(instance_table.c.audit_seq, instance_table.c.audit_head).where(
            instance_table.c.id == instance_id
        )
    ).one()
    chained = chain_events(case_chain(instance_id), instance_id, seq, head, now, [event])
    insert_events(conn, chained.rows)
    conn.execute(
        update(instance_table)
        .where(instance_table.c.id == instance_id)
        .values(audit_seq=chained.seq, audit_head=chained.head)
    )


def append_system_events(
    conn: Connection, instant: datetime, events: Sequence[PendingEvent]
) -> None:
    """Append to the system chain inside the caller's transaction (its head row is locked)."""
    stmt = select(chain_table.c.seq, chain_table.c.head).where(chain_table.c.chain == SYSTEM_CHAIN)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    current = conn.execute(stmt).first()
    if current is None:
        conn.execute(insert(chain_table).values(chain=SYSTEM_CHAIN, seq=0, head=GENESIS))
        seq, head = 0, GENESIS
        if conn.dialect.name == "postgresql":
            conn.execute(stmt).first()
    else:
        seq, head = current
    chained = chain_events(SYSTEM_CHAIN, None, seq, head, instant, events)
    insert_events(conn, chained.rows)
    conn.execute(
        update(chain_table)
        .where(chain_table.c.chain == SYSTEM_CHAIN)
        .values(seq=chained.seq, head=chained.head)
    )


def current_heads(conn: Connection) -> dict[str, list[Any]]:
    heads: dict[str, list[Any]] = {}
    for iid, seq, head in conn.execute(
        select(instance_table.c.id, instance_table.c.audit_seq, instance_table.c.audit_head)
    ):
        if seq:
            heads[case_chain(iid)] = [seq, head]
    for chain, seq, head in conn.execute(
        select(chain_table.c.chain, chain_table.c.seq, chain_table.c.head)
    ):
        if seq:
            heads[chain] = [seq, head]
    return heads


def _checkpoint_hash(instant: datetime, heads: dict[str, Any], events: int, prev: str) -> str:
    content = {"instant": iso_utc(instant), "heads": heads, "events": events, "prev_hash": prev}
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


def write_checkpoint(conn: Connection, instant: datetime) -> dict[str, Any]:
    """Record a hash over all chain heads now; called periodically by the worker."""
    heads = current_heads(conn)
    events = conn.execute(select(func.count()).select_from(events_table)).scalar_one()
    last = conn.execute(
        select(checkpoint_table.c.hash).order_by(checkpoint_table.c.id.desc()).limit(1)
    ).scalar()
    prev = last or GENESIS
    digest = _checkpoint_hash(instant, heads, events, prev)
    conn.execute(
        insert(checkpoint_table).values(
            instant=instant, heads=heads, events=events, prev_hash=prev, hash=digest
        )
    )
    return {"chains": len(heads), "events": events, "hash": digest}


@dataclass
class VerifyResult:
    ok: bool
    events: int
    problem: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "events": self.events}
        if self.problem:
            out.update(self.problem)
        return out


def _broken(events: int, reason: str, **where: Any) -> VerifyResult:
    return VerifyResult(False, events, {"error": reason, **where})


def verify(conn: Connection) -> VerifyResult:
    """Walk every chain, then every checkpoint; report the first row that does not hold."""
    cols = events_table.c
    rows: Iterable[Any] = conn.execute(
        select(events_table).order_by(cols.chain, cols.seq)
    ).mappings()
    count = 0
    heads: dict[str, list[Any]] = {}
    hashes: dict[tuple[str, int], str] = {}
    chain, expected_seq, prev = None, 0, GENESIS
    for row in rows:
        count += 1
        if row["chain"] != chain:
            chain, expected_seq, prev = row["chain"], 0, GENESIS
        expected_seq += 1
        where = {"id": row["id"], "chain": row["chain"], "seq": row["seq"]}
        if row["seq"] != expected_seq:
            return _broken(count, f"event {expected_seq} of chain {chain} is missing", **where)
        if row["prev_hash"] != prev:
            return _broken(count, "prev_hash does not match the previous event", **where)
        if event_hash(dict(row)) != row["hash"]:
            return _broken(count, "content does not match its hash (row altered)", **where)
        prev = row["hash"]
        hashes[(chain, row["seq"])] = prev
        heads[chain] = [row["seq"], row["hash"]]

    for name, (seq, head) in current_heads(conn).items():
        if heads.get(name) != [seq, head]:
            return _broken(count, f"chain {name} ends before its recorded head {seq}", chain=name)

    prev_cp = GENESIS
    for cp in conn.execute(select(checkpoint_table).order_by(checkpoint_table.c.id)).mappings():
        if cp["prev_hash"] != prev_cp or cp["hash"] != _checkpoint_hash(
            cp["instant"], cp["heads"], cp["events"], cp["prev_hash"]
        ):
            return _broken(count, "checkpoint altered", checkpoint=cp["id"])
        prev_cp = cp["hash"]
        for name, (seq, head) in cp["heads"].items():
            if hashes.get((name, seq)) != head:
                return _broken(
                    count,
                    f"chain {name} no longer holds event {seq} recorded by checkpoint {cp['id']}",
                    checkpoint=cp["id"],
                    chain=name,
                )
    return VerifyResult(True, count)
