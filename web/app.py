"""Flask application factory. The engine is built once per process and shared by requests."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template

from engine.config import load_settings
from engine.tasks import TaskQuery
from web.api import api
from workflows.organization import OrganizationDirectory
from workflows.runtime import build_engine
from workflows.users import UserDirectory


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax"
    )
    if overrides:
        app.config.update(overrides)
    engine = app.config.get("NADZOR_ENGINE") or build_engine(settings)
    app.extensions["nadzor.engine"] = engine
    app.extensions["nadzor.directory"] = getattr(engine, "extensions", {}).get(
        "directory"
    ) or OrganizationDirectory(engine.db)
    app.extensions["nadzor.users"] = UserDirectory(engine.db)
    app.register_blueprint(api)

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    @app.get("/")
    def index() -> str:
        procedures = engine.repository.list()
        tasks = engine.tasks.list(TaskQuery(limit=50))
        return render_template("index.html", procedures=procedures, tasks=tasks)

    return app
