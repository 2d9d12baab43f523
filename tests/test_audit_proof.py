"""Proof of the history (issue 10): what someone with write access to the database cannot hide.

Each test plays the insider: edits rows, recomputes every hash the database holds, deletes
checkpoints, then checks that the signed checkpoint, the external log, `verify_case` or an
export made earlier names what was changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, insert, select, update

from engine.audit_export import export_case, verify_export
from engine.audit_keys import AuditSettings, SigningKey
from engine.history import (
    GENESIS,
    case_chain,
    checkpoint_hash,
    event_hash,
    last_verification,
    recent_checkpoints,
    verify_case,
)
from engine.merkle import leaf_hash, merkle_root
from engine.models import (
    AuditCheckpoint,
    AuditCheckpointHead,
    AuditEvent,
    Definition,
    HumanTask,
    ProcessInstance,
)
from engine.repository import files_sha256
from engine.tasks import TaskQuery
from engine.worker import Worker
from tests.conftest import BENCH_MODEL
from tests.test_engine_steps import start_check
from web.cli import main

events_t = AuditEvent.__table__
cases_t = ProcessInstance.__table__
cp_t = AuditCheckpoint.__table__
heads_t = AuditCheckpointHead.__table__
tasks_t = HumanTask.__table__
CHECK = {"placement_lawful": True, "conditions_lawful": True, "findings": "all in order"}


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def audited(engine, key: SigningKey, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The engine with its checkpoints signed and copied to a log file outside the database."""
    engine.audit = AuditSettings(key=key, log=str(tmp_path / "checkpoints.log"))
    return engine


def _completed_case(engine, actor: str = "ivanov") -> int:  # type: ignore[no-untyped-def]
    iid = start_check(engine)
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.complete(task.task_guid, CHECK, actor=actor)
    return iid


def _rewrite_chain(engine, iid: int, **changes: Any) -> None:  # type: ignore[no-untyped-def]
    """The insider's edit: change the task_completed event and recompute every later hash and
    the case's head, so that the chain holds together again."""
    with engine.db.write() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(events_t).where(events_t.c.chain == case_chain(iid)).order_by(events_t.c.seq)
            ).mappings()
        ]
        prev = GENESIS
        for row in rows:
            if row["event_type"] == "task_completed":
                row.update(changes)
            row["prev_hash"] = prev
            row["hash"] = event_hash(row)
            prev = row["hash"]
            conn.execute(
                update(events_t)
                .where(events_t.c.id == row["id"])
                .values({k: row[k] for k in ("actor", "prev_hash", "hash", "data_after")})
            )
        conn.execute(update(cases_t).where(cases_t.c.id == iid).values(audit_head=prev))


def _recompute_checkpoints(engine, sign_with: SigningKey | None = None) -> None:  # type: ignore[no-untyped-def]
    """The insider also rewrites every checkpoint over the current heads (without our key)."""
    with engine.db.write() as conn:
        prev = GENESIS
        for cp in conn.execute(select(cp_t).order_by(cp_t.c.id)).all():
            leaves = []
            for h in conn.execute(
                select(heads_t).where(heads_t.c.checkpoint_id == cp.id).order_by(heads_t.c.chain)
            ).all():
                head = conn.execute(
                    select(events_t.c.hash).where(
                        events_t.c.chain == h.chain, events_t.c.seq == h.seq
                    )
                ).scalar_one()
                conn.execute(
                    update(heads_t)
                    .where(heads_t.c.checkpoint_id == cp.id, heads_t.c.chain == h.chain)
                    .values(head=head)
                )
                leaves.append(leaf_hash(h.chain, h.seq, head))
            root = merkle_root(leaves)
            digest = checkpoint_hash(cp.instant, root, len(leaves), cp.events, prev)
            conn.execute(
                update(cp_t)
                .where(cp_t.c.id == cp.id)
                .values(
                    root=root,
                    hash=digest,
                    prev_hash=prev,
                    signature=sign_with.sign(digest) if sign_with else None,
                    key_id=sign_with.key_id if sign_with else None,
                )
            )
            prev = digest


def test_a_clean_history_verifies_with_signed_checkpoints_and_its_log(audited) -> None:
    iid = _completed_case(audited)
    result = audited.management.checkpoint()
    assert result["signed"] is True and result["logged"] is True
    verified = audited.history.engine.management  # the same engine's doors
    assert verified is audited.management
    from engine.history import verify

    with audited.db.read() as conn:
        outcome = verify(conn, audited.audit).as_json()
        case = verify_case(conn, iid, audited.audit)
        [newest] = recent_checkpoints(conn, 1, audited.audit)
    assert outcome["ok"] is True, outcome
    assert outcome["signed"] == 1 and outcome["log_entries"] == 1 and outcome["models"] == 1
    assert case["ok"] is True and case["problems"] == []
    assert case["checkpoint"]["signed"] is True and case["checkpoint"]["signature_valid"] is True
    assert newest["signature_status"] == "valid" and newest["content_ok"] is True


