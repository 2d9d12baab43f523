"""Sign-in for the web UI: scrypt-hashed passwords, CSRF on every form, throttled attempts.

Sessions carry only the user id; every request reloads the user, so a deactivated account or a
changed role takes effect at once.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
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
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from workflows.users import User, UserDirectory

auth = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Sign in to continue.")

MAX_ATTEMPTS = 5
WINDOW_S = 300.0


class WebUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)

    @property
    def is_active(self) -> bool:
        return self.user.active


class Throttle:
    """At most MAX_ATTEMPTS failed sign-ins per login and per address in WINDOW_S seconds."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                attempts = self._failures[key]
                while attempts and now - attempts[0] > WINDOW_S:
                    attempts.popleft()
                if len(attempts) >= MAX_ATTEMPTS:
                    return True
        return False

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures[key].append(time.monotonic())

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(login, None)


class LoginForm(FlaskForm):
    login = StringField(lazy_gettext("Login"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=200)])


def _users() -> UserDirectory:
    return current_app.extensions["nadzor.users"]


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    user = _users().by_id(int(user_id))
    return WebUser(user) if user is not None and user.active else None


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    throttle: Throttle = current_app.extensions["nadzor.throttle"]
    if form.validate_on_submit():
        login_name = form.login.data.strip()
        address = request.remote_addr or "?"
        if throttle.blocked(f"login:{login_name}", f"addr:{address}"):
            flash(gettext("Too many failed attempts. Try again in a few minutes."), "error")
            return render_template("auth/login.html", form=form), 429
        user = _users().authenticate(login_name, form.password.data)
        if user is None:
            throttle.failed(f"login:{login_name}", f"addr:{address}")
            flash(gettext("Wrong login or password."), "error")
            return render_template("auth/login.html", form=form), 401
        throttle.succeeded(f"login:{login_name}")
        login_user(WebUser(user))
        session.pop("locale", None)  # from now on the account's own language
        return redirect(url_for("tasks.office_queue"))
    return render_template("auth/login.html", form=form)


@auth.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    return redirect(url_for("auth.login"))
