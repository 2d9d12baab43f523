"""A prosecutor's own workspace state: saved queue filters and unsubmitted task drafts.

Both are kept on the server so they follow the user between machines; neither touches a case,
so neither is part of a case's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from engine.db import Database
from engine.errors import NotFound
from engine.models import as_utc

from .models import SavedFilter, TaskDraft

filter_table = SavedFilter.__table__
draft_table = TaskDraft.__table__

#: what a saved filter may hold: the queue page's own query parameters
FILTER_PARAMS = ("procedure", "institution", "q")


@dataclass(frozen=True)
class SavedFilterView:
    id: int
    name: str
    owner_login: str
    office_code: str
    shared: bool
    queue: str
    params: dict[str, str]


class SavedFilters:
    def __init__(self, db: Database) -> None:
        self.db = db

    def visible_to(self, login: str, office_code: str) -> list[SavedFilterView]:
        """The user's own filters, then those shared with their office, by name."""
        c = filter_table.c
        stmt = (
            select(filter_table)
            .where(or_(c.owner_login == login, (c.office_code == office_code) & c.shared))
            .order_by(c.owner_login != login, c.name, c.id)
        )
        with self.db.read() as conn:
            return [_filter(r) for r in conn.execute(stmt).mappings()]

    def save(
        self,
        *,
        name: str,
        login: str,
        office_code: str,
        shared: bool,
        queue: str,
        params: dict[str, str],
        now: datetime,
    ) -> SavedFilterView:
        kept = {k: v for k, v in params.items() if k in FILTER_PARAMS and v}
        with self.db.write() as conn:
            new_id = conn.execute(
                insert(filter_table)
                .values(
                    name=name,
                    owner_login=login,
                    office_code=office_code,
                    shared=shared,
                    queue=queue,
                    params=kept,
                    created_at=now,
                )
                .returning(filter_table.c.id)
            ).scalar_one()
        return SavedFilterView(new_id, name, login, office_code, shared, queue, kept)

    def delete(self, filter_id: int, *, login: str) -> None:
        """Only the owner removes a filter (a shared one too)."""
        with self.db.write() as conn:
            done = conn.execute(
                delete(filter_table).where(
                    filter_table.c.id == filter_id, filter_table.c.owner_login == login
                )
            ).rowcount
        if done != 1:
            raise NotFound(f"saved filter {filter_id} is not yours or does not exist")


def _filter(row: Any) -> SavedFilterView:
    return SavedFilterView(
        row["id"],
        row["name"],
        row["owner_login"],
        row["office_code"],
        bool(row["shared"]),
        row["queue"],
        dict(row["params"] or {}),
    )


@dataclass(frozen=True)
class Draft:
    data: dict[str, Any]
    saved_at: datetime


class Drafts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, task_guid: str, login: str) -> Draft | None:
        c = draft_table.c
        with self.db.read() as conn:
            row = conn.execute(
                select(c.data, c.saved_at).where(c.task_guid == task_guid, c.login == login)
            ).first()
        return Draft(dict(row.data or {}), as_utc(row.saved_at)) if row else None  # type: ignore[arg-type]

    def save(self, task_guid: str, login: str, data: dict[str, Any], now: datetime) -> None:
        c = draft_table.c
        key = (c.task_guid == task_guid, c.login == login)
        with self.db.write() as conn:
            changed = conn.execute(
                update(draft_table).where(*key).values(data=data, saved_at=now)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(draft_table).values(
                        task_guid=task_guid, login=login, data=data, saved_at=now
                    )
                )

    def discard(self, task_guid: str, login: str | None = None) -> None:
        """Drop the drafts of a task (all of them once it is completed)."""
        c = draft_table.c
        stmt = delete(draft_table).where(c.task_guid == task_guid)
        if login is not None:
            stmt = stmt.where(c.login == login)
        with self.db.write() as conn:
            conn.execute(stmt)