def test_an_event_rewritten_with_its_hashes_recomputed_is_caught_by_the_signed_checkpoint(
    audited, key: SigningKey
) -> None:
    iid = _completed_case(audited)
    audited.management.checkpoint()
    _rewrite_chain(audited, iid, actor="mallory")
    from engine.history import verify

    with audited.db.read() as conn:
        result = verify(conn, audited.audit).as_json()
        case = verify_case(conn, iid, audited.audit)
    assert result["ok"] is False and result["chain"] == case_chain(iid)
    assert "checkpoint 1" in result["error"]
    assert any("checkpoint 1 recorded" in p for p in case["problems"])

    # rewriting the checkpoints too, without our key, leaves them unsigned or badly signed
    _recompute_checkpoints(audited)
    with audited.db.read() as conn:
        result = verify(conn, audited.audit).as_json()
    assert result["ok"] is False and "not signed" in result["error"]
    _recompute_checkpoints(audited, sign_with=SigningKey.generate())
    with audited.db.read() as conn:
        result = verify(conn, audited.audit).as_json()
        case = verify_case(conn, iid, audited.audit)
    assert result["ok"] is False and "another key" in result["error"]
    assert case["ok"] is False and case["checkpoint"]["signature_valid"] is False


def test_checkpoints_recomputed_are_caught_by_the_external_log_even_with_the_key(
    audited, key: SigningKey
) -> None:
    """Even an insider who stole the key cannot rewrite what the log outside holds."""
    iid = _completed_case(audited)
    audited.management.checkpoint()
    _rewrite_chain(audited, iid, actor="mallory")
    _recompute_checkpoints(audited, sign_with=key)
    from engine.history import verify

    with audited.db.read() as conn:
        result = verify(conn, audited.audit).as_json()
    assert result["ok"] is False and "external log" in result["error"]
    assert result["checkpoint"] == 1


def test_deleted_checkpoints_are_caught(audited) -> None:
    from engine.history import verify

    for _ in range(3):
        _completed_case(audited)
        audited.management.checkpoint()
    with audited.db.write() as conn:  # the middle one: the chain of checkpoints breaks
        conn.execute(delete(heads_t).where(heads_t.c.checkpoint_id == 2))
        conn.execute(delete(cp_t).where(cp_t.c.id == 2))
    with audited.db.read() as conn:
        result = verify(conn, audited.audit).as_json()
    assert result["ok"] is False and result["checkpoint"] == 3
    assert "does not follow" in result["error"]

    with audited.db.write() as conn:  # now only the newest: the log still has it
        conn.execute(update(cp_t).where(cp_t.c.id == 3).values(prev_hash=GENESIS))
        conn.execute(delete(heads_t).where(heads_t.c.checkpoint_id == 3))
        conn.execute(delete(cp_t).where(cp_t.c.id == 3))
    with audited.db.read() as conn:
        result = verify(conn, audited.audit).as_json()
    assert result["ok"] is False and "missing from the database" in result["error"]


def test_a_published_model_whose_content_changed_is_named(audited) -> None:
    start_check(audited)
    d = Definition.__table__
    with audited.db.write() as conn:
        row = conn.execute(select(d.c.id, d.c.files)).one()
        files = {
            k: v.replace("Check the placement", "Skip the placement") for k, v in row.files.items()
        }
        conn.execute(update(d).where(d.c.id == row.id).values(files=files))
    result = audited.verify_history()
    assert result["ok"] is False and result["process_id"] == "bench_penalty_check"
    assert "files altered" in result["error"] and result["version"] == 1

    with audited.db.write() as conn:  # the hash recomputed as well: the chain still knows
        conn.execute(update(d).where(d.c.id == row.id).values(sha256=files_sha256(files)))
    result = audited.verify_history()
    assert result["ok"] is False and "differs from what was published" in result["error"]

    with audited.db.write() as conn:  # files restored, the parsed spec the cases run edited
        conn.execute(
            update(d)
            .where(d.c.id == row.id)
            .values(files=row.files, sha256=files_sha256(row.files), spec_json=d.c.spec_json + " ")
        )
    result = audited.verify_history()
    assert result["ok"] is False and "spec altered" in result["error"]


