"""Files attached to a case (issue 11): stored in the step with their SHA-256, referenced in the
case data and its hash-chained history, size-limited, downloadable within the case's scope, and
refused when their stored content was changed."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine.attachments import (
    MAX_FILE_BYTES,
    MAX_FILES,
    AttachmentDamaged,
    attachment_table,
    attachments_of,
    read_attachment,
)
from engine.errors import ScriptFailed, ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import FIXTURES

MODEL = FIXTURES / "attachments" / "attach_files.bpmn"
START = {"institution": "UK-161-2"}  # district office ALM-TLG
PDF = b"%PDF-1.4\n% conclusion of the special check\n"


def upload(name: str, content: bytes, content_type: str = "application/pdf") -> dict[str, str]:
    return {
        "name": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


@pytest.fixture
def engine(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def started(engine, data: dict[str, Any] | None = None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    iid = engine.runtime.start("attach_files", {**START, **(data or {})}, actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    return iid, task.task_guid


def stored_count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.db.read() as conn:
        return conn.execute(select(func.count()).select_from(attachment_table)).scalar_one()


# -- the engine ---------------------------------------------------------------------------------


def test_files_are_stored_with_sha256_and_referenced_in_the_history(engine) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    engine.tasks.complete(
        guid,
        {"note": "ok", "materials": [upload("заключение.pdf", PDF), upload("photo.png", photo, "")]},  # noqa: E501
        actor="tlg.prosecutor",
    )
    with engine.db.read() as conn:
        files = attachments_of(conn, iid)
        assert [(f.name, f.size, f.task_name, f.field) for f in files] == [
            ("photo.png", len(photo), "attach", "materials"),
            ("заключение.pdf", len(PDF), "attach", "materials"),
        ]
        by_name = {f.name: f for f in files}
        assert by_name["заключение.pdf"].sha256 == hashlib.sha256(PDF).hexdigest()
        assert by_name["photo.png"].content_type == "application/octet-stream"
        assert by_name["заключение.pdf"].uploaded_by == "tlg.prosecutor"
        stored = read_attachment(conn, iid, by_name["заключение.pdf"].attachment_id)
        assert stored.content == PDF
    [completed] = [e for e in engine.history.events(iid) if e["event_type"] == "task_completed"]
    refs = completed["data_after"]["materials"]
    assert {r["name"]: r["sha256"] for r in refs} == {n: f.sha256 for n, f in by_name.items()}
    assert all(set(r) == {"attachment_id", "name", "content_type", "size", "sha256"} for r in refs)
    assert "content_base64" not in str(completed["data_after"])  # no bytes in case data
    assert engine.runtime.data(iid)["materials"] == refs  # the case data holds refs only
    assert engine.verify_history()["ok"] is True


def test_files_of_the_start_form_go_with_the_start(engine) -> None:  # type: ignore[no-untyped-def]
    iid, _ = started(engine, {"report_files": upload("report.txt", b"report", "text/plain")})
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    assert (info.name, info.task_guid, info.field) == ("report.txt", None, "report_files")
    [event] = [e for e in engine.history.events(iid) if e["event_type"] == "instance_started"]
    assert event["data_after"]["data"]["report_files"][0]["sha256"] == info.sha256


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        (None, "file_required", "attach at least one file"),
        ([], "file_required", "attach at least one file"),
        (
            [{"name": "a.pdf", "content_type": "application/pdf", "content_base64": "%%%"}],
            "bad_base64",
            "is not valid base64",
        ),
        (
            [upload(f"{i}.txt", b"x", "text/plain") for i in range(MAX_FILES + 1)],
            "too_many_files",
            f"at most {MAX_FILES} files",
        ),
        (
            [upload("big.bin", b"\0" * (MAX_FILE_BYTES + 1), "application/octet-stream")],
            "file_too_large",
            "is larger than 10.0 MB",
        ),
        (
            [upload(f"{i}.bin", b"\0" * (MAX_FILE_BYTES - 1)) for i in range(3)],
            "files_too_large",
            "together may have at most 20.0 MB",
        ),
        ([upload("", b"x")], "file_name_missing", "every file needs a name"),
        ([upload("x" * 300 + ".pdf", b"x")], "file_name_too_long", "at most 255 characters"),
        ([upload("a.pdf", b"x", "not a type")], "file_type_invalid", "media type"),
        ("text", "not_files", "must be a list of files"),
    ],
)
def test_bad_uploads_are_refused_in_words_and_nothing_is_stored(
    engine, value: Any, code: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    with pytest.raises(ValidationFailed) as refused:
        engine.tasks.complete(guid, {"materials": value}, actor="tlg.prosecutor")
    problem = refused.value.fields["materials"]
    assert problem.code == code
    assert words in problem.message
    assert stored_count(engine) == 0
    assert engine.tasks.get(guid).state == "ready"


def test_one_file_where_the_field_takes_one(engine) -> None:  # type: ignore[no-untyped-def]
    _, guid = started(engine)
    with pytest.raises(ValidationFailed) as refused:
        engine.tasks.complete(
            guid,
            {"materials": [upload("a.pdf", PDF)], "conclusion": [upload("a.pdf", PDF)] * 2},
            actor="tlg.prosecutor",
        )
    assert refused.value.fields["conclusion"].message == "only one file may be attached here"
    assert stored_count(engine) == 0


def test_a_failing_step_leaves_no_file(engine) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    with pytest.raises(ScriptFailed):
        engine.tasks.complete(
            guid, {"materials": [upload("fail.pdf", PDF)]}, actor="tlg.prosecutor"
        )
    assert stored_count(engine) == 0
    assert engine.tasks.get(guid).state == "ready"


def test_changed_content_is_reported_not_served(engine) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    with engine.db.write() as conn:
        conn.execute(
            update(attachment_table)
            .where(attachment_table.c.id == info.attachment_id)
            .values(content=PDF.replace(b"special", b"ordinary"))
        )
    with engine.db.read() as conn, pytest.raises(AttachmentDamaged) as damaged:
        read_attachment(conn, iid, info.attachment_id)
    assert "no longer matches the SHA-256" in str(damaged.value)


def test_a_file_is_read_only_through_its_own_case(engine) -> None:  # type: ignore[no-untyped-def]
    from engine.errors import NotFound

    iid, guid = started(engine)
    other, _ = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
        with pytest.raises(NotFound):
            read_attachment(conn, other, info.attachment_id)
        with pytest.raises(NotFound):
            read_attachment(conn, iid, "../../etc/passwd")


