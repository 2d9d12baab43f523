"""Choices a form offers from the organisation's directory rather than from the form itself.

`addressee` (the addressee of an act, procedure act_routing and the procedures that call it)
becomes a choice among the bodies of the directory — central state bodies, regional territorial
bodies, local bodies — named in the user's language. The page only offers them: the domain
checks the choice (workflows/organization.py: an unknown body is refused as a problem of the
field `addressee`, at a start and when a task that chose it is completed), so the API and the
CLI obey the same rule.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_login import current_user

from workflows.scope import can_see_office

from .i18n import translated


def _level(level: str) -> str:
    return {
        "central": gettext("central state body"),
        "regional": gettext("regional territorial body"),
        "local": gettext("local body"),
    }.get(level, level)


def body_options(directory: Any) -> list[dict[str, Any]]:
    """Every body of the directory (central first), "name — level" in the user's language."""
    return [
        {"value": b.code, "label": f"{translated(b.name, b.names)} — {_level(b.level)}"}
        for b in directory.bodies()
    ]


def with_body_choices(fields: list[Any], directory: Any) -> list[Any]:
    """An editable `addressee` field becomes a choice among the bodies of the directory; an
    editable `institution` field a form left as text (a task's form, e.g. the record of a
    reception) a choice among the institutions the user supervises (the domain checks it)."""
    for f in fields:
        if f.key == "addressee" and not f.readonly:
            f.type = "select"
            f.options = body_options(directory)
        if f.key == "institution" and not f.readonly and f.type == "textfield":
            f.type = "select"
            f.options = institution_options(directory)
    return fields


def institution_options(directory: Any) -> list[dict[str, Any]]:
    """The institutions of the signed-in user's scope, named in the user's language."""
    user = current_user.user
    return [
        {"value": i.code, "label": translated(i.name, i.names)}
        for i in directory.institutions()
        if can_see_office(directory, user, i.district_office_code)
    ]