def test_a_task_row_and_a_data_value_edited_are_named_by_verify_case(audited) -> None:
    iid = _completed_case(audited, actor="ivanov")
    audited.management.checkpoint()
    with audited.db.write() as conn:
        conn.execute(
            update(tasks_t)
            .where(tasks_t.c.instance_id == iid, tasks_t.c.state == "completed")
            .values(completed_by="sidorov")
        )
        state = json.loads(
            conn.execute(select(cases_t.c.state).where(cases_t.c.id == iid)).scalar_one()
        )
        text_state = json.dumps(state).replace('"all in order"', '"grave violations"')
        assert text_state != json.dumps(state)
        conn.execute(update(cases_t).where(cases_t.c.id == iid).values(state=text_state))
    with audited.db.read() as conn:
        case = verify_case(conn, iid, audited.audit)
    assert case["ok"] is False
    [who] = [p for p in case["problems"] if "completed by" in p]
    assert "'sidorov'" in who and "'ivanov'" in who and "check" in who
    [value] = [p for p in case["problems"] if "findings" in p]
    assert "grave violations" in value and "all in order" in value
    # the chain and checkpoint themselves still hold: the problem is in what the auditor sees
    assert case["checkpoint"]["signature_valid"] is True


def test_an_export_verifies_offline_and_a_changed_one_names_the_item(
    audited, key: SigningKey, tmp_path: Path
) -> None:
    iid = _completed_case(audited)
    audited.management.checkpoint()
    with audited.db.read() as conn:
        doc = json.loads(json.dumps(export_case(conn, iid, audited.audit), default=str))
    public = key.public_pem.encode()
    ok = verify_export(doc, public)
    assert ok["ok"] is True and ok["key_trusted"] is True and ok["uncovered_events"] == 0
    assert ok["events"] == len(doc["events"]) and ok["checkpoint"] == doc["checkpoint"]["id"]

    # the database rewritten afterwards: the export made before still verifies on its own
    _rewrite_chain(audited, iid, actor="mallory")
    _recompute_checkpoints(audited)
    assert verify_export(doc, public)["ok"] is True

    changed = json.loads(json.dumps(doc))
    completed = next(e for e in changed["events"] if e["event_type"] == "task_completed")
    completed["actor"] = "mallory"
    bad = verify_export(changed, public)
    assert bad["ok"] is False and bad["first_altered"]["seq"] == completed["seq"]
    assert "task_completed" in bad["reason"]

    forged = json.loads(json.dumps(doc))  # the outsider's key is not the one in the export
    other = SigningKey.generate()
    forged["checkpoint"]["signature"] = other.sign(forged["checkpoint"]["hash"])
    forged["checkpoint"]["public_key"] = other.public_pem
    forged["checkpoint"]["key_id"] = other.key_id
    assert verify_export(forged)["ok"] is True  # self-consistent...
    refused = verify_export(forged, public)  # ...but not signed by the office's key
    assert refused["ok"] is False and refused["first_altered"]["item"] == "checkpoint"

    good, altered, pub = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "key.pub"
    good.write_text(json.dumps(doc))
    altered.write_text(json.dumps(changed))
    pub.write_bytes(public)
    runner = CliRunner()
    ran = runner.invoke(
        main, ["audit", "verify-export", str(good), "--public-key", str(pub), "--json"]
    )
    assert ran.exit_code == 0 and json.loads(ran.output)["ok"] is True
    ran = runner.invoke(main, ["audit", "verify-export", str(altered), "--json"])
    assert ran.exit_code == 1
    out = json.loads(ran.output)
    assert out["ok"] is False and out["first_altered"]["item"] == "event"


def test_a_checkpoint_costs_what_moved_not_the_number_of_cases(audited) -> None:
    iid = _completed_case(audited)
    audited.management.checkpoint()

    def moved_checkpoint(ballast: int) -> dict[str, Any]:
        with audited.db.write() as conn:  # bare stored cases, each with a chain of 2 events
            template = dict(
                conn.execute(select(cases_t).where(cases_t.c.id == iid)).mappings().one()
            )
            template.pop("id")
            rows = [
                {**template, "audit_seq": 2, "audit_checkpoint_seq": 2, "audit_head": "f" * 64}
                for _ in range(ballast)
            ]
            conn.execute(insert(cases_t), rows)
        start_check(audited)  # one case moves: started since the last checkpoint
        return audited.management.checkpoint()

    small, large = moved_checkpoint(10), moved_checkpoint(2000)
    with audited.db.read() as conn:
        stored = conn.execute(select(func.count()).select_from(cases_t)).scalar_one()
    assert stored > 2000
    for key in ("chains", "rows_read", "rows_written"):
        assert small[key] == large[key], key
    # bytes: the same but for the digits of the case's id in its chain's name
    assert abs(large["bytes"] - small["bytes"]) <= len(str(stored))
    assert large["chains"] == 1 and large["rows_written"] == 3  # checkpoint, leaf, case mark
    with audited.db.read() as conn:
        leaves = conn.execute(
            select(func.count()).select_from(heads_t).where(heads_t.c.checkpoint_id == large["id"])
        ).scalar_one()
    assert leaves == 1
    # nothing moved: the worker's checkpoint writes nothing at all
    idle = audited.management.checkpoint(only_if_moved=True)
    assert idle["written"] is False


