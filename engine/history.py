"""The tamper-evident history: hash-chained audit events, checkpoints and their verification.

Each case has its own chain whose head lives on the case's row, so steps on different cases never
wait on a shared tail; events outside cases go to the `system` chain (head in `audit_chain`).

A checkpoint records the heads of the chains that moved since the previous one, as the leaves of
a Merkle tree (`audit_checkpoint_head`), hashes its root with the previous checkpoint's hash and
is signed with a key outside the database (engine/audit_keys.py), then copied to an external log.
Its cost depends on what moved, not on the number of cases: the cases whose `audit_seq` differs
from `audit_checkpoint_seq` are found through a partial index. Recomputing every hash inside the
database is then caught by the signature; deleting a whole case's chain, by the head a checkpoint
recorded for it; deleting the newest checkpoints, by the external log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from .audit_keys import AuditSettings, from_environment, verify_signature
from .merkle import leaf_hash, merkle_root
from .models import (
    AuditChain,
    AuditCheckpoint,
    AuditCheckpointHead,
    AuditEvent,
    AuditVerification,
    Definition,
    HumanTask,
    ProcessInstance,
)

SYSTEM_CHAIN = "system"
GENESIS = "0" * 64

events_table = AuditEvent.__table__
instance_table = ProcessInstance.__table__
chain_table = AuditChain.__table__
checkpoint_table = AuditCheckpoint.__table__
checkpoint_head_table = AuditCheckpointHead.__table__
verification_table = AuditVerification.__table__
definition_table = Definition.__table__
task_table = HumanTask.__table__
#: serializes checkpoint writers on PostgreSQL (several workers may run)
CHECKPOINT_LOCK = 0x6E61647A6F72


def case_chain(instance_id: int) -> str:
    return f"case:{instance_id}"


def iso_utc(instant: datetime) -> str:
    """One spelling of an instant for hashing, whatever the database hands back."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: what an event's hash covers (an export carries exactly these, so an outsider can recompute it)
HASHED_FIELDS = (
    "chain",
    "seq",
    "instant",
    "actor",
    "office_code",
    "instance_id",
    "task_guid",
    "task_name",
    "event_type",
    "data_before",
    "data_after",
    "prev_hash",
)


def event_hash(row: dict[str, Any]) -> str:
    content = {name: row[name] for name in HASHED_FIELDS}
    content["instant"] = iso_utc(row["instant"])
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


# -- checkpoints -------------------------------------------------------------------------------


def _legacy_checkpoint_hash(
    instant: datetime, heads: dict[str, Any], events: int, prev: str
) -> str:
    """Checkpoints written before 0005: a hash over every chain head."""
    content = {"instant": iso_utc(instant), "heads": heads, "events": events, "prev_hash": prev}
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


def checkpoint_hash(instant: datetime | str, root: str, chains: int, events: int, prev: str) -> str:
    """What a checkpoint's signature covers: its instant, the Merkle root over the heads that
    moved, how many they are, the running count of events and the previous checkpoint."""
    when = instant if isinstance(instant, str) else iso_utc(instant)
    content = {
        "instant": when,
        "root": root,
        "chains": chains,
        "events": events,
        "prev_hash": prev,
    }
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


#: chains one checkpoint records at most: a backlog (every chain, after upgrading to 0005) is
#: taken in slices of a second or so, each its own transaction, instead of one long lock
CHECKPOINT_BATCH = 5000


