"""Who a task goes to: lanes name a role and an office level relative to the case.

A case's offices come from its institution (the district office whose territory it is in, that
office's regional office, GP) or, for acts, from the office of origin. Lanes in the diagrams use
the names in `LANES`; a task is offered to every holder of the role in the resolved office —
except a GP prosecutor's task of a case in a region that has a zonal officer (¶9.1: each GP
officer watches certain regions): it is assigned to that officer at once.

The directory also holds the addressees of acts (`Body`: central, regional territorial or local
bodies with the prosecutor's office of their territory) and an institution's supervising office
when a regional office supervises it instead of the district (¶10.10).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from engine.calendar import ALMATY, parse_instant
from engine.db import Database
from engine.errors import FieldProblem, ValidationFailed
from engine.organization import Assignment

from .models import Body, Institution, Office, UserAccount, ZonalOfficer
from .quarterly import report_due_day

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
    "supervising office": ("prosecutor", "data:supervising_office"),
    # a lane named after a case-working role: that role in the case's district office (how the
    # engine's own benchmark model and models drawn elsewhere name their lanes)
    "prosecutor": ("prosecutor", "district"),
    "head": ("head", "district"),
}

#: lane name -> what it means, in Russian, as a refusal of a model lists the lanes that exist
#: (a methodologist who drew "Прокурор" learns that the lane for it is "district prosecutor")
LANE_MEANINGS: dict[str, str] = {
    "district prosecutor": "прокурор районной прокуратуры дела",
    "district head": "руководитель районной прокуратуры дела",
    "regional unit": "прокурор прокуратуры области дела",
    "regional head": "руководитель прокуратуры области дела",
    "GP unit": "прокурор Генеральной прокуратуры",
    "GP head": "руководитель Генеральной прокуратуры",
    "handling office": "прокурор рассматривающей прокуратуры (handling_office в данных дела)",
    "reviewing head": "руководитель прокуратуры на маршруте акта (review_office в данных дела)",
    "author": "прокурор прокуратуры — автора акта (origin_office в данных дела)",
    "supervising office": (
        "прокурор прокуратуры, надзирающей за учреждением (supervising_office в данных дела)"
    ),
    "prosecutor": "прокурор районной прокуратуры дела, как 'district prosecutor'",
    "head": "руководитель районной прокуратуры дела, как 'district head'",
}

#: a body's level -> the addressee level act_routing's route table takes (¶12, ¶14)
BODY_LEVELS: dict[str, str] = {"central": "central", "regional": "regional", "local": "district"}


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
    #: a regional office supervising it instead of the district office (¶10.10)
    supervising_office_code: str | None = None

    @property
    def supervising_office(self) -> str:
        """The office that checks it: the regional office named by ¶10.10, else the district."""
        return self.supervising_office_code or self.district_office_code


@dataclass(frozen=True)
class BodyInfo:
    """An addressee of acts: its level (central | regional | local) decides the route."""

    code: str
    name: str
    level: str
    office_code: str
    names: dict[str, str] | None = None  # translations by locale

    @property
    def addressee_level(self) -> str:
        return BODY_LEVELS[self.level]


class OrganizationDirectory:
    """The offices tree and institutions, read once and refreshed every `ttl` seconds."""

    def __init__(self, db: Database, ttl: float = 60.0) -> None:
        self.db = db
        self.ttl = ttl
        self._loaded_at = 0.0
        self._offices: dict[str, OfficeInfo] = {}
        self._institutions: dict[str, InstitutionInfo] = {}
        self._bodies: dict[str, BodyInfo] = {}
        self._zonal: dict[str, str] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        o, i, b = Office.__table__, Institution.__table__, Body.__table__
        z, u = ZonalOfficer.__table__, UserAccount.__table__
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
                    r.code,
                    r.name,
                    r.kind,
                    r.district_office_code,
                    r.remote,
                    dict(r.names or {}),
                    r.supervising_office_code,
                )
                for r in conn.execute(
                    select(
                        i.c.code,
                        i.c.name,
                        i.c.kind,
                        i.c.district_office_code,
                        i.c.remote,
                        i.c.names,
                        i.c.supervising_office_code,
                    )
                )
            }
            bodies = {
                r.code: BodyInfo(r.code, r.name, r.level, r.office_code, dict(r.names or {}))
                for r in conn.execute(
                    select(b.c.code, b.c.name, b.c.level, b.c.office_code, b.c.names)
                )
                if r.level in BODY_LEVELS
            }
            # a zonal officer counts only while an active prosecutor of a GP-level office
            zonal = {
                r.region_code: r.login
                for r in conn.execute(
                    select(z.c.region_code, z.c.login, u.c.roles, u.c.active, u.c.office_code).join(
                        u, u.c.login == z.c.login
                    )
                )
                if r.active
                and "prosecutor" in (r.roles or [])
                and r.office_code in offices
                and offices[r.office_code].level == "gp"
            }
        with self._lock:
            self._offices, self._institutions = offices, institutions
            self._bodies, self._zonal = bodies, zonal
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

    def body(self, code: str | None) -> BodyInfo | None:
        self._fresh()
        return self._bodies.get(code or "")

    def bodies(self) -> list[BodyInfo]:
        """Every addressee, central first, then regional, then local, by name."""
        self._fresh()
        order = {"central": 0, "regional": 1, "local": 2}
        return sorted(self._bodies.values(), key=lambda b: (order[b.level], b.name))

    def zonal_officer(self, region_code: str | None) -> str | None:
        """The login of the GP officer responsible for the region (¶9.1), if one is named."""
        self._fresh()
        return self._zonal.get(region_code or "")

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
            office = value if isinstance(value, str) else None
        else:
            office = self.office_at(data, where)
        return Assignment(role, office, self.zonal_assignee(role, office, data))

    def zonal_assignee(
        self, role: str | None, office: str | None, data: dict[str, Any]
    ) -> str | None:
        """A GP prosecutor's task goes to the officer responsible for the case's region (¶9.1
        zonal-subject principle), when the organisation names one; else to the GP queue."""
        info = self.directory.office(office)
        if role != "prosecutor" or info is None or info.level != "gp":
            return None
        return self.directory.zonal_officer(self.office_at(data, "regional"))

    def case_office(self, data: dict[str, Any], process_id: str) -> str | None:
        return self.base_office(data)

    def known_lanes(self) -> dict[str, str]:
        """The lanes `assign` resolves, with their meaning: a model whose task is in another
        lane (or outside every lane of a pool with lanes) is refused when it is validated,
        since its tasks would go to a role and office nobody holds (engine/lanes.py)."""
        return {lane: LANE_MEANINGS[lane] for lane in LANES}

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
            facts["supervising_office"] = institution.supervising_office
        if process_id == "penalty_room_check":
            # whom the placement concerns: ¶11.6 / ¶13.9 (convicts, 24 / 48 h) or ¶13.12
            # (suspects, the accused); a start that does not say concerns a convict, the
            # procedure's original subject (a model cannot test whether a variable is set)
            status = data.get("person_status")
            facts["held_as"] = status if status in ("convict", "suspect", "accused") else "convict"
        if process_id == "quarterly_report":
            # ¶13.17: the regional prosecutor's own term for the districts' information
            regional = self.office_at(data, "regional")
            facts["report_due_day"] = report_due_day(self.directory.db, regional)
        if "addressee" in data:
            body = self.directory.body(data.get("addressee"))
            if body is None:
                raise ValidationFailed({"addressee": unknown_body()})
            facts.update(addressee_facts(body))
        base = self.base_office(data)
        if base is not None:
            for level in ("district", "regional", "gp"):
                code = self.directory.ancestor(base, level)
                if code is not None:
                    facts[f"{level}_office"] = code
        return facts


def unknown_body() -> FieldProblem:
    return FieldProblem(
        "unknown_body", "no body has this code; choose the addressee from the directory"
    )


def addressee_facts(body: BodyInfo) -> dict[str, Any]:
    """What a model knows of an addressee chosen from the directory: the directory, not the
    payload, says the body's name, level and office."""
    return {
        "addressee_name": body.name,
        "addressee_level": body.addressee_level,
        "addressee_office": body.office_code,
    }