def test_a_step_after_the_last_checkpoint_is_covered_by_the_next(audited, clock) -> None:
    iid = start_check(audited)
    worker = Worker(audited)
    worker.poll()  # the first round checkpoints what moved and verifies once
    with audited.db.read() as conn:
        assert verify_case(conn, iid, audited.audit)["pending_events"] == 0
        first = last_verification(conn)
    assert first is not None and first["ok"] is True and first["trigger"] == "worker"
    [task] = audited.tasks.list(TaskQuery(instance_id=iid))
    audited.tasks.complete(task.task_guid, CHECK, actor="ivanov")
    with audited.db.read() as conn:
        pending = verify_case(conn, iid, audited.audit)
    assert pending["ok"] is True and pending["pending_events"] > 0
    worker.poll()  # within the interval: nothing yet
    with audited.db.read() as conn:
        assert verify_case(conn, iid, audited.audit)["pending_events"] > 0
    clock.advance(timedelta(seconds=60))  # at most a minute later it is covered
    worker.poll()
    with audited.db.read() as conn:
        covered = verify_case(conn, iid, audited.audit)
        count = conn.execute(select(func.count()).select_from(cp_t)).scalar_one()
    assert covered["pending_events"] == 0 and covered["checkpoint"]["signature_valid"] is True
    clock.advance(timedelta(seconds=60))
    worker.poll()  # nothing moved: no new checkpoint
    with audited.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(cp_t)).scalar_one() == count


def test_checkpoints_before_a_key_was_configured_do_not_fail_verification(engine, key) -> None:
    from engine.history import verify

    engine.audit = AuditSettings()
    _completed_case(engine)
    engine.management.checkpoint()
    engine.audit = AuditSettings(key=key)
    with engine.db.read() as conn:  # the newest is unsigned: the worker signs one at once
        assert verify(conn, engine.audit).as_json()["ok"] is False
    assert engine.management.checkpoint(only_if_moved=True)["written"] is True
    with engine.db.read() as conn:
        result = verify(conn, engine.audit).as_json()
    assert result["ok"] is True and result["unsigned"] == 1 and result["signed"] == 1


def test_the_cli_exports_verifies_and_keeps_the_result(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.config import load_settings
    from tests.conftest import FIXTURES
    from workflows.runtime import build_engine

    keyfile = tmp_path / "audit.pem"
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(FIXTURES))
    monkeypatch.setenv("NADZOR_AUDIT_KEY", str(keyfile))
    monkeypatch.setenv("NADZOR_AUDIT_LOG", str(tmp_path / "checkpoints.log"))
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    cli("audit", "keygen", str(keyfile))
    assert (tmp_path / "audit.pem.pub").exists()
    cli("audit", "keygen", str(keyfile), code=2)  # never overwritten
    engine = build_engine(load_settings())
    try:
        engine.repository.publish(BENCH_MODEL, actor="methodologist", now=engine.clock.now())
        iid = engine.runtime.start(
            "bench_penalty_check",
            {"placed_at": "2030-01-01T10:00:00+05:00", "remote": False, "office_code": "D01"},
            actor="ivanov",
        )
        exported = cli("audit", "export", str(iid), "--json")  # checkpoints the case first
        doc = json.loads(exported)
        assert doc["uncovered_events"] == 0 and doc["checkpoint"]["signature"]
        (tmp_path / "case.json").write_text(exported)
        out = json.loads(
            cli(
                "audit",
                "verify-export",
                str(tmp_path / "case.json"),
                "--public-key",
                str(tmp_path / "audit.pem.pub"),
                "--json",
            )
        )
        assert out["ok"] is True and out["case"] == iid
        checkpoint = json.loads(cli("audit", "checkpoint", "--json"))
        assert {"chains", "events", "hash", "signed"} <= set(checkpoint)
        verified = json.loads(cli("audit", "verify", "--json"))
        assert verified["ok"] is True and verified["signed"] >= 2 and verified["models"] == 1
        with engine.db.read() as conn:
            stored = last_verification(conn)
        assert stored["trigger"] == "cli" and stored["ok"] is True
        with engine.db.write() as conn:
            conn.execute(
                update(events_t).where(events_t.c.chain == case_chain(iid)).values(actor="x")
            )
        broken = json.loads(cli("audit", "verify", "--json", code=1))
        assert broken["ok"] is False and broken["chain"] == case_chain(iid)
        with engine.db.read() as conn:
            assert last_verification(conn)["ok"] is False
    finally:
        engine.db.dispose()