def _moved_cases(conn: Connection, limit: int) -> list[Any]:
    c = instance_table.c
    stmt = (
        select(c.id, c.audit_seq, c.audit_head, c.audit_checkpoint_seq)
        .where(c.audit_seq != c.audit_checkpoint_seq)
        .order_by(c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # a case inside a step keeps its lock: it is recorded by the next checkpoint instead of
        # making this one wait
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


def _moved_chains(conn: Connection) -> list[Any]:
    c = chain_table.c
    stmt = select(c.chain, c.seq, c.head, c.checkpoint_seq).where(c.seq != c.checkpoint_seq)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


def _last_checkpoint(conn: Connection) -> Any:
    c = checkpoint_table.c
    return conn.execute(
        select(c.id, c.hash, c.events, c.root, c.key_id).order_by(c.id.desc()).limit(1)
    ).first()


def write_checkpoint(
    conn: Connection,
    instant: datetime,
    audit: AuditSettings | None = None,
    *,
    only_if_moved: bool = False,
    batch: int | None = None,
) -> dict[str, Any]:
    """Record the heads of the chains that moved since the last checkpoint, signed.

    Reads and writes only those chains (one index probe finds them). With `only_if_moved` (the
    worker) nothing is written when nothing moved, unless the newest checkpoint is not signed by
    the key in use (a key was just configured): the newest must always carry a valid signature.
    The caller copies the returned `log_entry` to the external log once the transaction commits.
    """
    audit = audit if audit is not None else from_environment()
    key = audit.key
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHECKPOINT_LOCK})
    batch = batch or CHECKPOINT_BATCH
    cases = _moved_cases(conn, batch)
    chains = _moved_chains(conn)
    last = _last_checkpoint(conn)
    unsigned_tail = key is not None and last is not None and last.key_id != key.key_id
    if only_if_moved and not cases and not chains and not unsigned_tail:
        return {
            "written": False,
            "chains": 0,
            "events": last.events if last else 0,
            "more": False,
        }

    leaves = [(case_chain(r.id), r.audit_seq, r.audit_head) for r in cases]
    leaves += [(r.chain, r.seq, r.head) for r in chains]
    leaves.sort()
    new_events = sum(r.audit_seq - r.audit_checkpoint_seq for r in cases) + sum(
        r.seq - r.checkpoint_seq for r in chains
    )
    # checkpoints before 0005 counted every event; from the first new one the count restarts,
    # since every chain is then recorded from its first event
    events = (last.events if last is not None and last.root is not None else 0) + new_events
    prev = last.hash if last is not None else GENESIS
    root = merkle_root([leaf_hash(*leaf) for leaf in leaves])
    digest = checkpoint_hash(instant, root, len(leaves), events, prev)
    signature = key.sign(digest) if key else None
    checkpoint_id = conn.execute(
        insert(checkpoint_table).values(
            instant=instant,
            heads={},
            events=events,
            prev_hash=prev,
            hash=digest,
            root=root,
            signature=signature,
            key_id=key.key_id if key else None,
        )
    ).inserted_primary_key[0]
    if leaves:
        conn.execute(
            insert(checkpoint_head_table),
            [
                {"checkpoint_id": checkpoint_id, "chain": c, "seq": q, "head": h}
                for c, q, h in leaves
            ],
        )
    if cases:
        # the rows are ours until commit (locked above; SQLite: the write lock), so each case's
        # audit_seq is still the one recorded: one statement marks them all
        conn.execute(
            update(instance_table)
            .where(instance_table.c.id.in_([r.id for r in cases]))
            .values(audit_checkpoint_seq=instance_table.c.audit_seq)
        )
    if chains:
        conn.execute(
            update(chain_table)
            .where(chain_table.c.chain == bindparam("b_chain"))
            .values(checkpoint_seq=bindparam("b_seq")),
            [{"b_chain": r.chain, "b_seq": r.seq} for r in chains],
        )
    stored = 8 + 8 + 2 + 8 + 64 * 3 + len(signature or "") + (64 if key else 0)
    stored += sum(8 + len(c.encode()) + 4 + 64 for c, _, _ in leaves)
    entry = {
        "id": checkpoint_id,
        "instant": iso_utc(instant),
        "root": root,
        "chains": len(leaves),
        "events": events,
        "prev_hash": prev,
        "hash": digest,
        "signature": signature,
        "key_id": key.key_id if key else None,
    }
    return {
        "written": True,
        # more chains moved than one checkpoint takes: the next one follows at once
        "more": len(cases) >= batch,
        "id": checkpoint_id,
        "chains": len(leaves),
        "events": events,
        "new_events": new_events,
        "hash": digest,
        "root": root,
        "signed": signature is not None,
        "key_id": entry["key_id"],
        # what this checkpoint read and wrote: one row per moved chain, never per case
        "rows_read": len(cases) + len(chains) + 1,
        "rows_written": 1 + len(leaves) + len(cases) + len(chains),
        "bytes": stored,
        "log_entry": entry,
    }


