"""The engine's view of who a task goes to; the domain (`workflows/`) supplies the real one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol


class Assignment(NamedTuple):
    role: str | None
    office_code: str | None
    #: a person the task goes to at once (e.g. the officer responsible for the case's region);
    #: None: the task waits in the office's queue for the role
    assignee: str | None = None


class Organization(Protocol):
    def assign(self, lane: str | None, data: dict[str, Any], process_id: str) -> Assignment:
        """The role and office that a task in `lane` goes to, given the case's data."""

    def case_office(self, data: dict[str, Any], process_id: str) -> str | None:
        """The office that owns the case (for scope checks)."""

    def case_facts(self, data: dict[str, Any], process_id: str) -> dict[str, Any]:
        """Facts a model may need that the start payload only names (e.g. an institution's
        offices and remote flag); added to the start data without overriding it."""

    def known_lanes(self) -> Mapping[str, str] | None:
        """The lane names a person's task may be drawn in, each with what it means to a person
        (the words a refusal lists), asked by the repository whenever a model is validated
        (check, try, validate, publish: engine/lanes.py). A task in another lane, or outside
        every lane of a pool with lanes, is refused, since it would reach no one. None: any
        lane resolves, nothing is checked."""


class LaneAsRole:
    """Fallback used by the engine alone: the lane names the role, `office_code` the office."""

    def assign(self, lane: str | None, data: dict[str, Any], process_id: str) -> Assignment:
        return Assignment(lane, data.get("office_code"))

    def case_office(self, data: dict[str, Any], process_id: str) -> str | None:
        office = data.get("office_code")
        return office if isinstance(office, str) else None

    def case_facts(self, data: dict[str, Any], process_id: str) -> dict[str, Any]:
        return {}

    def known_lanes(self) -> Mapping[str, str] | None:
        """Any lane names a role here, so every lane resolves (the engine's own tests draw
        lanes such as "prosecutor")."""
        return None