def test_hashes_are_plain_sha256_an_outsider_can_recompute() -> None:
    """The rules the export states are the ones used (a leaf is SHA-256 of 0x00 || JSON)."""
    expected = hashlib.sha256(b'\x00["case:1",2,"' + b"a" * 64 + b'"]').hexdigest()
    assert leaf_hash("case:1", 2, "a" * 64) == expected


def test_a_backlog_is_checkpointed_in_short_slices(audited, monkeypatch) -> None:
    """After upgrading, every chain is new to the checkpoints: taken a slice per transaction."""
    import engine.history

    monkeypatch.setattr(engine.history, "CHECKPOINT_BATCH", 2)
    ids = [start_check(audited) for _ in range(5)]
    worker = Worker(audited)
    first = audited.management.checkpoint(only_if_moved=True)  # one slice, as the worker takes
    assert first["chains"] == 2 + 1 and first["more"] is True  # 2 cases and the system chain
    worker.poll()  # the worker goes on at once while a backlog remains
    worker.poll()
    with audited.db.read() as conn:
        assert all(verify_case(conn, i, audited.audit)["pending_events"] == 0 for i in ids)
    start_check(audited)
    start_check(audited)
    start_check(audited)
    done = audited.management.checkpoint()  # the CLI's: until nothing is left
    assert done["more"] is False and done["checkpoints_written"] == 2
    assert audited.verify_history()["ok"] is True


def test_checkpoints_from_before_the_upgrade_still_verify_and_chain_on(audited) -> None:
    """A checkpoint of the old kind (every head in one row, no root) stays verifiable."""
    from engine.history import _legacy_checkpoint_hash, current_heads

    iid = _completed_case(audited)
    with audited.db.write() as conn:
        heads = current_heads(conn)
        instant = audited.clock.now()
        events = conn.execute(select(func.count()).select_from(events_t)).scalar_one()
        digest = _legacy_checkpoint_hash(instant, heads, events, GENESIS)
        conn.execute(
            insert(cp_t).values(
                instant=instant, heads=heads, events=events, prev_hash=GENESIS, hash=digest
            )
        )
    first = audited.management.checkpoint()  # records every chain once, chained to the old one
    assert first["chains"] == len(heads) and first["events"] == events
    assert audited.verify_history()["ok"] is True
    _rewrite_chain(audited, iid, actor="mallory")
    result = audited.verify_history()
    assert result["ok"] is False and result["chain"] == case_chain(iid)


def test_a_case_inside_a_step_is_left_for_the_next_checkpoint(audited, database_url) -> None:
    """On PostgreSQL a checkpoint never waits for a case another transaction holds: it records
    the others and takes that one next time. (SQLite has one writer: nothing is ever held.)"""
    from sqlalchemy import create_engine

    held, free = start_check(audited), start_check(audited)
    if database_url.startswith("postgresql"):
        other = create_engine(database_url)
        with other.connect() as conn:
            conn.execute(select(cases_t.c.id).where(cases_t.c.id == held).with_for_update())
            first = audited.management.checkpoint(only_if_moved=True)
            conn.rollback()
        other.dispose()
        with audited.db.read() as conn:
            assert verify_case(conn, held, audited.audit)["pending_events"] > 0
            assert verify_case(conn, free, audited.audit)["pending_events"] == 0
        assert first["written"] is True
    audited.management.checkpoint(only_if_moved=True)
    with audited.db.read() as conn:
        assert verify_case(conn, held, audited.audit)["pending_events"] == 0
    assert audited.verify_history()["ok"] is True


def test_the_worker_refuses_to_start_with_an_unreadable_key(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_AUDIT_KEY", str(tmp_path / "missing.pem"))
    ran = CliRunner().invoke(main, ["worker", "--once"])
    assert ran.exit_code == 2 and "cannot read the audit key" in ran.output
    (tmp_path / "missing.pem").write_text("not a key")
    ran = CliRunner().invoke(main, ["worker", "--once"])
    assert ran.exit_code == 2 and "not a PEM private key" in ran.output
