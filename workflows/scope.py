"""Who may see what: a district office sees its own cases, a regional office also those of its
districts, the General Prosecutor's Office everything."""

from __future__ import annotations

from .organization import OrganizationDirectory
from .users import User

CASE_ROLES = ("prosecutor", "head")
READ_ROLES = ("prosecutor", "head", "auditor")


def visible_offices(directory: OrganizationDirectory, user: User) -> set[str]:
    return directory.offices_within(user.office_code)


def can_see_office(directory: OrganizationDirectory, user: User, office_code: str | None) -> bool:
    if office_code is None:
        return user.office_level == "gp"
    return office_code in visible_offices(directory, user)
