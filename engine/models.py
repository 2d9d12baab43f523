"""Tables of the engine: definitions, instances and the projections kept beside their state.

Projections (`human_task`, `timer`, `message_wait`) exist so that queues, the timer worker and
message delivery never restore a workflow to answer a question.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def as_utc(value: datetime | str | None) -> datetime | None:
    """An instant as a raw driver row holds it (SQLite: naive text) made aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Instants in UTC, aware on the way in and out, whatever the database keeps.

    SQLite has no time zones: without this an aware +05:00 value would be stored as its wall
    time and come back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("instants must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Definition(Base):
    """A published, immutable version of one procedure (its files and the parsed spec)."""

    __tablename__ = "definition"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_definition_version"),
        # no unique (process_id, sha256): an older version's content may become current again
        # under a new number (the way back; migration 0009)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500), default="")
    documentation: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    spec_json: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(100), default="system")
    #: what changed and why, and the legal act it follows (written by the methodologist)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="", server_default="")


class ProcessInstance(Base):
    """One case. `revision` guards against stale writes; `audit_*` is the head of its chain."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_process_status", "process_id", "status"),
        # the chains a checkpoint has to record: only those that moved since the last one
        Index(
            "ix_instance_audit_moved",
            "id",
            sqlite_where=text("audit_seq <> audit_checkpoint_seq"),
            postgresql_where=text("audit_seq <> audit_checkpoint_seq"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definition.id"))
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(Text)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_by: Mapped[str] = mapped_column(String(100))
    office_code: Mapped[str | None] = mapped_column(String(50), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: first deadline breach and first incident recorded for the case (engine/audit_search.py)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    #: the seq the last checkpoint recorded; differs from audit_seq while the chain has moved
    audit_checkpoint_seq: Mapped[int] = mapped_column(Integer, server_default="0")


# audit search (engine/audit_search.py, migration 0006): opened in a date range; newest
# (highest number) first in an office, or among the cases with a flag
Index("ix_instance_created", ProcessInstance.created_at, ProcessInstance.id)
Index("ix_instance_office_id", ProcessInstance.office_code, ProcessInstance.id)
# indicators (workflows/indicators.py, migration 0008): an office's cases received in a period
Index(
    "ix_instance_office_created",
    ProcessInstance.office_code,
    ProcessInstance.created_at,
    postgresql_include=["id", "process_id", "status"],
)
for _flag in ("breached_at", "incident_at"):
    Index(
        f"ix_instance_{_flag[:-3]}",
        ProcessInstance.id,
        sqlite_where=text(f"{_flag} IS NOT NULL"),
        postgresql_where=text(f"{_flag} IS NOT NULL"),
    )


class HumanTask(Base):
    """A user task as queues see it; one row per task occurrence, kept after completion."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_queue", "state", "office_code", "role", "due_at"),
        Index("ix_human_task_assignee", "assignee", "state", "due_at"),
        Index("ix_human_task_instance", "instance_id", "state"),
        Index(  # indicators (migration 0008): covering on PostgreSQL
            "ix_human_task_instance_name",
            "instance_id",
            "task_name",
            postgresql_include=["state", "due_at", "completed_at", "created_at"],
        ),
        Index("ix_human_task_remind", "state", "remind_at"),
        Index("ix_human_task_due", "state", "due_at"),
        Index(
            "ix_human_task_unclaimed",
            "state",
            "office_code",
            "role",
            "due_at",
            "id",
            "instance_id",  # filters on case data probe the case without reading the row
            sqlite_where=text("assignee IS NULL"),
            postgresql_where=text("assignee IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    process_id: Mapped[str] = mapped_column(String(200))
    task_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    lane: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(50))
    office_code: Mapped[str | None] = mapped_column(String(50))
    assignee: Mapped[str | None] = mapped_column(String(100))
    form: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20))
    completed_by: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    titles: Mapped[dict[str, str] | None] = mapped_column(JSON)  # the model's translations


