"""Engine errors told in the user's language.

The engine words its errors in English for logs and the API; the UI says the common ones again
in Russian, Kazakh or English from what the error carries (who completed the task first).
"""

from __future__ import annotations

from flask_babel import gettext

from engine.errors import Busy, ConflictError, EngineError, InvalidOperation, NotFound


def error_text(exc: EngineError, title: str = "") -> str:
    text = str(exc)
    if isinstance(exc, Busy):  # the database's lock was held past the bounded wait
        return gettext(
            "Another action was being saved and this one waited too long; nothing was saved. "
            "Try again in a few seconds."
        )
    if isinstance(exc, ConflictError):
        if exc.by and "already completed" in text:
            return gettext(
                "Task “%(title)s” was already completed by %(who)s; your submission was not saved.",
                title=title,
                who=exc.by,
            )
        if exc.by and "claimed by" in text:
            return gettext(
                "Task “%(title)s” is claimed by %(who)s; ask them or the head of office "
                "to hand it over.",
                title=title,
                who=exc.by,
            )
        return gettext(
            "The case was changed by someone else at the same time; nothing was saved. "
            "Please reload the page."
        )
    if isinstance(exc, InvalidOperation):
        return gettext("Task “%(title)s” is no longer open.", title=title)
    if isinstance(exc, NotFound):
        return gettext("It no longer exists: %(detail)s", detail=text)
    return gettext("The step failed and nothing was saved: %(detail)s", detail=text)
