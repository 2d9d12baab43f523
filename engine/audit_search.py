"""Finding cases for an audit: by procedure, version, office, start-data values, words of a
person's name, dates, status, and two facts of the case's history kept as columns of its row.

`process_instance.breached_at` is the first instant a deadline of the case was recorded as
breached (the `deadline_breached` event), `incident_at` the first instant an incident was
recorded for it. Both are set in the transaction that records the breach or the incident
(`mark_breached`, `mark_incident`, called by engine/management.py and engine/step.py) and were
backfilled by migration 0006; partial indexes on them make "cases with a breach" a walk over
those cases only, newest first, instead of a probe of every case's tasks and incidents.

No workflow is restored: a result page is one indexed query for the page and one capped count,
then one query for the start-data values of the page's cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Index,
    exists,
    false,
    func,
    literal,
    select,
    union_all,
    update,
)

from .db import Database
from .models import CaseAttribute, CaseTerm, ProcessInstance, as_utc
from .search import PREFIX_END, query_words

instance_table = ProcessInstance.__table__
attribute_table = CaseAttribute.__table__
term_table = CaseTerm.__table__

#: a name's other words are checked against each candidate case's own words (migration 0006)
Index("ix_case_term_instance_term", CaseTerm.instance_id, CaseTerm.term)

#: a name matching at most this many cases is looked up first and given as a list
FEW = 500

BREACHED_AT = instance_table.c.breached_at
INCIDENT_AT = instance_table.c.incident_at


def mark_breached(conn: Connection, instance_id: int | None, now: datetime) -> None:
    """Remember that the case had a deadline breached (the first instant is kept)."""
    _mark(conn, instance_id, "breached_at", now)


def mark_incident(conn: Connection, instance_id: int | None, now: datetime) -> None:
    """Remember that the case had an incident (the first instant is kept)."""
    _mark(conn, instance_id, "incident_at", now)


def _mark(conn: Connection, instance_id: int | None, name: str, now: datetime) -> None:
    if instance_id is None:
        return  # a failure before the case existed (a start that failed): no case to mark
    c = instance_table.c
    conn.execute(
        update(instance_table).where(c.id == instance_id, c[name].is_(None)).values({name: now})
    )


@dataclass
class CaseQuery:
    """What an auditor looks for; every given field narrows the result.

    `offices`: the offices whose cases may be shown (the caller's scope), None for every case.
    `attributes`: exact start-data values (e.g. {"institution": "UK-161-2"}).
    `text`: words that must each begin a word of the case's start data (a person's name), or a
    case number when it is all digits.
    """

    offices: Sequence[str] | None = None
    process_id: str | None = None
    version: int | None = None
    office_code: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    numbers: tuple[str, ...] = ()  # start-data values that are document numbers (exact match)
    started_from: datetime | None = None  # inclusive
    started_before: datetime | None = None  # exclusive
    status: str | None = None
    breached: bool = False
    incident: bool = False
    limit: int = 50
    offset: int = 0


@dataclass
class CaseHit:
    id: int
    process_id: str
    version: int
    status: str
    office_code: str | None
    started_by: str
    created_at: datetime
    completed_at: datetime | None
    breached_at: datetime | None
    incident_at: datetime | None
    values: dict[str, str] = field(default_factory=dict)  # start-data values by name


_COLUMNS = (
    instance_table.c.id,
    instance_table.c.process_id,
    instance_table.c.version,
    instance_table.c.status,
    instance_table.c.office_code,
    instance_table.c.started_by,
    instance_table.c.created_at,
    instance_table.c.completed_at,
    BREACHED_AT,
    INCIDENT_AT,
)


class CaseSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _where(self, conn: Connection, query: CaseQuery) -> Any:
        c = instance_table.c
        stmt = select(*_COLUMNS).select_from(instance_table)
        # with a flag asked for, the flag's index picks the cases (one in a dozen or fewer)
        # and the office is checked on each; `|| ''` keeps the planner off the office index
        office = c.office_code.concat("") if query.breached or query.incident else c.office_code
        if query.offices is not None:
            stmt = stmt.where(office.in_(list(query.offices)))
        if query.office_code:
            stmt = stmt.where(office == query.office_code)
        if query.process_id:
            stmt = stmt.where(c.process_id == query.process_id)
        if query.version is not None:
            stmt = stmt.where(c.version == query.version)
        # (with a flag, the status and the dates too are checked on the flag's cases, not
        # looked up in their own indexes: PostgreSQL would AND three large bitmaps)
        flagged = query.breached or query.incident
        status = c.status.concat("") if flagged else c.status
        opened = func.coalesce(c.created_at, c.created_at) if flagged else c.created_at
        if query.status:
            stmt = stmt.where(status == query.status)
        if query.started_from is not None:
            stmt = stmt.where(opened >= query.started_from)
        if query.started_before is not None:
            stmt = stmt.where(opened < query.started_before)
        if query.breached:
            stmt = stmt.where(BREACHED_AT.is_not(None))
        if query.incident:
            stmt = stmt.where(INCIDENT_AT.is_not(None))
        a, t = attribute_table.c, term_table.c
        for name, value in query.attributes.items():
            stmt = stmt.where(
                c.id.in_(select(a.instance_id).where(a.name == name, a.value == value))
            )
        text = (query.text or "").strip()
        if text.isdigit():  # a case number, or a document number given whole
            number = int(text) if len(text) <= 18 else -1
            documents = select(a.instance_id).where(a.name.in_(query.numbers), a.value == text)
            # one set of ids (not `id = n OR id IN …`, which PostgreSQL answers by reading
            # every case)
            stmt = stmt.where(c.id.in_(union_all(select(literal(number, BigInteger())), documents)))
        elif text:
            # every word begins a word of the case's data (engine/search.py): the longest word
            # (the likeliest to be rare) picks the cases, each other word is a probe of that
            # case's own few words
            terms = sorted(query_words(text), key=len, reverse=True)
            if not terms:
                return stmt.where(false())
            first, rest = terms[0], terms[1:]
            t = term_table.c
            words = select(t.instance_id).where(t.term >= first, t.term < first + PREFIX_END)
            for word in rest:  # checked on the words' index alone, before any case is read
                other = term_table.alias()
                words = words.where(
                    exists().where(
                        other.c.instance_id == t.instance_id,
                        other.c.term >= word,
                        other.c.term < word + PREFIX_END,
                    )
                )
            # A name is usually rare: its cases are read first and given as a list, so the
            # page is those few cases sorted. A common word (more than FEW cases) stays a
            # subquery, and the newest-first walk meets its cases soon. (Given as a subquery
            # always, PostgreSQL misjudges a rare name and walks every case's words in order.)
            found = list(conn.execute(words.limit(FEW + 1)).scalars())
            stmt = stmt.where(c.id.in_(found) if len(found) <= FEW else c.id.in_(words))
        return stmt

    def find(self, query: CaseQuery) -> list[CaseHit]:
        """A page of cases, newest first, each with its start-data values."""
        return self.search(query)[0]

    def count(self, query: CaseQuery, cap: int | None = None) -> int:
        """How many cases match; with `cap`, counting stops there (a page says "1000+")."""
        return self.search(query, cap=cap, page=False)[1]

    def search(
        self, query: CaseQuery, cap: int | None = None, *, page: bool = True
    ) -> tuple[list[CaseHit], int]:
        """A page of cases and how many match (up to `cap`), in one read: the conditions
        (and a name's cases) are worked out once for both.

        Newest first is the highest case number first: numbers are given as cases are opened.
        Ordering by the key lets every index that ends in it (the flags', an office's) hand its
        cases over already in order, so a page stops after its rows. With a date range and no
        flag, the opening instants' index is read backwards instead (the same order)."""
        c = instance_table.c
        flagged = query.breached or query.incident
        dated = query.started_from is not None or query.started_before is not None
        order = (c.created_at.desc(), c.id.desc()) if dated and not flagged else (c.id.desc(),)
        hits: list[CaseHit] = []
        with self.db.read() as conn:
            where = self._where(conn, query)
            if page:
                stmt = where.order_by(*order).limit(query.limit).offset(query.offset)
                hits = [
                    CaseHit(
                        **{
                            **row,
                            "created_at": as_utc(row["created_at"]),
                            "completed_at": as_utc(row["completed_at"]),
                            "breached_at": as_utc(row["breached_at"]),
                            "incident_at": as_utc(row["incident_at"]),
                        }
                    )
                    for row in conn.execute(stmt).mappings()
                ]
                self._values(conn, hits)
            matching = where.with_only_columns(c.id)
            if cap is not None:
                matching = matching.limit(cap)
            total = conn.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
        return hits, int(total)

    @staticmethod
    def _values(conn: Connection, hits: list[CaseHit]) -> None:
        if not hits:
            return
        a = attribute_table.c
        by_id = {h.id: h for h in hits}
        values = select(a.instance_id, a.name, a.value).where(a.instance_id.in_(list(by_id)))
        for instance_id, name, value in conn.execute(values):
            by_id[instance_id].values.setdefault(name, value)