def record_checkpoint(
    db: Any,
    instant: datetime,
    audit: AuditSettings | None = None,
    *,
    only_if_moved: bool = False,
    until_done: bool = False,
) -> dict[str, Any]:
    """Write a checkpoint in its own transaction, then copy it to the external log.

    `until_done`: more checkpoints follow while a backlog remains (each its own short
    transaction); the result is the last one's, with `checkpoints_written`."""
    audit = audit if audit is not None else from_environment()
    written = 0
    while True:
        with db.write() as conn:
            result = write_checkpoint(conn, instant, audit, only_if_moved=only_if_moved)
        entry = result.pop("log_entry", None)
        result["logged"] = bool(entry) and audit.write_log(entry)
        written += bool(result["written"])
        if not (until_done and result["more"]):
            break
        only_if_moved = True
    result["checkpoints_written"] = written
    return result


def _signature_status(row: Any, audit: AuditSettings) -> dict[str, Any]:
    """Whether a checkpoint is signed, and whether the signature holds for the verifying key."""
    key = audit.verifying_key
    signed = bool(row.signature)
    if not signed:
        return {"signed": False, "valid": False, "status": "unsigned"}
    if key is None:
        return {"signed": True, "valid": None, "status": "no key to check"}
    from .audit_keys import key_id as key_id_of

    if row.key_id != key_id_of(key):
        return {"signed": True, "valid": False, "status": "signed by another key"}
    valid = verify_signature(key, row.hash, row.signature)
    return {"signed": True, "valid": valid, "status": "valid" if valid else "invalid"}


def _checkpoint_content_ok(conn: Connection, row: Any) -> bool:
    """Recompute one checkpoint's root from its recorded heads and its hash from its content."""
    if row.root is None:
        return row.hash == _legacy_checkpoint_hash(
            row.instant, row.heads, row.events, row.prev_hash
        )
    h = checkpoint_head_table.c
    leaves = [
        leaf_hash(r.chain, r.seq, r.head)
        for r in conn.execute(
            select(h.chain, h.seq, h.head).where(h.checkpoint_id == row.id).order_by(h.chain)
        )
    ]
    return row.root == merkle_root(leaves) and row.hash == checkpoint_hash(
        row.instant, row.root, len(leaves), row.events, row.prev_hash
    )


def recent_checkpoints(
    conn: Connection, limit: int = 20, audit: AuditSettings | None = None
) -> list[dict[str, Any]]:
    """The newest checkpoints with their signature status, newest first (for the audit page)."""
    audit = audit if audit is not None else from_environment()
    c = checkpoint_table.c
    rows = conn.execute(
        select(
            c.id, c.instant, c.heads, c.events, c.prev_hash, c.hash, c.root, c.signature, c.key_id
        )
        .order_by(c.id.desc())
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        status = _signature_status(row, audit)
        chains = (
            len(row.heads)
            if row.root is None
            else conn.execute(
                select(func.count())
                .select_from(checkpoint_head_table)
                .where(checkpoint_head_table.c.checkpoint_id == row.id)
            ).scalar_one()
        )
        out.append(
            {
                "id": row.id,
                "instant": row.instant,
                "chains": chains,
                "events": row.events,
                "hash": row.hash,
                "root": row.root,
                "key_id": row.key_id,
                "signed": status["signed"],
                "signature_valid": status["valid"],
                "signature_status": status["status"],
                # a checkpoint over every chain (the first after upgrading) is checked by
                # `nadzor audit verify`, not on each page view
                "content_ok": _checkpoint_content_ok(conn, row) if chains <= 10000 else None,
            }
        )
    return out


# -- verification --------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    events: int
    problem: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "events": self.events, **self.details}
        if self.problem:
            out.update(self.problem)
        return out


def _broken(events: int, reason: str, details: dict[str, Any], **where: Any) -> VerifyResult:
    return VerifyResult(False, events, {"error": reason, **where}, details)


