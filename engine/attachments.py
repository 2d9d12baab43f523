"""Files attached to a case: checked with the form, stored with their SHA-256 in the step.

A form's ``filepicker`` field takes uploads ``{"name", "content_type", "content_base64"}``
(engine/forms.py checks them with `decode_uploads`). The step that takes them stores each file
in the ``attachment`` table in its own transaction (`store_files`), and the case data, and with
it the step's audit event, keeps only a reference per file::

    {"attachment_id", "name", "content_type", "size", "sha256"}

so the hash-chained history fixes every file's SHA-256 while the bytes stay out of the case
data. A failed step stores nothing. Reading a file (`read_attachment`) checks its content
against the stored SHA-256 and refuses a changed file instead of serving it.

Limits (README "Attachments"): `MAX_FILE_BYTES` per file, `MAX_STEP_BYTES` for all files of one
step, `MAX_FILES` per field, names up to `MAX_NAME` characters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from .errors import EngineError, FieldProblem, NotFound
from .models import Attachment, as_utc

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_STEP_BYTES = 20 * 1024 * 1024
MAX_FILES = 20
MAX_NAME = 255
MAX_CONTENT_TYPE = 127
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: the keys of an upload and of a stored file's reference in case data
UPLOAD_KEYS = frozenset({"name", "content_type", "content_base64"})
REF_KEYS = ("attachment_id", "name", "content_type", "size", "sha256")

attachment_table = Attachment.__table__

_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class AttachmentDamaged(EngineError):
    """A stored file's content no longer matches the SHA-256 recorded when it was attached."""


