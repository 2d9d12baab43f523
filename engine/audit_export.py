"""A case's history as a self-contained JSON document that an outsider can check.

The export carries every event with the fields its hash covers, the chain links, the checkpoint
that recorded the case's head (with its signature and public key) and the Merkle path from that
head to the checkpoint's root. `verify_export` needs nothing else — no database, no Nadzor — to
recompute it all: an export made before someone rewrote the database still verifies on its own,
and a changed export names the first item that no longer holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from .audit_keys import (
    AuditKeyError,
    AuditSettings,
    from_environment,
    key_id,
    load_public_key,
    public_pem,
    verify_signature,
)
from .errors import NotFound
from .history import (
    GENESIS,
    HASHED_FIELDS,
    case_chain,
    case_events,
    checkpoint_hash,
    checkpoint_head_table,
    checkpoint_table,
    event_hash,
    instance_table,
    iso_utc,
)
from .merkle import leaf_hash, merkle_path, root_from_path

FORMAT = "nadzor-case-export/1"
RULES = (
    "event hash = SHA-256 of the JSON object of the fields in `hashed_fields` (keys sorted, "
    "separators ',' ':', UTF-8 unescaped, instant in UTC ISO 8601 with microseconds); prev_hash "
    "of event 1 is 64 zeros. Merkle leaf = SHA-256(0x00 || JSON [chain, seq, head]); node = "
    "SHA-256(0x01 || left || right) over raw digests; an odd last node goes up unchanged. "
    "checkpoint hash = SHA-256 of JSON {instant, root, chains, events, prev_hash}; the signature "
    "is Ed25519 over the checkpoint hash's hex text, base64."
)


def _event_doc(ev: dict[str, Any]) -> dict[str, Any]:
    out = {name: ev[name] for name in HASHED_FIELDS}
    out["instant"] = iso_utc(ev["instant"])
    out["hash"] = ev["hash"]
    return out


def export_case(
    conn: Connection, instance_id: int, audit: AuditSettings | None = None
) -> dict[str, Any]:
    """The case's trace with the proof that its head is covered by the newest checkpoint that
    recorded it. Events after that checkpoint are included and counted as not yet covered (the
    CLI writes a checkpoint first, so an export it makes covers everything)."""
    audit = audit if audit is not None else from_environment()
    i = instance_table.c
    case = conn.execute(
        select(i.id, i.process_id, i.version, i.status, i.business_key, i.created_at).where(
            i.id == instance_id
        )
    ).first()
    if case is None:
        raise NotFound(f"case {instance_id} does not exist")
    chain = case_chain(instance_id)
    events = [_event_doc(ev) for ev in case_events(conn, instance_id)]
    h = checkpoint_head_table.c
    covering = conn.execute(
        select(h.checkpoint_id, h.seq, h.head)
        .where(h.chain == chain)
        .order_by(h.checkpoint_id.desc())
        .limit(1)
    ).first()
    checkpoint = proof = None
    if covering is not None:
        c = checkpoint_table.c
        row = conn.execute(select(checkpoint_table).where(c.id == covering.checkpoint_id)).one()
        leaves = conn.execute(
            select(h.chain, h.seq, h.head).where(h.checkpoint_id == row.id).order_by(h.chain)
        ).all()
        index = next(n for n, leaf in enumerate(leaves) if leaf.chain == chain)
        key = audit.verifying_key
        checkpoint = {
            "id": row.id,
            "instant": iso_utc(row.instant),
            "root": row.root,
            "chains": len(leaves),
            "events": row.events,
            "prev_hash": row.prev_hash,
            "hash": row.hash,
            "signature": row.signature,
            "key_id": row.key_id,
            "public_key": public_pem(key) if key is not None else None,
        }
        proof = {
            "leaf": {"chain": chain, "seq": covering.seq, "head": covering.head},
            "index": index,
            "path": merkle_path([leaf_hash(lf.chain, lf.seq, lf.head) for lf in leaves], index),
        }
    covered = proof["leaf"]["seq"] if proof else 0
    return {
        "format": FORMAT,
        "exported_at": iso_utc(datetime.now(UTC)),
        "case": {
            "id": case.id,
            "process_id": case.process_id,
            "version": case.version,
            "status": case.status,
            "business_key": case.business_key,
            "created_at": iso_utc(case.created_at),
        },
        "chain": chain,
        "hashed_fields": list(HASHED_FIELDS),
        "rules": RULES,
        "events": events,
        "checkpoint": checkpoint,
        "proof": proof,
        "covered_through_seq": covered,
        "uncovered_events": len(events) - covered,
    }


def _fail(reason: str, item: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    return {"ok": False, "first_altered": item, "reason": reason, **more}


def _event_item(ev: dict[str, Any], position: int) -> dict[str, Any]:
    seq = ev.get("seq", position) if isinstance(ev, dict) else position
    item = {"item": "event", "seq": seq}
    if isinstance(ev, dict):
        item.update({"event_type": ev.get("event_type"), "actor": ev.get("actor")})
    return item


def verify_export(doc: dict[str, Any], public_key_pem: bytes | None = None) -> dict[str, Any]:
    """Recompute an export: each event's hash and link, the Merkle path of the case's head to
    the checkpoint's root, the checkpoint's hash and its signature.

    With `public_key_pem` (the key the auditor obtained from the prosecutor's office, not from
    the export) the signature must be that key's; without it, the export's own key is used and
    `key_trusted` is false. Returns {"ok", "first_altered", "reason", ...}.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return _fail(f"not a Nadzor case export (format {FORMAT} expected)", {"item": "format"})
    events = doc.get("events")
    chain = doc.get("chain")
    if not isinstance(events, list) or not isinstance(chain, str):
        return _fail("the export has no events or no chain", {"item": "events"})
    prev = GENESIS
    for position, ev in enumerate(events, start=1):
        item = _event_item(ev, position)
        if not isinstance(ev, dict) or any(name not in ev for name in (*HASHED_FIELDS, "hash")):
            return _fail(f"event {position} lacks fields its hash covers", item)
        if ev["chain"] != chain or ev["seq"] != position:
            return _fail(f"event {position} is out of place (chain or sequence changed)", item)
        if ev["prev_hash"] != prev:
            return _fail(f"event {position} does not link to the event before it", item)
        try:
            row = dict(ev)
            row["instant"] = datetime.fromisoformat(ev["instant"])
            recomputed = event_hash(row)
        except (TypeError, ValueError):
            return _fail(f"event {position} has an unreadable field", item)
        if recomputed != ev["hash"]:
            return _fail(
                f"event {position} ({ev['event_type']}) was changed: its content does not "
                "match its hash",
                item,
            )
        prev = ev["hash"]

    checkpoint, proof = doc.get("checkpoint"), doc.get("proof")
    if not checkpoint or not proof:
        return _fail("the export carries no checkpoint over the case", {"item": "checkpoint"})
    cp_item = {"item": "checkpoint", "id": checkpoint.get("id")}
    try:
        leaf = proof["leaf"]
        seq = int(leaf["seq"])
        if leaf["chain"] != chain or not 1 <= seq <= len(events):
            return _fail("the proof is for another case or event", {"item": "proof"})
        if leaf["head"] != events[seq - 1]["hash"]:
            return _fail(
                f"event {seq}, the head the checkpoint recorded, differs from the export",
                {"item": "proof", "seq": seq},
            )
        root = root_from_path(leaf_hash(chain, seq, leaf["head"]), proof["path"])
        if root != checkpoint["root"]:
            return _fail(
                "the Merkle path does not lead to the checkpoint's root", {"item": "proof"}
            )
        digest = checkpoint_hash(
            checkpoint["instant"],
            checkpoint["root"],
            int(checkpoint["chains"]),
            int(checkpoint["events"]),
            checkpoint["prev_hash"],
        )
    except (KeyError, TypeError, ValueError):
        return _fail("the proof or the checkpoint is incomplete", {"item": "proof"})
    if digest != checkpoint.get("hash"):
        return _fail("the checkpoint was changed: its content does not match its hash", cp_item)
    key_source = public_key_pem or checkpoint.get("public_key")
    if not key_source:
        return _fail("no public key to check the checkpoint's signature with", cp_item)
    try:
        key = load_public_key(key_source)
    except AuditKeyError as exc:
        return _fail(f"the public key cannot be read: {exc}", cp_item)
    if not checkpoint.get("signature"):
        return _fail("the checkpoint is not signed", cp_item)
    if checkpoint.get("key_id") and checkpoint["key_id"] != key_id(key):
        return _fail("the checkpoint was signed with another key", cp_item)
    if not verify_signature(key, digest, checkpoint["signature"]):
        return _fail("the checkpoint's signature does not hold", cp_item)
    return {
        "ok": True,
        "first_altered": None,
        "reason": None,
        "case": (doc.get("case") or {}).get("id"),
        "events": len(events),
        "checkpoint": checkpoint.get("id"),
        "checkpoint_instant": checkpoint.get("instant"),
        "covered_through_seq": seq,
        "uncovered_events": len(events) - seq,
        "key_id": key_id(key),
        "key_trusted": public_key_pem is not None,
    }