def _spec_sha256(spec_json: str) -> str:
    return hashlib.sha256(spec_json.encode()).hexdigest()


def _verify_models(conn: Connection, published: dict[tuple[str, int], dict[str, Any]]) -> Any:
    """Each stored version's files and spec against its hash and the event that published it.

    Returns (problem or None, number of versions, number whose spec the chain seals)."""
    from .repository import files_sha256

    d = definition_table.c
    count = sealed = 0
    seen: set[tuple[str, int]] = set()
    for row in conn.execute(
        select(d.id, d.process_id, d.version, d.sha256, d.files, d.spec_json).order_by(d.id)
    ):
        count += 1
        name = f"{row.process_id} version {row.version}"
        where = {"definition": row.id, "process_id": row.process_id, "version": row.version}
        seen.add((row.process_id, row.version))
        event = published.get((row.process_id, row.version))
        if event is None:
            return (
                {"error": f"model {name} has no publishing event in the history", **where},
                count,
                sealed,
            )
        if files_sha256(row.files or {}) != row.sha256:
            return (
                {
                    "error": f"model {name}: its stored files do not match its hash (files "
                    f"altered)",
                    **where,
                },
                count,
                sealed,
            )
        if row.sha256 != event.get("sha256") or sorted(row.files or {}) != event.get(
            "files", sorted(row.files or {})
        ):
            return (
                {
                    "error": f"model {name}: its content differs from what was published "
                    f"(hash recomputed)",
                    **where,
                },
                count,
                sealed,
            )
        if "spec_sha256" in event:
            sealed += 1
            if _spec_sha256(row.spec_json) != event["spec_sha256"]:
                return (
                    {
                        "error": f"model {name}: its stored spec differs from what was "
                        f"published (spec altered)",
                        **where,
                    },
                    count,
                    sealed,
                )
    missing = sorted(set(published) - seen)
    if missing:
        pid, version = missing[0]
        return (
            {
                "error": f"model {pid} version {version} was published but is no longer stored",
                "process_id": pid,
                "version": version,
            },
            count,
            sealed,
        )
    return None, count, sealed


def verify(conn: Connection, audit: AuditSettings | None = None) -> VerifyResult:
    """Walk every chain, every stored model and every checkpoint (with its signature and the
    external log); report the first thing that does not hold."""
    audit = audit if audit is not None else from_environment()
    details: dict[str, Any] = {}
    cols = events_table.c
    legacy = conn.execute(
        select(checkpoint_table.c.id).where(checkpoint_table.c.root.is_(None)).limit(1)
    ).first()
    rows: Iterable[Any] = (
        _streamed(conn).execute(select(events_table).order_by(cols.chain, cols.seq)).mappings()
    )
    count = 0
    heads: dict[str, list[Any]] = {}
    hashes: dict[tuple[str, int], str] = {}
    published: dict[tuple[str, int], dict[str, Any]] = {}
    chain, expected_seq, prev = None, 0, GENESIS
    for row in rows:
        count += 1
        if row["chain"] != chain:
            chain, expected_seq, prev = row["chain"], 0, GENESIS
        expected_seq += 1
        where = {"id": row["id"], "chain": row["chain"], "seq": row["seq"]}
        if row["seq"] != expected_seq:
            return _broken(
                count, f"event {expected_seq} of chain {chain} is missing", details, **where
            )
        if row["prev_hash"] != prev:
            return _broken(count, "prev_hash does not match the previous event", details, **where)
        if event_hash(dict(row)) != row["hash"]:
            return _broken(count, "content does not match its hash (row altered)", details, **where)
        prev = row["hash"]
        if legacy is not None:
            hashes[(chain, row["seq"])] = prev
        heads[chain] = [row["seq"], row["hash"]]
        if row["event_type"] == "definition_published" and isinstance(row["data_after"], dict):
            data = row["data_after"]
            published[(data.get("process_id"), data.get("version"))] = data

    for name, (seq, head) in current_heads(conn).items():
        if heads.get(name) != [seq, head]:
            return _broken(
                count, f"chain {name} ends before its recorded head {seq}", details, chain=name
            )

    problem, models, sealed = _verify_models(conn, published)
    details["models"] = models
    details["models_spec_sealed"] = sealed
    if problem:
        return VerifyResult(False, count, problem, details)

    result = _verify_checkpoints(conn, audit, hashes, details)
    if result is not None:
        return VerifyResult(False, count, result, details)
    return VerifyResult(True, count, None, details)