@dataclass(frozen=True)
class PendingFile:
    """An upload that passed the checks, waiting for its step to store it."""

    attachment_id: str
    field: str
    name: str
    content_type: str
    size: int
    sha256: str
    content: bytes

    def ref(self) -> dict[str, Any]:
        """What the case data and its history keep of the file."""
        return {
            "attachment_id": self.attachment_id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class AttachmentInfo:
    """A stored file as the case page lists it (without its content)."""

    attachment_id: str
    instance_id: int
    task_guid: str | None
    task_name: str | None
    field: str
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class StoredFile:
    """A stored file with its content, checked against its SHA-256."""

    info: AttachmentInfo
    content: bytes


def human_size(size: int) -> str:
    """A file size in English words (bytes, KB, MB); the web layer has its own translation."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _file_name(value: Any) -> str | FieldProblem:
    if not isinstance(value, str) or not value.strip():
        return FieldProblem("file_name_missing", "every file needs a name")
    name = re.split(r"[\\/]", value)[-1].strip()  # a browser may send a whole path
    if not name or name in (".", ".."):
        return FieldProblem("file_name_missing", "every file needs a name")
    if _CONTROL.search(name):
        return FieldProblem(
            "file_name_invalid", "a file name must not hold control characters", name=name[:64]
        )
    if len(name) > MAX_NAME:
        return FieldProblem(
            "file_name_too_long",
            f"a file name may have at most {MAX_NAME} characters",
            max=MAX_NAME,
        )
    return name


def _content_type(value: Any) -> str | FieldProblem:
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_CONTENT_TYPE
    if (
        not isinstance(value, str)
        or len(value) > MAX_CONTENT_TYPE
        or not _CONTENT_TYPE.fullmatch(value.split(";")[0].strip())
    ):
        return FieldProblem(
            "file_type_invalid",
            "the file's content_type must be a media type such as application/pdf",
        )
    return value.split(";")[0].strip().lower()


def decode_uploads(
    key: str, value: Any, *, multiple: bool, budget: int = MAX_STEP_BYTES
) -> list[PendingFile] | FieldProblem:
    """The uploads of one file field, decoded and hashed, or the first broken rule.

    `value` is a list of uploads (a single upload object is taken as a list of one); `budget`
    is what is left of the step's total size for this field.
    """
    uploads = [value] if isinstance(value, dict) else value
    if not isinstance(uploads, list):
        return FieldProblem(
            "not_files",
            "the value must be a list of files, each "
            '{"name": ..., "content_type": ..., "content_base64": ...}',
        )
    if not multiple and len(uploads) > 1:
        return FieldProblem("too_many_files", "only one file may be attached here", max=1)
    if len(uploads) > MAX_FILES:
        return FieldProblem(
            "too_many_files", f"at most {MAX_FILES} files may be attached here", max=MAX_FILES
        )
    files: list[PendingFile] = []
    total = 0
    for upload in uploads:
        if not isinstance(upload, dict) or not isinstance(upload.get("content_base64"), str):
            return FieldProblem(
                "not_files",
                "each file must be an object with name, content_type and content_base64",
            )
        extra = set(upload) - UPLOAD_KEYS
        if extra:
            return FieldProblem(
                "not_files",
                "a file takes only name, content_type and content_base64; remove "
                + ", ".join(sorted(str(k)[:64] for k in extra)),
            )
        name = _file_name(upload.get("name"))
        if isinstance(name, FieldProblem):
            return name
        content_type = _content_type(upload.get("content_type"))
        if isinstance(content_type, FieldProblem):
            return content_type
        text = upload["content_base64"]
        # 4 base64 characters carry 3 bytes: refuse a too large file before decoding it
        if len(text) > (MAX_FILE_BYTES // 3 + 2) * 4 + 1024:
            return _too_large(name)
        try:
            content = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
        except (binascii.Error, ValueError):
            return FieldProblem(
                "bad_base64",
                f"the content of '{name}' is not valid base64",
                name=name,
            )
        if len(content) > MAX_FILE_BYTES:
            return _too_large(name)
        total += len(content)
        if total > budget:
            return FieldProblem(
                "files_too_large",
                f"all files of one step together may have at most {human_size(MAX_STEP_BYTES)}",
                max=MAX_STEP_BYTES,
            )
        files.append(
            PendingFile(
                attachment_id=str(uuid.uuid4()),
                field=key,
                name=name,
                content_type=content_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
            )
        )
    return files


def _too_large(name: str) -> FieldProblem:
    return FieldProblem(
        "file_too_large",
        f"'{name}' is larger than {human_size(MAX_FILE_BYTES)}, the most one file may have",
        name=name,
        max=MAX_FILE_BYTES,
    )


def store_files(
    conn: Connection,
    instance_id: int,
    files: Sequence[PendingFile],
    *,
    task_guid: str | None,
    task_name: str | None,
    actor: str,
    now: datetime,
) -> None:
    """Store the step's files in the step's own transaction (rolled back with it)."""
    if not files:
        return
    conn.execute(
        insert(attachment_table),
        [
            {
                "id": f.attachment_id,
                "instance_id": instance_id,
                "task_guid": task_guid,
                "task_name": task_name,
                "field": f.field,
                "name": f.name,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "content": f.content,
                "uploaded_by": actor,
                "uploaded_at": now,
            }
            for f in files
        ],
    )


_INFO_COLUMNS = [c for c in attachment_table.c if c.name != "content"]


def _info(row: Any) -> AttachmentInfo:
    return AttachmentInfo(
        attachment_id=row.id,
        instance_id=row.instance_id,
        task_guid=row.task_guid,
        task_name=row.task_name,
        field=row.field,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        uploaded_at=as_utc(row.uploaded_at),  # type: ignore[arg-type]
    )


def attachments_of(conn: Connection, instance_id: int) -> list[AttachmentInfo]:
    """The case's files in the order they were attached (without their content)."""
    c = attachment_table.c
    rows = conn.execute(
        select(*_INFO_COLUMNS)
        .where(c.instance_id == instance_id)
        .order_by(c.uploaded_at, c.task_guid, c.field, c.name)
    )
    return [_info(r) for r in rows]


def read_attachment(conn: Connection, instance_id: int, attachment_id: str) -> StoredFile:
    """One of the case's files with its content; `NotFound` if the case has no such file,
    `AttachmentDamaged` if the content no longer matches its recorded SHA-256 or size."""
    if not isinstance(attachment_id, str) or not _ID.fullmatch(attachment_id):
        raise NotFound(f"file {str(attachment_id)[:40]!r} does not exist")
    c = attachment_table.c
    row = conn.execute(
        select(attachment_table).where(c.id == attachment_id, c.instance_id == instance_id)
    ).first()
    if row is None:
        raise NotFound(f"case {instance_id} has no file {attachment_id}")
    content = bytes(row.content)
    if len(content) != row.size or hashlib.sha256(content).hexdigest() != row.sha256:
        raise AttachmentDamaged(
            f"the stored content of file '{row.name}' no longer matches the SHA-256 recorded "
            "when it was attached; it is not served"
        )
    return StoredFile(_info(row), content)


def is_ref(value: Any) -> bool:
    """Whether a case-data value is a stored file's reference."""
    return isinstance(value, dict) and set(value) == set(REF_KEYS)


def refs_in(value: Any) -> list[dict[str, Any]]:
    """The file references a case-data value holds (a list of them, or one)."""
    if is_ref(value):
        return [value]
    if isinstance(value, list) and value and all(is_ref(v) for v in value):
        return list(value)
    return []
