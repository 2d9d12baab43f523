"""Downloading a file attached to a case (engine/attachments.py), from the case page.

The case's scope decides, exactly as for the case page: a case outside the user's scope, or a
file of another case, is 404. The file is sent as an attachment (never shown inline) with its
recorded media type, a safe file name and ``nosniff``; a file whose stored content no longer
matches its SHA-256 is refused with words, not served.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file
from flask_babel import gettext
from flask_login import login_required

from engine.attachments import AttachmentDamaged, StoredFile, read_attachment
from engine.errors import EngineError, NotFound

from .access_log import record_access
from .cases_ui import _visible_case
from .ids import register_converters

attachments_ui = Blueprint("attachments", __name__)
attachments_ui.record(register_converters)


def takes_files(endpoint: str | None, values: dict[str, Any] | None) -> bool:
    """Whether this request submits a form with a file field: a start form or a task's form
    (its published version's rules). Only such requests get the larger body limit (web/app.py);
    anything unknown here is the ordinary request its route then refuses."""
    from .app import FILE_ENDPOINTS  # the app imports this module first

    if endpoint not in FILE_ENDPOINTS or request.method != "POST" or not values:
        return False
    engine = current_app.extensions["nadzor.engine"]
    try:
        if "process_id" in values:
            repo = engine.repository
            rules = repo.get(repo.latest_id(values["process_id"])).start_rules()
        else:
            task = engine.tasks.get(values["task_id"])
            definition = engine.repository.get(engine.runtime.get(task.instance_id).definition_id)
            rules = definition.form_rules(task.form)
    except (EngineError, KeyError):
        return False
    return rules is not None and any(f.type == "filepicker" for f in rules.inputs)


def stored_file(instance_id: int, attachment_id: str) -> StoredFile:
    """The case's file with its content checked (`NotFound`, `AttachmentDamaged`)."""
    engine = current_app.extensions["nadzor.engine"]
    with engine.db.read() as conn:
        return read_attachment(conn, instance_id, attachment_id)


def file_response(stored: StoredFile) -> Response:
    """The file as a download: its media type, `Content-Disposition: attachment` with the name
    (an ASCII fallback and the UTF-8 name, werkzeug quotes both), no caching, no sniffing."""
    info = stored.info
    response = send_file(
        io.BytesIO(stored.content),
        mimetype=info.content_type,
        as_attachment=True,
        download_name=info.name,
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["Content-Length"] = str(info.size)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Content-SHA256"] = info.sha256
    return response


@attachments_ui.get("/cases/<case:instance_id>/attachments/<attachment_id>")
@login_required
def download(instance_id: int, attachment_id: str) -> Any:
    record_access("attachment", case_id=instance_id)  # a read of the case, served or refused
    _visible_case(instance_id)  # the case page's rule: out of scope is 404
    try:
        stored = stored_file(instance_id, attachment_id)
    except NotFound:
        abort(404)
    except AttachmentDamaged:
        html = render_template(
            "errors/error.html",
            status=409,
            title=gettext("The file was changed"),
            message=gettext(
                "The stored content of this file no longer matches the SHA-256 recorded in the "
                "case's history when it was attached, so it is not given out. Tell the "
                "administrator."
            ),
        )
        return Response(html, status=409, mimetype="text/html")
    return file_response(stored)