def _verify_checkpoints(
    conn: Connection,
    audit: AuditSettings,
    hashes: dict[tuple[str, int], str],
    details: dict[str, Any],
) -> dict[str, Any] | None:
    key = audit.verifying_key
    details["signatures_checked"] = key is not None
    c, h = checkpoint_table.c, checkpoint_head_table.c
    # every head a checkpoint recorded must still be the event at that place of its chain
    e = events_table.c
    bad = conn.execute(
        select(h.checkpoint_id, h.chain, h.seq)
        .select_from(
            checkpoint_head_table.outerjoin(events_table, (e.chain == h.chain) & (e.seq == h.seq))
        )
        .where((e.hash.is_(None)) | (e.hash != h.head))
        .order_by(h.checkpoint_id)
        .limit(1)
    ).first()
    if bad is not None:
        return {
            "error": f"chain {bad.chain} no longer holds event {bad.seq} recorded by checkpoint "
            f"{bad.checkpoint_id}",
            "checkpoint": bad.checkpoint_id,
            "chain": bad.chain,
            "seq": bad.seq,
        }
    leaves_of = _leaves_by_checkpoint(conn)
    prev_cp = GENESIS
    total = signed = unsigned = 0
    first_signed: int | None = None
    last_row = None
    ids: dict[int, str] = {}
    for cp in _streamed(conn).execute(select(checkpoint_table).order_by(c.id)):
        total += 1
        last_row = cp
        ids[cp.id] = cp.hash
        if cp.prev_hash != prev_cp:
            return {
                "error": f"checkpoint {cp.id} does not follow the previous one (a "
                f"checkpoint was deleted or altered)",
                "checkpoint": cp.id,
            }
        prev_cp = cp.hash
        if cp.root is None:
            if cp.hash != _legacy_checkpoint_hash(cp.instant, cp.heads, cp.events, cp.prev_hash):
                return {"error": "checkpoint altered", "checkpoint": cp.id}
            for name, (seq, head) in cp.heads.items():
                if hashes.get((name, seq)) != head:
                    return {
                        "error": f"chain {name} no longer holds event {seq} recorded by "
                        f"checkpoint {cp['id']}",
                        "checkpoint": cp.id,
                        "chain": name,
                    }
            continue
        leaves = leaves_of(cp.id)
        if cp.root != merkle_root(leaves) or cp.hash != checkpoint_hash(
            cp.instant, cp.root, len(leaves), cp.events, cp.prev_hash
        ):
            return {
                "error": f"checkpoint {cp.id} altered (its content does not match its hash)",
                "checkpoint": cp.id,
            }
        if key is None:
            signed += bool(cp.signature)
            unsigned += not cp.signature
            continue
        status = _signature_status(cp, audit)
        if status["valid"]:
            signed += 1
            first_signed = first_signed or cp.id
        elif status["signed"]:
            return {
                "error": f"checkpoint {cp.id}: {status['status']} signature "
                f"(recomputed without the key)",
                "checkpoint": cp.id,
            }
        elif first_signed is not None:
            return {
                "error": f"checkpoint {cp.id} is not signed although checkpoints "
                f"before it are (recomputed without the key)",
                "checkpoint": cp.id,
            }
        else:
            unsigned += 1
    details.update({"checkpoints": total, "signed": signed, "unsigned": unsigned})
    if (
        key is not None
        and last_row is not None
        and last_row.root is not None
        and not last_row.signature
    ):
        return {
            "error": f"the newest checkpoint {last_row.id} is not signed by the "
            f"audit key (recomputed without the key?)",
            "checkpoint": last_row.id,
        }
    entries = audit.read_log()
    details["log_checked"] = entries is not None
    if entries:
        for entry in entries:
            stored = ids.get(entry.get("id"))
            if stored is None:
                return {
                    "error": f"checkpoint {entry.get('id')} in the external log is missing "
                    f"from the database (deleted)",
                    "checkpoint": entry.get("id"),
                }
            if stored != entry.get("hash"):
                return {
                    "error": f"checkpoint {entry.get('id')} differs from its copy in the "
                    f"external log (recomputed)",
                    "checkpoint": entry.get("id"),
                }
        details["log_entries"] = len(entries)
    return None


