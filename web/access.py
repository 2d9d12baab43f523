"""Refusals are recorded: every 403 the app answers becomes an `access_denied` event in the
system chain of the history (who, from which office, what they asked for). So does a request for
a case or task outside the user's scope, though it answers 404 like a missing one (the door flags
it with `g.nadzor_denied`, see web/refusals.py)."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_login import current_user

from engine.history import PendingEvent, append_system_events


def _who() -> tuple[str, str | None]:
    user = getattr(g, "user", None)  # the API's bearer user
    if user is None and current_user and current_user.is_authenticated:
        user = current_user.user
    if user is None:
        return "anonymous", None
    return user.login, user.office_code


def record_denials(app: Flask) -> None:
    @app.after_request
    def _record(response: Response) -> Response:
        denied = g.get("nadzor_denied")
        if response.status_code == 403 or denied:
            engine = current_app.extensions["nadzor.engine"]
            actor, office = _who()
            event = PendingEvent(
                "access_denied",
                actor,
                office,
                data_after={
                    "method": request.method,
                    "path": request.path,
                    **({"rule": denied} if denied else {}),
                },
            )
            with engine.db.write() as conn:
                append_system_events(conn, engine.clock.now(), [event])
        return response
