"""Who a task goes to: lanes name a role and an office level relative to the case.

A case's offices come from its institution (the district office whose territory it is in, that
office's regional office, GP) or, for acts, from the office of origin. Lanes in the diagrams use
the names in `LANES`; a task is offered to every holder of the role in the resolved office.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.db import Database
from engine.errors import FieldProblem, ValidationFailed
from engine.organization import Assignment

from .models import Institution, Office

#: lane name -> (role, where): where is an office level relative to the case, or "data:<key>"
LANES: dict[str, tuple[str, str]] = {
    "district prosecutor": ("prosecutor", "district"),
    "district head": ("head", "district"),
    "regional unit": ("prosecutor", "regional"),
    "regional head": ("head", "regional"),
    "GP unit": ("prosecutor", "gp"),
    "GP head": ("head", "gp"),
    "handling office": ("prosecutor", "data:handling_office"),
    "reviewing head": ("head", "data:review_office"),
    "author": ("prosecutor", "data:origin_office"),
}


@dataclass(frozen=True)
class OfficeInfo:
    code: str
    name: str
    level: str
    kind: str
    parent_code: str | None
    names: dict[str, str] | None = None  # translations by locale (the name is Russian)


@dataclass(frozen=True)
class InstitutionInfo:
    code: str
    name: str
    kind: str
    district_office_code: str
    remote: bool
    names: dict[str, str] | None = None  # translations by locale


class OrganizationDirectory:
    """The offices tree and institutions, read once and refreshed every `ttl` seconds."""

    def __init__(self, db: Database, ttl: float = 60.0) -> None:
        self.db = db
        self.ttl = ttl
        self._loaded_at = 0.0
        self._offices: dict[str, OfficeInfo] = {}
        self._institutions: dict[str, InstitutionInfo] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        o, i = Office.__table__, Institution.__table__
        with self.db.read() as conn:
            offices = {
                r.code: OfficeInfo(
                    r.code, r.name, r.level, r.kind, r.parent_code, dict(r.names or {})
                )
                for r in conn.execute(
                    select(o.c.code, o.c.name, o.c.level, o.c.kind, o.c.parent_code, o.c.names)
                )
            }
            institutions = {
                r.code: InstitutionInfo(
                    r.code, r.name, r.kind, r.district_office_code, r.remote, dict(r.names or {})
                )
                for r in conn.execute(
                    select(
                        i.c.code,
                        i.c.name,
                        i.c.kind,
                        i.c.district_office_code,
                        i.c.remote,
                        i.c.names,
                    )
                )
            }
        with self._lock:
            self._offices, self._institutions = offices, institutions
            self._loaded_at = time.monotonic()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at > self.ttl:
            self.refresh()

    def office(self, code: str | None) -> OfficeInfo | None:
        self._fresh()
        return self._offices.get(code or "")

    def institution(self, code: str | None) -> InstitutionInfo | None:
        self._fresh()
        return self._institutions.get(code or "")

    def offices(self) -> list[OfficeInfo]:
        self._fresh()
        return list(self._offices.values())

    def institutions(self) -> list[InstitutionInfo]:
        self._fresh()
        return list(self._institutions.values())

    def ancestor(self, code: str | None, level: str) -> str | None:
        """The office of `level` above (or at) `code`: district -> regional -> gp."""
        office = self.office(code)
        while office is not None and office.level != level:
            office = self.office(office.parent_code)
        return office.code if office is not None else None

    def offices_within(self, code: str) -> set[str]:
        """`code` and every office below it (a regional office sees its districts)."""
        self._fresh()
        children: dict[str, list[str]] = {}
        for office in self._offices.values():
            if office.parent_code:
                children.setdefault(office.parent_code, []).append(office.code)
        seen, stack = set(), [code]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(children.get(current, []))
        return seen


class ProsecutorsOrganization:
    """Implements the engine's `Organization` over the directory and the lane vocabulary."""

    def __init__(self, directory: OrganizationDirectory) -> None:
        self.directory = directory

    def base_office(self, data: dict[str, Any]) -> str | None:
        """The case's own office: its institution's district office, else the office of origin."""
        institution = self.directory.institution(data.get("institution"))
        if institution is not None:
            return institution.district_office_code
        origin = data.get("origin_office")
        return origin if isinstance(origin, str) else None

    def office_at(self, data: dict[str, Any], level: str) -> str | None:
        base = self.base_office(data)
        if base is None:
            return None
        return self.directory.ancestor(base, level)

    def assign(self, lane: str | None, data: dict[str, Any], process_id: str) -> Assignment:
        if lane is None:
            return Assignment(None, self.base_office(data))
        role, where = LANES.get(lane, (lane, "district"))
        if where.startswith("data:"):
            value = data.get(where[5:])
            return Assignment(role, value if isinstance(value, str) else None)
        return Assignment(role, self.office_at(data, where))

    def case_office(self, data: dict[str, Any], process_id: str) -> str | None:
        return self.base_office(data)

    def case_facts(self, data: dict[str, Any], process_id: str) -> dict[str, Any]:
        """The offices above the case and the institution's remote flag, for the models.

        The engine lays these over the start payload, so a client can never set them; an
        institution the directory does not know is refused (its case would reach no office).
        """
        facts: dict[str, Any] = {}
        institution = self.directory.institution(data.get("institution"))
        if institution is None and data.get("institution") is not None:
            raise ValidationFailed(
                {
                    "institution": FieldProblem(
                        "unknown_institution",
                        "no institution has this code; choose one from the directory",
                    )
                }
            )
        if institution is not None:
            facts["institution_name"] = institution.name
            facts["institution_remote"] = institution.remote
        base = self.base_office(data)
        if base is not None:
            for level in ("district", "regional", "gp"):
                code = self.directory.ancestor(base, level)
                if code is not None:
                    facts[f"{level}_office"] = code
        return facts
