"""Sign-in for the web UI: scrypt-hashed passwords, CSRF on every form, throttled attempts.

The session cookie carries only a random session id; every request looks it up on the server
(workflows/sessions.py) together with the user, so signing out, session expiry, a deactivated
account or a changed role take effect at once. Wrong passwords are counted in the database, so
every process of the server sees the same count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from web.audit_search import landing_url
from workflows.sessions import SessionStore, SignInThrottle
from workflows.users import User, UserDirectory

auth = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Sign in to continue.")


class WebUser(UserMixin):
    """The signed-in user; Flask-Login keeps `get_id()` - the session id - in the cookie."""

    def __init__(self, user: User, sid: str) -> None:
        self.user = user
        self.id = sid

    @property
    def is_active(self) -> bool:
        return self.user.active


class LoginForm(FlaskForm):
    login = StringField(lazy_gettext("Login"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=200)])


def _users() -> UserDirectory:
    return current_app.extensions["nadzor.users"]


def _sessions() -> SessionStore:
    return current_app.extensions["nadzor.sessions"]


def _now() -> datetime:
    return current_app.extensions["nadzor.session_clock"].now()


@login_manager.user_loader
def load_user(sid: str) -> WebUser | None:
    """Every request: the session must exist on the server, be live and not signed out."""
    user = _sessions().user(sid, _now())
    return WebUser(user, sid) if user is not None else None


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    throttle: SignInThrottle = current_app.extensions["nadzor.throttle"]
    if form.validate_on_submit():
        login_name = form.login.data.strip()
        address = request.remote_addr or "?"
        now = _now()
        wait = throttle.check(login_name, address, now)
        if wait is not None:
            minutes = max(1, (wait.seconds + 59) // 60)
            flash(
                gettext("Too many failed attempts. Try again in %(minutes)s min.", minutes=minutes),
                "error",
            )
            answer = current_app.make_response((render_template("auth/login.html", form=form), 429))
            answer.headers["Retry-After"] = str(wait.seconds)
            return answer
        user = _users().authenticate(login_name, form.password.data)
        if user is None:
            throttle.failed(login_name, address, now)
            flash(gettext("Wrong login or password."), "error")
            return render_template("auth/login.html", form=form), 401
        throttle.succeeded(login_name, address)
        session.clear()  # nothing of the anonymous session survives into the signed-in one
        sid = _sessions().open(user.id, address, now)
        login_user(WebUser(user, sid))
        return redirect(landing_url(user))  # an auditor lands on the audit search
    return render_template("auth/login.html", form=form)


@auth.post("/logout")
@login_required
def logout() -> Any:
    """Revokes the session on the server: a copy of the cookie is refused from now on."""
    _sessions().revoke(current_user.get_id(), _now())
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