def model_functions(directory: OrganizationDirectory) -> dict[str, Any]:
    """Functions the models may call in scripts (registered by workflows/runtime.py).

    `act_addressee(code)`: the facts of the body `code` (see `addressee_facts`); an unknown
    code refuses the step as a field problem of `addressee`, so a task that chose a body no
    longer in the directory is not completed and says why.
    """

    def act_addressee(code: Any) -> dict[str, Any]:
        body = directory.body(code if isinstance(code, str) else None)
        if body is None:
            raise ValidationFailed({"addressee": unknown_body()})
        return addressee_facts(body)

    def reception_institution(code: Any, office: Any) -> dict[str, Any]:
        """`reception`: the institution where `office` held a reception must be one it
        supervises (its own, or one of its districts' for a regional office); else the step is
        refused as a problem of the field `institution`."""
        institution = directory.institution(code if isinstance(code, str) else None)
        scope = directory.offices_within(office) if isinstance(office, str) else set()
        if institution is None or not (
            {institution.district_office_code, institution.supervising_office} & scope
        ):
            raise ValidationFailed(
                {
                    "institution": FieldProblem(
                        "unknown_institution",
                        "choose an institution your office supervises from the directory",
                    )
                }
            )
        return {"institution_name": institution.name, "institution_remote": institution.remote}

    def reception_day(day: Any, period_start: Any) -> bool:
        """`reception`: a reception is recorded for its period, so its date may be late (after
        the term) but never before the period's first Almaty day."""
        first = parse_instant(period_start).astimezone(ALMATY).date()
        if isinstance(day, str) and date.fromisoformat(day) < first:
            raise ValidationFailed(
                {
                    "reception_date": FieldProblem(
                        "before_period",
                        f"the reception is recorded for the period from {first.isoformat()}",
                        first=first.isoformat(),
                    )
                }
            )
        return True

    return {
        "act_addressee": act_addressee,
        "reception_institution": reception_institution,
        "reception_day": reception_day,
    }
