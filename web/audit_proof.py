"""The proof side of the trace, for the pages: a case's verification and its covering signed
checkpoint, the export document, the last whole-history verification and recent checkpoints.

The engine does the work (engine/history.py: `verify_case`, `recent_checkpoints`,
`last_verification`, `verify_and_record`; engine/audit_export.py: `export_case`) with the
engine's audit key settings (engine/audit_keys.py: `settings_of`); this module opens the
connection and hands the pages plain dictionaries, with the engine's words for a signature's
status turned into the user's language.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext

from engine import history
from engine.audit_export import export_case
from engine.audit_keys import settings_of

#: engine/history.py `_signature_status` -> words
SIGNATURE_WORDS = {
    "valid": lazy_gettext("signature valid"),
    "invalid": lazy_gettext("signature INVALID"),
    "unsigned": lazy_gettext("not signed"),
    "no key to check": lazy_gettext("signed; no public key here to check it"),
    "signed by another key": lazy_gettext("signed by another key"),
}


def signature_words(status: str | None) -> str:
    word = SIGNATURE_WORDS.get(status or "")
    return str(word) if word is not None else (status or "")


def case_verification(engine: Any, instance_id: int) -> dict[str, Any]:
    """{"ok", "problems": [...], "checkpoint": {"id", "instant", "signed", ...} | None,
    "pending_events", ...} (engine/history.py: verify_case)."""
    with engine.db.read() as conn:
        return history.verify_case(conn, instance_id, settings_of(engine))


def export(engine: Any, instance_id: int) -> dict[str, Any]:
    """The export document an outsider checks without our database."""
    with engine.db.read() as conn:
        return export_case(conn, instance_id, settings_of(engine))


def proof_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The proof of an export as key/value rows (the CSV's footer, the printed report)."""
    out: list[tuple[str, str]] = [("format", str(doc.get("format", "")))]
    cp = doc.get("checkpoint") or {}
    for key in ("id", "instant", "root", "chains", "events", "prev_hash", "hash", "signature"):
        if cp.get(key) not in (None, ""):
            out.append((f"checkpoint_{key}", str(cp[key])))
    if cp.get("key_id"):
        out.append(("key_id", str(cp["key_id"])))
    if cp.get("public_key"):
        out.append(("public_key", str(cp["public_key"]).strip()))
    proof = doc.get("proof") or {}
    if proof:
        leaf = proof.get("leaf") or {}
        out.append(("merkle_leaf", f"{leaf.get('chain')} {leaf.get('seq')} {leaf.get('head')}"))
        out.append(("merkle_index", str(proof.get("index"))))
        steps = [
            f"{p.get('side')}:{p.get('hash')}" if isinstance(p, dict) else str(p)
            for p in proof.get("path") or []
        ]
        out.append(("merkle_path", " ".join(steps)))
    out.append(("covered_through_seq", str(doc.get("covered_through_seq", 0))))
    out.append(("uncovered_events", str(doc.get("uncovered_events", 0))))
    return out


def last_verification(engine: Any) -> dict[str, Any] | None:
    """{"instant", "trigger", "ok", "result"} of the newest stored run, or None."""
    with engine.db.read() as conn:
        return history.last_verification(conn)


def checkpoints(engine: Any, limit: int) -> list[dict[str, Any]]:
    with engine.db.read() as conn:
        return history.recent_checkpoints(conn, limit, settings_of(engine))


def run_verification(engine: Any, login: str) -> dict[str, Any]:
    """Verify the whole history now; only the result is stored (nothing else is written)."""
    return history.verify_and_record(
        engine.db, engine.clock.now(), f"page:{login}", settings_of(engine)
    )
