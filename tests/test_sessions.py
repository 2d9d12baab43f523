"""Sessions and sign-in (issue 8, point 6): a session key that is never the one in the source,
sign-out that revokes the session on the server, sessions and API tokens that expire, a
lock-out that never keeps the owner out of the owner's usual address for long, a throttle
shared by every process, and the same work for unknown and known logins."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from engine import config
from engine.clock import FakeClock
from engine.config import Settings, load_settings, serving_secret_key
from tests.conftest import BPMN_DIR
from web.app import create_app
from web.cli import main
from workflows import users as users_module
from workflows.models import UserAccount, UserSession
from workflows.runtime import build_engine
from workflows.sessions import LOGIN_LIMIT, SESSION_ABSOLUTE, SESSION_IDLE
from workflows.users import DUMMY_PASSWORD_HASH, UserDirectory

#: the key engine/config.py used to fall back to, printed in the source
OLD_SOURCE_KEY = "dev-only-insecure-key"
OWNER_ADDRESS = "10.0.0.1"
ATTACKER_ADDRESS = "10.0.0.66"


@pytest.fixture
def session_clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 1, 4, 0, tzinfo=UTC))


@pytest.fixture
def app(domain_engine, session_clock):  # type: ignore[no-untyped-def]
    return create_app(
        {
            "NADZOR_ENGINE": domain_engine,
            "TESTING": True,
            "SECRET_KEY": "tests-sessions-key",
            "NADZOR_SESSION_CLOCK": session_clock,
        }
    )


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in(client, login: str, password: str = "nadzor-demo", address: str = OWNER_ADDRESS):  # type: ignore[no-untyped-def]
    env = {"REMOTE_ADDR": address}
    token = csrf(client.get("/login", environ_base=env).get_data(as_text=True))
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        environ_base=env,
    )


def sign_out(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/queue").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf(page)}).status_code == 302


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    """Whether the queue opens (a signed-out browser is sent to the sign-in page)."""
    response = client.get("/queue")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


# -- the session key ----------------------------------------------------------------------------


#: apps handed to the (stubbed) waitress by `nadzor serve` in these tests
SERVED: list[Flask] = []


class _StubServer:
    """Stands in for the waitress server: records the app instead of listening."""

    def __init__(self, app: Flask, *args: object, **kwargs: object) -> None:
        SERVED.append(app)

    def run(self) -> None:
        pass


@pytest.fixture
def no_key(monkeypatch, tmp_path: Path, database_url: str) -> Path:  # type: ignore[no-untyped-def]
    """No NADZOR_SECRET_KEY; development mode's key file in a temporary folder; the server
    replaced by a stub that records the app instead of listening."""
    from web import serving

    monkeypatch.delenv("NADZOR_SECRET_KEY", raising=False)
    monkeypatch.delenv("NADZOR_DEV", raising=False)
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    key_file = tmp_path / "var" / "secret_key"
    monkeypatch.setattr(config, "DEV_SECRET_FILE", key_file)
    SERVED.clear()
    monkeypatch.setattr(serving, "create_server", _StubServer)
    return key_file


def test_serving_without_a_secret_key_refuses_in_one_line_with_exit_2(no_key: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--no-worker"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "NADZOR_SECRET_KEY is not set" in lines[0]
    assert "NADZOR_DEV=1" in lines[0]
    assert SERVED == [] and not no_key.exists()


def test_development_mode_generates_a_private_key_once_and_says_so(
    no_key: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DEV", "1")
    first = CliRunner().invoke(main, ["serve", "--no-worker"])
    assert first.exit_code == 0, first.output
    assert f"development mode: generated a session key in {no_key}" in first.output
    assert stat.S_IMODE(no_key.stat().st_mode) == 0o600
    key = no_key.read_text().strip()
    assert len(key) >= 48 and key != OLD_SOURCE_KEY
    second = CliRunner().invoke(main, ["serve", "--no-worker"])
    assert f"development mode: session key read from {no_key}" in second.output
    assert no_key.read_text().strip() == key  # reused: a restart keeps people signed in
    assert [app.config["SECRET_KEY"] for app in SERVED] == [key, key]


def test_the_key_in_the_environment_wins_and_nothing_falls_back_to_a_key_in_the_source(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_SECRET_KEY", "from-the-environment")
    assert serving_secret_key(load_settings()) == ("from-the-environment", None)
    monkeypatch.delenv("NADZOR_SECRET_KEY")
    monkeypatch.delenv("NADZOR_DEV", raising=False)
    assert load_settings().secret_key is None
    with pytest.raises(config.MissingSecretKey):
        serving_secret_key(Settings("sqlite://", None, BPMN_DIR))


def forged_cookie(key: str, user_id: int) -> str:
    """A session cookie saying "user N is signed in", signed with `key`."""
    forger = Flask("forger")
    forger.secret_key = key
    serializer = forger.session_interface.get_signing_serializer(forger)
    return serializer.dumps({"_user_id": str(user_id), "_fresh": True})


def test_a_cookie_forged_with_the_old_source_key_does_not_make_anyone_the_gp_head(
    no_key: Path, monkeypatch, domain_engine
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DEV", "1")  # the set-up where the source key used to be used
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    assert app.config["SECRET_KEY"] != OLD_SOURCE_KEY
    head = UserDirectory(domain_engine.db).get("gp.head")
    client = app.test_client()
    client.set_cookie("session", forged_cookie(OLD_SOURCE_KEY, head.id))
    assert not signed_in(client)


def test_even_a_leaked_key_signs_no_one_in_without_a_live_session(app, domain_engine) -> None:
    head = UserDirectory(domain_engine.db).get("gp.head")
    client = app.test_client()
    client.set_cookie("session", forged_cookie(app.config["SECRET_KEY"], head.id))
    assert not signed_in(client)


# -- sign-out and expiry ------------------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app) -> None:
    browser = app.test_client()
    assert sign_in(browser, "tlg.prosecutor").status_code == 302
    copied = browser.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert signed_in(thief)
    sign_out(browser)
    assert not signed_in(browser)
    assert not signed_in(thief)


def test_a_session_ends_after_two_idle_hours(app, session_clock) -> None:
    browser = app.test_client()
    assert sign_in(browser, "tlg.prosecutor").status_code == 302
    session_clock.advance(SESSION_IDLE - timedelta(minutes=1))
    assert signed_in(browser)  # a request: the idle time starts again
    session_clock.advance(SESSION_IDLE - timedelta(minutes=1))
    assert signed_in(browser)
    session_clock.advance(SESSION_IDLE + timedelta(seconds=1))
    assert not signed_in(browser)


def test_a_session_ends_twelve_hours_after_sign_in_however_busy(app, session_clock) -> None:
    browser = app.test_client()
    assert sign_in(browser, "tlg.prosecutor").status_code == 302
    elapsed = timedelta()
    while elapsed + timedelta(hours=1) < SESSION_ABSOLUTE:
        session_clock.advance(timedelta(hours=1))
        elapsed += timedelta(hours=1)
        assert signed_in(browser)
    session_clock.advance(SESSION_ABSOLUTE - elapsed)
    assert not signed_in(browser)
    assert sign_in(browser, "tlg.prosecutor").status_code == 302  # signing in again works
    assert signed_in(browser)


def test_a_session_row_marked_expired_is_refused_at_once(app, domain_engine, session_clock) -> None:
    browser = app.test_client()
    assert sign_in(browser, "tlg.prosecutor").status_code == 302
    with domain_engine.db.write() as conn:
        conn.execute(
            update(UserSession.__table__).values(expires_at=session_clock.now() - timedelta(1))
        )
    assert not signed_in(browser)


# -- API tokens expire --------------------------------------------------------------------------


def test_an_api_token_expires_after_90_days_with_words(app, domain_engine) -> None:
    users = UserDirectory(domain_engine.db)
    token, expires = users.issue_token_until("gp.auditor")
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/procedures", headers=headers).status_code == 200
    with domain_engine.db.write() as conn:
        conn.execute(
            update(UserAccount.__table__)
            .where(UserAccount.__table__.c.login == "gp.auditor")
            .values(token_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answer = client.get("/api/v1/procedures", headers=headers)
    assert answer.status_code == 401
    assert answer.json["error"] == "token_expired"
    assert "expired" in answer.json["detail"] and "nadzor users token" in answer.json["detail"]


def test_the_cli_prints_when_a_new_token_expires(domain_engine, database_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["users", "token", "gp.auditor"])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert UserDirectory(domain_engine.db).by_token(token).login == "gp.auditor"
    assert re.search(r"the token expires at \d{4}-\d\d-\d\dT.* \(in 90 days\)", result.stderr)


# -- the lock-out -------------------------------------------------------------------------------


def test_five_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(app) -> None:
    owner, attacker = app.test_client(), app.test_client()
    assert sign_in(owner, "tlg.prosecutor").status_code == 302  # the owner's usual address
    sign_out(owner)
    for _ in range(5):
        answer = sign_in(attacker, "tlg.prosecutor", "guess", ATTACKER_ADDRESS)
        assert answer.status_code == 401
    blocked = sign_in(attacker, "tlg.prosecutor", "guess", ATTACKER_ADDRESS)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Повторите через" in blocked.get_data(as_text=True)
    assert sign_in(owner, "tlg.prosecutor", address=OWNER_ADDRESS).status_code == 302


def test_a_distributed_guess_blocks_the_login_everywhere_but_the_owners_usual_address(
    app, session_clock
) -> None:
    owner = app.test_client()
    assert sign_in(owner, "tlg.prosecutor").status_code == 302
    sign_out(owner)
    throttle = app.extensions["nadzor.throttle"]
    for n in range(LOGIN_LIMIT):  # from a hundred addresses, a few each: no pair rule applies
        throttle.failed("tlg.prosecutor", f"192.0.2.{n % 50}", session_clock.now())
    stranger = app.test_client()
    blocked = sign_in(stranger, "tlg.prosecutor", address="198.51.100.7")
    assert blocked.status_code == 429  # even the right password waits elsewhere
    assert sign_in(owner, "tlg.prosecutor", address=OWNER_ADDRESS).status_code == 302


def test_the_owners_own_mistakes_lock_the_usual_address_only_briefly(app, session_clock) -> None:
    owner = app.test_client()
    assert sign_in(owner, "tlg.prosecutor").status_code == 302
    sign_out(owner)
    for _ in range(5):
        sign_in(owner, "tlg.prosecutor", "typo")
    answer = sign_in(owner, "tlg.prosecutor")
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) <= 5 * 60
    session_clock.advance(timedelta(minutes=5, seconds=1))
    assert sign_in(owner, "tlg.prosecutor").status_code == 302


def test_the_throttle_is_shared_by_two_app_instances_over_one_database(
    app, database_url, clock, session_clock
) -> None:
    settings = Settings(database_url=database_url, secret_key="other", bpmn_dir=BPMN_DIR)
    other_engine = build_engine(settings, clock=clock)
    try:
        other = create_app(
            {
                "NADZOR_ENGINE": other_engine,
                "TESTING": True,
                "SECRET_KEY": "tests-sessions-key",
                "NADZOR_SESSION_CLOCK": session_clock,
            }
        )
        first, second = app.test_client(), other.test_client()
        for _ in range(5):
            assert sign_in(first, "tlg.head", "guess", ATTACKER_ADDRESS).status_code == 401
        assert sign_in(second, "tlg.head", "guess", ATTACKER_ADDRESS).status_code == 429
    finally:
        other_engine.db.dispose()


# -- unknown and known logins cost the same --------------------------------------------------


def test_an_unknown_login_is_verified_against_a_dummy_scrypt_hash(
    app, domain_engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Not timed (machines differ): the same scrypt verification runs whatever the login."""
    real = users_module.check_password_hash
    verified: list[str] = []

    def spy(stored: str, password: str) -> bool:
        verified.append(stored)
        return real(stored, password)

    monkeypatch.setattr(users_module, "check_password_hash", spy)
    users = UserDirectory(domain_engine.db)
    assert users.authenticate("nobody-at-all", "nadzor-demo") is None
    assert verified == [DUMMY_PASSWORD_HASH]
    assert DUMMY_PASSWORD_HASH.split("$")[0] == users_module.hash_password("x").split("$")[0]
    with domain_engine.db.write() as conn:
        conn.execute(
            update(UserAccount.__table__)
            .where(UserAccount.__table__.c.login == "tlg.head")
            .values(active=False)
        )
    verified.clear()
    assert users.authenticate("tlg.head", "nadzor-demo") is None  # deactivated: same work
    assert len(verified) == 1 and verified[0] != DUMMY_PASSWORD_HASH
    verified.clear()
    assert sign_in(app.test_client(), "no.such.login", "whatever").status_code == 401
    assert verified == [DUMMY_PASSWORD_HASH]
