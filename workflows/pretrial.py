"""The pre-trial register (ERDR) behind an interface, with a working local implementation.

The torture-report procedure registers a case through the `pretrial_register` service task. The
real ERDR is an outside system; `LocalPretrialRegister` keeps the register in our database with
unique numbers and is idempotent per case: asking twice for the same case gives the same number,
so a retried service task never registers a case twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from engine.clock import Clock
from engine.db import Database

from .models import PretrialRegistration

table = PretrialRegistration.__table__


@dataclass(frozen=True)
class Registration:
    number: str
    registered_at: datetime
    created: bool


class PretrialRegister(Protocol):
    def register(self, case_ref: str, payload: dict[str, Any]) -> Registration:
        """Register the case (or return its existing registration)."""


class LocalPretrialRegister:
    def __init__(self, db: Database, clock: Clock, prefix: str = "ERDR") -> None:
        self.db = db
        self.clock = clock
        self.prefix = prefix

    def register(self, case_ref: str, payload: dict[str, Any]) -> Registration:
        existing = self._find(case_ref)
        if existing is not None:
            return existing
        now = self.clock.now()
        try:
            with self.db.write() as conn:
                seq = (conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1
                number = f"{self.prefix}-{now.year}-{seq:06d}"
                conn.execute(
                    insert(table).values(
                        number=number, case_ref=case_ref, payload=payload, registered_at=now
                    )
                )
        except IntegrityError:  # registered concurrently by another worker: same answer
            found = self._find(case_ref)
            if found is None:
                raise
            return found
        return Registration(number, now, True)

    def _find(self, case_ref: str) -> Registration | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(table.c.number, table.c.registered_at).where(table.c.case_ref == case_ref)
            ).first()
        return Registration(row.number, row.registered_at, False) if row else None


def pretrial_service(register: PretrialRegister):  # type: ignore[no-untyped-def]
    """The service-task handler: parameters `case_ref` and free-form details."""

    def handler(params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        case_ref = str(params.get("case_ref") or "")
        if not case_ref:
            raise ValueError("the pre-trial register needs a case reference")
        result = register.register(case_ref, {k: v for k, v in params.items() if k != "case_ref"})
        return {"number": result.number, "registered_at": result.registered_at.isoformat()}

    return handler
