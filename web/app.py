"""Flask application factory. The engine is built once per process and shared by requests.

Every answer carries the same protective headers (CSP without inline scripts, nosniff, no
framing, a strict referrer policy); every error - 400, 403, 404, 405, 413, 429, 500 - is the
app's own page in the user's language, or JSON `{"error", "detail", "fields"}` under /api/v1.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import escape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.clock import SystemClock
from engine.config import load_settings, serving_secret_key
from engine.errors import Busy
from engine.errors import NotFound as EngineNotFound
from web import task_page  # noqa: F401  (adds the task page's routes to the tasks blueprint)
from web.access import record_denials
from web.api import api
from web.attachments_ui import attachments_ui, takes_files
from web.audit_search import audit
from web.audit_trace import audit_trace
from web.auth import auth, login_manager
from web.cases_ui import cases_ui
from web.drafts_ui import DRAFT_BODY_BYTES, DRAFT_ENDPOINTS, drafts_ui
from web.i18n import init_i18n
from web.incidents_ui import operations  # also adds GET /api/v1/incidents to the api blueprint
from web.indicators_ui import indicators_ui
from web.migration_ui import migration_ui
from web.procedures_ui import procedures_ui
from web.start_ui import start_ui
from web.tasks_ui import tasks_ui
from workflows.organization import OrganizationDirectory
from workflows.runtime import build_engine
from workflows.sessions import SessionStore, SignInThrottle
from workflows.users import UserDirectory
from workflows.workspace import Drafts, SavedFilters

csrf = CSRFProtect()
log = logging.getLogger(__name__)

#: the largest request body accepted (1 MiB); a larger one is refused with 413 before it is read
MAX_BODY_BYTES = 1024 * 1024
#: the largest body of a request that carries files (engine/attachments.py: 10 MB a file, 20 MB
#: a step; as base64 in JSON that is 27 MiB, plus the form's other data): only a start or a
#: completion whose form has a file field (web/attachments_ui.py `takes_files`)
FILE_BODY_BYTES = 30 * 1024 * 1024
FILE_ENDPOINTS = frozenset(
    {"tasks.task_page", "start.start_page", "api.complete", "api.start_instance"}
)

#: scripts only from this app's own files: no inline script, no event-handler attribute, no eval.
#: Styles may be inline (style attributes in the templates, bpmn-js's diagram styling).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

API_PREFIX = "/api/v1"
#: error codes of the JSON answers, by status
API_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
    500: "internal_error",
}
API_DETAILS = {
    400: "the request could not be understood",
    401: "send 'Authorization: Bearer <token>'",
    403: "you may not do this",
    404: "there is no such resource, or it is outside your office's scope",
    405: "this address does not accept this method",
    413: f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB; {FILE_BODY_BYTES} bytes, "
    "30 MiB, for a start or a completion whose form takes files); send less data",
    429: "too many requests; wait and try again",
    500: "the server failed; nothing of this request was saved, try again",
}


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The app; raises engine.config.MissingSecretKey when there is no session key to use.

    `overrides` may give SECRET_KEY (tests, benchmarks) and NADZOR_SESSION_CLOCK (a clock for
    session expiry and the sign-in throttle); otherwise NADZOR_SECRET_KEY, or the
    generated key of development mode (NADZOR_DEV=1), whose note is kept in
    `app.extensions["nadzor.secret_key_note"]` for the server to print.
    """
    settings = load_settings()
    overrides = dict(overrides or {})
    note = None
    if not overrides.get("SECRET_KEY"):
        overrides["SECRET_KEY"], note = serving_secret_key(settings)
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # behind TLS in production; the embedded default serves plain http on 127.0.0.1
        SESSION_COOKIE_SECURE=os.environ.get("NADZOR_SECURE_COOKIES") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.config.update(overrides)
    app.extensions["nadzor.secret_key_note"] = note
    engine = app.config.get("NADZOR_ENGINE") or build_engine(settings)
    app.extensions["nadzor.engine"] = engine
    app.extensions["nadzor.directory"] = getattr(engine, "extensions", {}).get(
        "directory"
    ) or OrganizationDirectory(engine.db)
    app.extensions["nadzor.users"] = UserDirectory(engine.db)
    app.extensions["nadzor.sessions"] = SessionStore(engine.db)
    # sessions and the throttle run on the wall clock, not on the engine's (tests move the
    # engine's clock by days to reach deadlines; that must not sign anyone out)
    app.extensions["nadzor.session_clock"] = app.config.get("NADZOR_SESSION_CLOCK") or SystemClock()
    app.extensions["nadzor.throttle"] = SignInThrottle(engine.db)
    app.extensions["nadzor.filters"] = SavedFilters(engine.db)
    app.extensions["nadzor.drafts"] = Drafts(engine.db)

    csrf.init_app(app)
    csrf.exempt(api)  # bearer tokens, no cookies: CSRF does not apply
    login_manager.init_app(app)
    init_i18n(app)
    record_denials(app)
    app.register_blueprint(api)
    app.register_blueprint(auth)
    app.register_blueprint(tasks_ui)
    app.register_blueprint(cases_ui)
    app.register_blueprint(start_ui)
    app.register_blueprint(attachments_ui)
    app.register_blueprint(audit)
    app.register_blueprint(audit_trace)
    app.register_blueprint(operations)
    app.register_blueprint(indicators_ui)
    app.register_blueprint(procedures_ui)
    app.register_blueprint(migration_ui)
    app.register_blueprint(drafts_ui)
    _install_answers(app)
    _install_busy_answer(app)

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    return app


