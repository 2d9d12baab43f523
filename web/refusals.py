"""The doors' side of workflows/rights.py: the checker for this app, the refusal told in the
user's language, and the bookkeeping that records a denial even when it answers 404.

A case or task outside the user's scope answers exactly as a missing one (404), so ids cannot
be probed; `mark_denied` flags the request so web/access.py still writes an `access_denied`
event for it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import abort, current_app, g
from flask_babel import gettext

from workflows.rights import Refusal, Rights
from workflows.users import User


def rights() -> Rights:
    users = current_app.extensions["nadzor.users"]

    def find_user(login: str) -> User | None:
        try:
            return users.get(login)
        except Exception:  # NotFound, or a login no account can have
            return None

    return Rights(current_app.extensions["nadzor.directory"], find_user)


def mark_denied(refusal: Refusal) -> None:
    """Have web/access.py record this request as denied (403s are recorded anyway)."""
    if refusal.kind in ("hidden", "forbidden"):
        g.nadzor_denied = refusal.code


def abort_page(refusal: Refusal) -> NoReturn:
    """A page's answer to a refusal that has no form to show it on: the error page."""
    mark_denied(refusal)
    abort(refusal.status)


def refusal_text(refusal: Refusal, title: str | None = None) -> str:
    """The refusal in the user's language (`title`: the task's title as the page shows it)."""
    p: dict[str, Any] = {**refusal.params}
    if title is not None:
        p["title"] = title
    p = {k: ("—" if v is None else v) for k, v in p.items()}
    code = refusal.code
    if code in ("task_missing", "case_missing"):
        return gettext("It does not exist, or it is outside your office's scope.")
    if code == "no_read_role":
        return gettext("Your roles do not include reading cases.")
    if code == "not_your_task":
        return gettext(
            "This task is for the role %(role)s of office %(office)s; you may read it but not "
            "act on it.",
            **p,
        )
    if code == "claimed_by_other":
        return gettext(
            "Task “%(title)s” is claimed by %(who)s; only they or a head of office %(office)s "
            "may release it or hand it over.",
            **p,
        )
    if code == "already_claimed":
        return gettext(
            "Task “%(title)s” is claimed by %(who)s; ask them or the head of office "
            "to hand it over.",
            **p,
        )
    if code in ("delegate_missing", "delegate_unknown"):
        return gettext("Choose a colleague of your office who handles such tasks.")
    if code == "delegate_unfit":
        return gettext(
            "%(who)s could not act on “%(title)s”: it needs the role %(role)s (or head) in "
            "office %(office)s. Choose someone who holds it.",
            **p,
        )
    if code == "not_head":
        return gettext("Only a head of office reassigns tasks in bulk.")
    if code == "no_tasks":
        return gettext("Choose the tasks to reassign.")
    if code == "other_office":
        return gettext(
            "Task “%(title)s” belongs to office %(office)s; a head reassigns the tasks of "
            "their own office.",
            **p,
        )
    if code == "not_open":
        return gettext("Task “%(title)s” is no longer open.", **p)
    if code == "no_start_role":
        return gettext("Only prosecutors and heads open cases.")
    if code == "office_out_of_scope":
        return gettext(
            "Office %(office)s is outside your office's scope; open the case for an "
            "institution your office supervises.",
            **p,
        )
    return refusal.message
