"""Refusals are recorded: every 403 the app answers becomes an `access_denied` event in the
system chain of the history (who, from which office, what they asked for). So does a request for
a case or task outside the user's scope, though it answers 404 like a missing one (the door flags
it with `g.nadzor_denied`, see web/refusals.py).

Reads of a case are recorded too, in the access log (web/access_log.py says which requests are
reads; workflows/access_log.py keeps them): the refusal's event and the log's row are written in
one transaction. A read whose row cannot be written is not served: the answer becomes 503."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from flask_login import current_user

from engine.history import PendingEvent, append_system_events
from workflows.access_log import insert_statement

from .access_log import is_case_read, pending_read

log = logging.getLogger(__name__)


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
        refused = response.status_code == 403 or bool(denied)
        if not refused and not is_case_read(response.status_code):
            return response  # most requests (queues, static files): not even the user is read
        who = _who()
        read = pending_read(response.status_code, who) if who[0] != "anonymous" else None
        if not refused and read is None:
            return response
        engine = current_app.extensions["nadzor.engine"]
        try:
            with engine.db.write() as conn:
                if refused:
                    event = PendingEvent(
                        "access_denied",
                        who[0],
                        who[1],
                        data_after={
                            "method": request.method,
                            "path": request.path,
                            **({"rule": denied} if denied else {}),
                        },
                    )
                    append_system_events(conn, engine.clock.now(), [event])
                if read is not None:
                    conn.execute(insert_statement(read))
        except Exception:
            if refused or read is None:
                raise  # a refusal stays a refusal; the server error is logged by Flask
            log.exception("the read of %s could not be recorded; it is not served", request.path)
            return _unrecorded()
        return response


def _unrecorded() -> Response:
    """503 in place of a read the access log could not record: nothing of the case is shown."""
    from .app import SECURITY_HEADERS, _is_api

    message = gettext(
        "This read could not be recorded in the access log, so it is not shown. "
        "Try again in a few seconds."
    )
    if _is_api():
        answer = jsonify(error="busy", detail=message, fields={})
    else:
        try:
            title = gettext("The server is busy")
            html = render_template("errors/error.html", status=503, title=title, message=message)
        except Exception:  # the page itself needs the database
            html = f"<!doctype html><title>503</title><h1>503</h1><p>{message}</p>"
        answer = Response(html, mimetype="text/html")
    answer.status_code = 503
    answer.headers.update(SECURITY_HEADERS)
    answer.headers["Retry-After"] = "5"
    answer.headers["Cache-Control"] = "no-store"
    return answer
