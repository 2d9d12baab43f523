"""Flask application factory. The engine is built once per process and shared by requests."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify
from flask_wtf.csrf import CSRFProtect

from engine.config import load_settings
from web import task_page  # noqa: F401  (adds the task page's routes to the tasks blueprint)
from web.access import record_denials
from web.api import api
from web.auth import Throttle, auth, login_manager
from web.cases_ui import cases_ui
from web.i18n import init_i18n
from web.start_ui import start_ui
from web.tasks_ui import tasks_ui
from workflows.organization import OrganizationDirectory
from workflows.runtime import build_engine
from workflows.users import UserDirectory
from workflows.workspace import Drafts, SavedFilters

csrf = CSRFProtect()


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # behind TLS in production; the embedded default serves plain http on 127.0.0.1
        SESSION_COOKIE_SECURE=os.environ.get("NADZOR_SECURE_COOKIES") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if overrides:
        app.config.update(overrides)
    engine = app.config.get("NADZOR_ENGINE") or build_engine(settings)
    app.extensions["nadzor.engine"] = engine
    app.extensions["nadzor.directory"] = getattr(engine, "extensions", {}).get(
        "directory"
    ) or OrganizationDirectory(engine.db)
    app.extensions["nadzor.users"] = UserDirectory(engine.db)
    app.extensions["nadzor.throttle"] = Throttle()
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

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    return app
