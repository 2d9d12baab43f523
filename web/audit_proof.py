"""The proof side of the trace, for the pages: a case's chain verification and its covering
checkpoint, the export document, the last global verification and recent checkpoints.

The engine does the work (engine/history.py: `verify_case`, `recent_checkpoints`, the stored
last verification; engine/audit_export.py: `export_case`); this module only opens the
connection and hands the pages plain dictionaries.
"""

from __future__ import annotations

from typing import Any

from engine import history


def _read(engine: Any, fn: Any, *args: Any, **kw: Any) -> Any:
    with engine.db.read() as conn:
        return fn(conn, *args, **kw)


def case_verification(engine: Any, instance_id: int) -> dict[str, Any]:
    """{"ok", "error"?, "checkpoint": {"id", "instant", "signed"} or None, ...}."""
    verify_case = getattr(history, "verify_case", None)
    if verify_case is not None:
        result = _read(engine, verify_case, instance_id)
        return result if isinstance(result, dict) else result.as_json()
    return _read(engine, _verify_case_here, instance_id)


def _verify_case_here(conn: Any, instance_id: int) -> dict[str, Any]:
    """The case's chain walked here, until the engine offers `verify_case`."""
    from sqlalchemy import select

    events = history.events_table
    c = events.c
    chain = history.case_chain(instance_id)
    prev, seq, count = history.GENESIS, 0, 0
    for row in conn.execute(select(events).where(c.chain == chain).order_by(c.seq)).mappings():
        count += 1
        seq += 1
        if (
            row["seq"] != seq
            or row["prev_hash"] != prev
            or history.event_hash(dict(row)) != row["hash"]
        ):
            return {"ok": False, "events": count, "error": f"event {seq} does not hold", "seq": seq}
        prev = row["hash"]
    checkpoint = None
    cps = history.checkpoint_table
    for cp in conn.execute(select(cps).order_by(cps.c.id.desc()).limit(50)).mappings():
        head = (cp["heads"] or {}).get(chain)
        if head and head[0] == seq:
            checkpoint = {"id": cp["id"], "instant": cp["instant"], "signed": False}
            break
    return {"ok": True, "events": count, "checkpoint": checkpoint}


def export(engine: Any, instance_id: int) -> dict[str, Any]:
    """The export document an outsider checks without our database."""
    try:
        from engine.audit_export import export_case
    except ImportError:
        return _read(engine, _export_here, instance_id)
    return _read(engine, export_case, instance_id)


def _export_here(conn: Any, instance_id: int) -> dict[str, Any]:
    from sqlalchemy import select

    c = history.events_table.c
    rows = conn.execute(
        select(history.events_table)
        .where(c.chain == history.case_chain(instance_id))
        .order_by(c.seq)
    ).mappings()
    return {
        "case_id": instance_id,
        "events": [
            {
                **{k: v for k, v in dict(r).items() if k != "id"},
                "instant": history.iso_utc(r["instant"]),
            }
            for r in rows
        ],
        "checkpoint": None,
    }


def proof_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The proof of an export as key/value rows (the CSV's footer, the report's box)."""
    out: list[tuple[str, str]] = []
    cp = doc.get("checkpoint") or {}
    for key in ("id", "instant", "hash", "root", "prev_hash", "signature", "key_id"):
        if cp.get(key) not in (None, ""):
            out.append((f"checkpoint_{key}", str(cp[key])))
    key = doc.get("public_key") or cp.get("public_key")
    if key:
        out.append(("public_key", str(key).strip()))
    return out


def last_verification(engine: Any) -> dict[str, Any] | None:
    fn = getattr(history, "last_verification", None)
    return _read(engine, fn) if fn is not None else None


def checkpoints(engine: Any, limit: int) -> list[dict[str, Any]]:
    fn = getattr(history, "recent_checkpoints", None)
    if fn is not None:
        return list(_read(engine, fn, limit))
    from sqlalchemy import select

    t = history.checkpoint_table

    def read(conn: Any) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(t.c.id, t.c.instant, t.c.events, t.c.hash).order_by(t.c.id.desc()).limit(limit)
        ).mappings()
        return [{**dict(r), "signed": False} for r in rows]

    return _read(engine, read)


def run_verification(engine: Any, login: str) -> dict[str, Any]:
    """Verify the whole history now; the engine stores the result (nothing else is written)."""
    fn = getattr(history, "run_verification", None)
    if fn is not None:
        with engine.db.write() as conn:
            return fn(conn, engine.clock.now(), actor=login)
    return engine.history.verify()