def _install_answers(app: Flask) -> None:
    """Body limit, protective headers, and the app's own error answers."""

    @app.url_value_preprocessor
    def _body_limit(endpoint: str | None, values: Any) -> None:
        # before every before_request (CSRF reads the form): a step whose form takes files
        # may send FILE_BODY_BYTES, everything else MAX_CONTENT_LENGTH
        if takes_files(endpoint, values):
            request.max_content_length = max(FILE_BODY_BYTES, app.config["MAX_CONTENT_LENGTH"])
        elif endpoint in DRAFT_ENDPOINTS:  # a model file of up to 2 MB (engine/drafts.py)
            request.max_content_length = max(DRAFT_BODY_BYTES, app.config["MAX_CONTENT_LENGTH"])

    @app.before_request
    def _refuse_large_bodies() -> None:
        # refused on the declared length, before any of the body is read or parsed; a body
        # sent without a length is cut by the request's limit when it is read
        length = request.content_length
        if length is not None and length > (request.max_content_length or 0):
            raise RequestEntityTooLarge()

    @app.after_request
    def _protect(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            # signed-in pages are not kept by the browser: after sign-out, Back shows nothing
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc  # redirects raised by routing (e.g. a missing trailing slash)
        return error_answer(exc.code, exc)

    @app.errorhandler(EngineNotFound)
    def _missing(exc: EngineNotFound) -> Any:
        return error_answer(404, exc)

    @app.errorhandler(500)
    def _server_error(exc: Exception) -> Any:
        # Flask has logged the original exception with its traceback already
        return error_answer(500, exc)


def _is_api() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _page_texts(status: int, exc: BaseException | None) -> tuple[str, str]:
    """Title and explanation of an error page, in the user's language."""
    if isinstance(exc, CSRFError):
        return gettext("The form has expired"), gettext(
            "The page was open too long or was opened in another window. "
            "Reload the page and send the form again."
        )
    texts = {
        400: (
            gettext("Bad request"),
            gettext("The request could not be understood. Go back and try again."),
        ),
        403: (
            gettext("Access denied"),
            gettext("You do not have the right to open this page or to do this action."),
        ),
        404: (
            gettext("Not found"),
            gettext(
                "There is no such page, case or task, or it is outside your office's scope. "
                "Check the address or open it from a queue."
            ),
        ),
        405: (
            gettext("Method not allowed"),
            gettext("This address does not accept this kind of request. Use the page's buttons."),
        ),
        413: (
            gettext("Request too large"),
            gettext("A model file may have at most 2 MB; import or save a smaller file.")
            if request.endpoint in DRAFT_ENDPOINTS
            else gettext(
                "The data sent is larger than 30 MiB. A file may have at most 10 MB and all "
                "files of one step together at most 20 MB; attach fewer or smaller files."
            )
            if (request.max_content_length or 0) > MAX_BODY_BYTES
            else gettext("The data sent is larger than 1 MiB. Send less data."),
        ),
        429: (
            gettext("Too many requests"),
            gettext("Too many attempts in a short time. Wait a few minutes and try again."),
        ),
        500: (
            gettext("Something went wrong"),
            gettext(
                "The server failed to answer; your last action was not saved. Try again, and "
                "tell the administrator if it happens again."
            ),
        ),
    }
    return texts.get(status, (str(status), ""))


def error_answer(status: int, exc: BaseException | None = None) -> Response:
    """The app's answer for an error status: JSON under /api/v1, a page elsewhere."""
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
    if retry_after and "Retry-After" not in headers:
        headers["Retry-After"] = str(retry_after)
    if _is_api():
        detail = API_DETAILS.get(status, "the request failed")
        if isinstance(exc, EngineNotFound):
            detail = str(exc)
        body = jsonify(error=API_ERROR_CODES.get(status, "error"), detail=detail, fields={})
        body.status_code = status
        body.headers.update(headers)
        return body
    try:
        title, message = _page_texts(status, exc)
        html = render_template("errors/error.html", status=status, title=title, message=message)
    except Exception:  # the page itself failed (e.g. the database is down): plain words
        log.exception("the error page for %s could not be drawn", status)
        html = (
            f"<!doctype html><title>{status}</title><h1>{status}</h1>"
            f"<p>{escape('The request failed. Try again later.')}</p>"
        )
    page = Response(html, status=status, mimetype="text/html")
    page.headers.update(headers)
    return page


def _install_busy_answer(app: Flask) -> None:
    """A page or API call that waited past the bounded wait for the database's lock (another
    step kept it): 503 with Retry-After and a sentence, nothing written (engine.db)."""
    from web.serving import RETRY_AFTER_SECONDS

    @app.errorhandler(Busy)
    def _busy(exc: Busy) -> Response:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if _is_api():
            body = jsonify(error="busy", detail=str(exc), fields={})
            body.status_code = 503
            body.headers.update(headers)
            return body
        title = gettext("The server is busy")
        message = gettext(
            "Another action was being saved and this one waited too long; nothing was saved. "
            "Try again in a few seconds."
        )
        try:
            html = render_template("errors/error.html", status=503, title=title, message=message)
        except Exception:  # the page itself needs the database: plain words then
            log.exception("the busy page could not be drawn")
            html = f"<!doctype html><title>503</title><h1>503</h1><p>{escape(message)}</p>"
        page = Response(html, status=503, mimetype="text/html")
        page.headers.update(headers)
        return page