def _streamed(conn: Connection) -> Connection:
    """Rows fetched as they are read (a server-side cursor on PostgreSQL), so that verifying
    millions of rows does not hold them all in memory."""
    return conn.execution_options(stream_results=True, yield_per=2000)


def _leaves_by_checkpoint(conn: Connection) -> Any:
    """Leaf hashes per checkpoint id, read in one ordered pass (checkpoints asked in id order)."""
    h = checkpoint_head_table.c
    stream = iter(
        _streamed(conn).execute(
            select(h.checkpoint_id, h.chain, h.seq, h.head).order_by(h.checkpoint_id, h.chain)
        )
    )
    pending: list[Any] = [next(stream, None)]

    def leaves(checkpoint_id: int) -> list[str]:
        out = []
        row = pending[0]
        while row is not None and row.checkpoint_id < checkpoint_id:
            row = next(stream, None)
        while row is not None and row.checkpoint_id == checkpoint_id:
            out.append(leaf_hash(row.chain, row.seq, row.head))
            row = next(stream, None)
        pending[0] = row
        return out

    return leaves


def record_verification(
    conn: Connection, instant: datetime, trigger: str, result: dict[str, Any]
) -> None:
    """Keep a whole-history verification's result for the pages ("last run, result")."""
    conn.execute(
        insert(verification_table).values(
            instant=instant, trigger=trigger, ok=bool(result.get("ok")), result=result
        )
    )