class CaseAttribute(Base):
    """A start-data value queues filter on (institution, a person's name, a document number).

    Kept apart from the JSON summary so that filters are indexed lookups on every database.
    """

    __tablename__ = "case_attribute"
    __table_args__ = (
        Index("ix_case_attribute_instance", "instance_id", "name"),
        Index("ix_case_attribute_value", "name", "value", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    name: Mapped[str] = mapped_column(String(50))
    value: Mapped[str] = mapped_column(String(300))
    value_norm: Mapped[str] = mapped_column(String(300))


# byte order on PostgreSQL too, so that a word's prefix range is exact (see engine/search.py)
TermText = String(100).with_variant(String(100, collation="C"), "postgresql")


class CaseTerm(Base):
    """One word of a case's searchable start data: name searches are prefix ranges."""

    __tablename__ = "case_term"
    __table_args__ = (
        Index("ix_case_term_term", "term", "instance_id"),
        Index("ix_case_term_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    term: Mapped[str] = mapped_column(TermText)


class Timer(Base):
    """A waiting timer event, or a pending retry of a failed service task."""

    __tablename__ = "timer"
    __table_args__ = (UniqueConstraint("instance_id", "task_guid", "kind", name="uq_timer_task"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(10))  # "timer" | "retry"
    name: Mapped[str] = mapped_column(String(200))
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Schedule(Base):
    """A calendar a procedure starts on (a timer start event; engine/schedules.py): `since`
    is when the version that last changed it was published (occurrences before it are never
    started); a failing
    start is retried with backoff (`retry_at`) and recorded once as an incident."""

    __tablename__ = "schedule"

    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    start_event: Mapped[str] = mapped_column(String(200), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class ScheduledStart(Base):
    """One occurrence of a schedule for one office, inserted in the transaction that starts
    its case: the unique constraint makes every occurrence start once across all workers."""

    __tablename__ = "scheduled_start"
    __table_args__ = (
        UniqueConstraint(
            "process_id", "start_event", "occurrence", "office_code", name="uq_scheduled_start"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200))
    start_event: Mapped[str] = mapped_column(String(200))
    occurrence: Mapped[datetime] = mapped_column(UTCDateTime())
    office_code: Mapped[str] = mapped_column(String(50))  # "" when the model names no offices
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageWait(Base):
    """An instance waiting for a named message (intermediate catch or receive task)."""

    __tablename__ = "message_wait"
    __table_args__ = (UniqueConstraint("instance_id", "name", name="uq_message_wait"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    name: Mapped[str] = mapped_column(String(200), index=True)


class Incident(Base):
    """Something that needs a person: a failing script or service, recorded outside the step."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str | None] = mapped_column(String(36))
    task_name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # what a person needs to act on it (migration 0010, engine/management.py): the procedure
    # (also for a start that failed before its case existed), the element that failed, how
    # often it was tried, and who closed it how
    process_id: Mapped[str | None] = mapped_column(String(200))
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, server_default="1", default=1)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: open (retried automatically), needs_attention (no more automatic attempts), resolved
    status: Mapped[str] = mapped_column(
        String(20), server_default="open", default="open", index=True
    )
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only history; `hash` covers the row's content and `prev_hash` links its chain."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_chain_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    instant: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    office_code: Mapped[str | None] = mapped_column(String(50))
    instance_id: Mapped[int | None] = mapped_column(BigId, index=True)
    task_guid: Mapped[str | None] = mapped_column(String(36))
    task_name: Mapped[str | None] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(50))
    data_before: Mapped[Any | None] = mapped_column(JSON)
    data_after: Mapped[Any | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """Heads of chains that have no instance row to carry them (the system chain)."""

    __tablename__ = "audit_chain"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    head: Mapped[str] = mapped_column(String(64), default="")
    checkpoint_seq: Mapped[int] = mapped_column(Integer, server_default="0")


class Attachment(Base):
    """A file attached to a case by a step (engine/attachments.py); the case data and the
    step's audit event hold its reference with the SHA-256 the content is checked against."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_instance", "instance_id", "uploaded_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_guid: Mapped[str | None] = mapped_column(String(36))  # None: attached at the start
    task_name: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditCheckpoint(Base):
    """A hash over the chain heads that moved since the previous checkpoint (a Merkle root over
    them, `audit_checkpoint_head`), chained to the previous checkpoint and signed with a key kept
    outside the database. Rows written before 0005 (`root` NULL) hold every head in `heads`."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instant: Mapped[datetime] = mapped_column(UTCDateTime())
    heads: Mapped[dict[str, Any]] = mapped_column(JSON)
    events: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    root: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)  # Ed25519 over `hash`, base64
    key_id: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the raw public key


class AuditCheckpointHead(Base):
    """One leaf of a checkpoint's Merkle tree: a chain's head as the checkpoint recorded it."""

    __tablename__ = "audit_checkpoint_head"
    __table_args__ = (Index("ix_audit_checkpoint_head_chain", "chain", "checkpoint_id"),)

    checkpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("audit_checkpoint.id"), primary_key=True
    )
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))


class AuditVerification(Base):
    """The result of a whole-history verification (CLI or worker), for pages to show."""

    __tablename__ = "audit_verification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instant: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(String(120))  # "cli" | "worker" | "page:<login>"
    ok: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class ModelDraft(Base):
    """A procedure's files being edited before publishing (engine/drafts.py). `revision` moves
    on every save: a save made against an older revision is refused, not merged."""

    __tablename__ = "model_draft"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("definition.id"))
    main: Mapped[str] = mapped_column(String(400))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
