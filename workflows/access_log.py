"""Who read which case, when, from where: one row per read of a case, and per refusal.

The web app records a row for every view of a case page, task page, diagram, trace, export or
API read of a case, and for every 403/404 answered to such a request (web/access.py). A row is
one INSERT; the case a task belongs to and the case's office are looked up inside that same
statement, so a refused request for a case outside the reader's scope still names the case and
its office (an auditor of that office sees the probe) while the reader learned nothing.

The log is append-only by use: nothing in the application updates or deletes its rows. It is
kept apart from the hash-chained history on purpose: every read would otherwise lock one chain
head, and reads are far more frequent than steps. Refusals are in both (the history's system
chain has had `access_denied` events since before this log).

Who may read the log: auditors, for the cases of the offices within their scope
(workflows/scope.py); rows that name no known case (a task id that does not exist) only at the
General Prosecutor's Office, as cases without an office are.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Database
from engine.models import BigId, HumanTask, ProcessInstance, UTCDateTime, as_utc

from .models import DomainBase

#: what was read, as the log names it (pages translate these)
WHAT = ("case", "task", "diagram", "trace", "export", "api", "access_log")


class AccessEntry(DomainBase):
    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_case", "instance_id", "id"),
        Index("ix_access_log_login", "login", "id"),
        Index("ix_access_log_office", "case_office", "id"),
        Index("ix_access_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    login: Mapped[str] = mapped_column(String(100))
    office_code: Mapped[str | None] = mapped_column(String(50))  # the reader's office
    what: Mapped[str] = mapped_column(String(20))
    instance_id: Mapped[int | None] = mapped_column(BigInteger)  # the case asked for
    task_guid: Mapped[str | None] = mapped_column(String(36))
    case_office: Mapped[str | None] = mapped_column(String(50))  # the case's office, if it exists
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    ip: Mapped[str] = mapped_column(String(64))


access_table = AccessEntry.__table__
_instance = ProcessInstance.__table__
_task = HumanTask.__table__


@dataclass(frozen=True)
class Read:
    """One read (or refused read) of a case, as the door saw it."""

    at: datetime
    login: str
    office_code: str | None
    what: str
    instance_id: int | None
    task_guid: str | None
    method: str
    path: str
    status: int
    ip: str


def insert_statement(read: Read) -> Any:
    """The single INSERT that records `read`; the case of a task and the case's office come
    from subqueries of the same statement (no read before the write)."""
    if read.instance_id is not None:
        case: Any = literal(read.instance_id, BigInteger())
    elif read.task_guid is not None:
        case = (
            select(_task.c.instance_id).where(_task.c.task_guid == read.task_guid).scalar_subquery()
        )
    else:
        case = null()
    office = (
        select(_instance.c.office_code).where(_instance.c.id == case).scalar_subquery()
        if read.instance_id is not None or read.task_guid is not None
        else null()
    )
    return insert(access_table).values(
        at=read.at,
        login=read.login[:100],
        office_code=read.office_code,
        what=read.what[:20],
        instance_id=case,
        task_guid=read.task_guid,
        case_office=office,
        method=read.method[:10],
        path=read.path[:500],
        status=read.status,
        ip=(read.ip or "?")[:64],
    )


@dataclass
class AccessQuery:
    """Filters of the log; `offices` is the reader's scope (None: every row)."""

    offices: Collection[str] | None = None
    login: str | None = None
    instance_id: int | None = None
    since: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    refused: bool = False  # only 403/404 answers
    limit: int = 50
    offset: int = 0


class AccessLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, read: Read) -> None:
        with self.db.write() as conn:
            conn.execute(insert_statement(read))

    def _select(self, query: AccessQuery) -> Any:
        c = access_table.c
        stmt = select(access_table)
        if query.offices is not None:
            stmt = stmt.where(c.case_office.in_(sorted(query.offices)))
        if query.login:
            stmt = stmt.where(c.login == query.login)
        if query.instance_id is not None:
            stmt = stmt.where(c.instance_id == query.instance_id)
        if query.since is not None:
            stmt = stmt.where(c.at >= query.since)
        if query.before is not None:
            stmt = stmt.where(c.at < query.before)
        if query.refused:
            stmt = stmt.where(or_(c.status == 403, c.status == 404))
        return stmt

    def entries(self, query: AccessQuery) -> list[dict[str, Any]]:
        """Newest first."""
        c = access_table.c
        stmt = self._select(query).order_by(c.id.desc()).limit(query.limit).offset(query.offset)
        with self.db.read() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        for row in rows:
            row["at"] = as_utc(row["at"])
        return rows

    def count(self, query: AccessQuery, cap: int | None = None) -> int:
        matching = self._select(query).with_only_columns(access_table.c.id)
        if cap is not None:
            matching = matching.limit(cap)
        with self.db.read() as conn:
            return conn.execute(select(func.count()).select_from(matching.subquery())).scalar_one()


def entry_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the CLI and the API give it: `at` in ISO 8601 UTC, the contract's keys first."""
    return {
        "at": row["at"].isoformat(),
        "login": row["login"],
        "what": row["what"],
        "case": row["instance_id"],
        "task": row["task_guid"],
        "office": row["office_code"],
        "case_office": row["case_office"],
        "status": row["status"],
        "refused": row["status"] in (403, 404),
        "method": row["method"],
        "path": row["path"],
        "ip": row["ip"],
    }