def last_verification(conn: Connection) -> dict[str, Any] | None:
    """The newest stored verification: {"instant", "trigger", "ok", "result"} or None."""
    v = verification_table.c
    row = conn.execute(
        select(v.instant, v.trigger, v.ok, v.result).order_by(v.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return {"instant": row.instant, "trigger": row.trigger, "ok": row.ok, "result": row.result}


# -- one case ----------------------------------------------------------------------------------

_OPEN_TASK_STATES = 8 | 16 | 32  # SpiffWorkflow's WAITING | READY | STARTED


def _state_data(state: str, completed: bool) -> dict[str, Any]:
    """The case data as its stored state holds it, read from the JSON without the model (the
    same merge as engine.step.case_data: the final data, or what the open tasks carry)."""
    try:
        dct = json.loads(state)
    except (TypeError, ValueError):
        return {}
    if completed:
        return dict(dct.get("data") or {})
    merged: dict[str, Any] = {}
    last: dict[str, Any] = {}
    groups = [dct.get("tasks") or {}] + [
        (sub or {}).get("tasks") or {} for sub in (dct.get("subprocesses") or {}).values()
    ]
    for tasks in groups:
        for task in tasks.values():
            if int(task.get("state") or 0) & _OPEN_TASK_STATES:
                merged.update(task.get("data") or {})
            elif task.get("data"):
                last = task["data"]
    return merged or dict(last)


def case_events(conn: Connection, instance_id: int) -> list[dict[str, Any]]:
    c = events_table.c
    return [
        dict(r)
        for r in conn.execute(
            select(events_table).where(c.chain == case_chain(instance_id)).order_by(c.seq)
        ).mappings()
    ]


def covering_checkpoint(conn: Connection, chain: str, seq: int | None = None) -> Any:
    """The first checkpoint that recorded the chain at `seq` or later (None: not yet covered)."""
    h = checkpoint_head_table.c
    stmt = select(h.checkpoint_id, h.seq, h.head).where(h.chain == chain)
    if seq is not None:
        stmt = stmt.where(h.seq >= seq)
    return conn.execute(stmt.order_by(h.checkpoint_id).limit(1)).first()


def _describe_event(ev: dict[str, Any]) -> str:
    what = ev["event_type"] + (f" of task {ev['task_name']}" if ev.get("task_name") else "")
    return f"event {ev['seq']} ({what}, by {ev['actor']})"


def verify_case(
    conn: Connection, instance_id: int, audit: AuditSettings | None = None
) -> dict[str, Any]:
    """What an auditor sees of one case, checked against its chain and the checkpoint over it.

    The chain itself (each event's hash and link), every head a checkpoint recorded for it, the
    task rows (a completion's author and time, an assignee against the events that set them),
    and the values of the stored case data that events recorded. Returns JSON-able
    {"ok", "case", "events", "problems": [words], "checkpoint": {...} | None, ...}.
    """
    audit = audit if audit is not None else from_environment()
    i = instance_table.c
    case = conn.execute(
        select(i.id, i.status, i.state, i.audit_seq, i.audit_head, i.audit_checkpoint_seq).where(
            i.id == instance_id
        )
    ).first()
    problems: list[str] = []
    if case is None:
        return {
            "ok": False,
            "case": instance_id,
            "events": 0,
            "problems": [f"case {instance_id} does not exist"],
            "checkpoint": None,
        }
    events = case_events(conn, instance_id)
    chain = case_chain(instance_id)
    by_seq: dict[int, dict[str, Any]] = {}
    prev, expected = GENESIS, 0
    for ev in events:
        expected += 1
        by_seq[ev["seq"]] = ev
        if ev["seq"] != expected:
            problems.append(f"event {expected} of the case is missing")
            expected = ev["seq"]
        if ev["prev_hash"] != prev:
            problems.append(f"{_describe_event(ev)} does not follow the event before it")
        if event_hash(ev) != ev["hash"]:
            problems.append(
                f"{_describe_event(ev)} was altered: its content does not match its hash"
            )
        prev = ev["hash"]
    if (case.audit_seq or 0) != len(events) or (events and case.audit_head != events[-1]["hash"]):
        problems.append(
            f"the case's history ends at event {len(events)}, its "
            f"recorded head is event {case.audit_seq}"
        )

    # every head a checkpoint recorded for this case must still be in its chain
    h = checkpoint_head_table.c
    recorded = conn.execute(
        select(h.checkpoint_id, h.seq, h.head).where(h.chain == chain).order_by(h.checkpoint_id)
    ).all()
    for rec in recorded:
        ev = by_seq.get(rec.seq)
        if ev is None or ev["hash"] != rec.head:
            problems.append(
                f"event {rec.seq} of the case differs from what checkpoint {rec.checkpoint_id} "
                "recorded (the history was rewritten and its hashes recomputed)"
            )
    checkpoint = None
    covering = next((r for r in recorded if r.seq == len(events)), None) or (
        recorded[-1] if recorded else None
    )
    if covering is not None:
        c = checkpoint_table.c
        row = conn.execute(select(checkpoint_table).where(c.id == covering.checkpoint_id)).first()
        status = _signature_status(row, audit)
        content_ok = _checkpoint_content_ok(conn, row)
        if not content_ok:
            problems.append(f"checkpoint {row.id} was altered: its content does not match its hash")
        if status["signed"] and status["valid"] is False:
            problems.append(f"checkpoint {row.id}: {status['status']} signature")
        if audit.verifying_key is not None and not status["signed"]:
            problems.append(f"checkpoint {row.id} is not signed")
        checkpoint = {
            "id": row.id,
            "instant": iso_utc(row.instant),
            "covers_seq": covering.seq,
            "signed": status["signed"],
            "signature_valid": status["valid"],
            "signature_status": status["status"],
            "content_ok": content_ok,
        }

    problems += _task_problems(conn, instance_id, events)
    problems += _data_problems(case, events)
    return {
        "ok": not problems,
        "case": instance_id,
        "events": len(events),
        "problems": problems,
        "checkpoint": checkpoint,
        "covered_seq": checkpoint["covers_seq"] if checkpoint else 0,
        "pending_events": len(events) - (checkpoint["covers_seq"] if checkpoint else 0),
    }


def _task_problems(conn: Connection, instance_id: int, events: list[dict[str, Any]]) -> list[str]:
    t = task_table.c
    problems = []
    completed: dict[str, dict[str, Any]] = {}
    created: set[str] = set()
    assignee: dict[str, Any] = {}
    for ev in events:
        guid = ev.get("task_guid")
        if not guid:
            continue
        if ev["event_type"] == "task_completed":
            completed[guid] = ev
        elif ev["event_type"] == "task_created":
            created.add(guid)
        after = ev.get("data_after")
        if ev["event_type"] != "task_completed" and isinstance(after, dict) and "assignee" in after:
            assignee[guid] = (after["assignee"], ev)
    for row in conn.execute(
        select(
            t.task_guid, t.task_name, t.title, t.state, t.assignee, t.completed_by, t.completed_at
        )
        .where(t.instance_id == instance_id)
        .order_by(t.id)
    ):
        name = f"task '{row.title}' ({row.task_name})"
        if row.task_guid not in created:
            problems.append(f"{name} has no event that created it")
        done = completed.get(row.task_guid)
        if row.state == "completed" or row.completed_by is not None:
            if done is None:
                problems.append(
                    f"{name} is shown as completed by {row.completed_by} but no event completed it"
                )
            else:
                if row.completed_by != done["actor"]:
                    problems.append(
                        f"{name}: completed by '{row.completed_by}' in the task list, but "
                        f"{_describe_event(done)} says '{done['actor']}'"
                    )
                if row.completed_at is None or iso_utc(row.completed_at) != iso_utc(
                    done["instant"]
                ):
                    problems.append(
                        f"{name}: its completion time differs from {_describe_event(done)}"
                    )
        elif done is not None:
            problems.append(
                f"{name} is shown as {row.state} but {_describe_event(done)} completed it"
            )
        if row.task_guid in assignee and assignee[row.task_guid][0] != row.assignee:
            value, ev = assignee[row.task_guid]
            problems.append(
                f"{name}: assignee '{row.assignee}' in the task list, but {_describe_event(ev)} "
                f"set '{value}'"
            )
    return problems


def _data_problems(case: Any, events: list[dict[str, Any]]) -> list[str]:
    """Values of the stored state that no event recorded.

    A completed case's data must be what its `instance_completed` event recorded. While a case
    runs, what it shows merges the data its open tasks carry, and a branch may still carry a value
    a later step changed; so each shown value must be one that an event recorded for that key at
    some point (a start, a completion) — a value nobody ever entered is named.
    """
    seen: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for ev in events:
        after = ev.get("data_after")
        if not isinstance(after, dict):
            continue
        if ev["event_type"] == "instance_started" and isinstance(after.get("data"), dict):
            values = after["data"]
        elif ev["event_type"] in ("task_completed", "instance_completed"):
            values = after
        else:
            continue
        for key, value in values.items():
            seen.setdefault(key, []).append((value, ev))
    if not case.state:
        return []
    data = _state_data(case.state, case.status == "completed")
    final = events[-1] if events and events[-1]["event_type"] == "instance_completed" else None
    problems = []
    for key, recorded in seen.items():
        if key not in data:
            continue
        shown = _canonical(data[key])
        if final is not None and isinstance(final.get("data_after"), dict):
            candidates = [(final["data_after"][key], final)] if key in final["data_after"] else []
        else:
            candidates = recorded
        if candidates and all(_canonical(value) != shown for value, _ in candidates):
            value, ev = candidates[-1]
            problems.append(
                f"data value '{key}' is {shown} in the case, a value no event recorded "
                f"(last recorded: {_canonical(value)} in {_describe_event(ev)})"
            )
    return problems


def verify_and_record(
    db: Any, instant: datetime, trigger: str, audit: AuditSettings | None = None
) -> dict[str, Any]:
    """Verify the whole history and store the result (`last_verification` reads it back)."""
    with db.read() as conn:
        result = verify(conn, audit).as_json()
    result["verified_at"] = iso_utc(instant)
    with db.write() as conn:
        record_verification(conn, instant, trigger, result)
    return result
