"""Sign-in sessions kept on the server, and the sign-in throttle shared by every process.

A session cookie carries only a random session id; the server keeps its SHA-256 in
`user_session`. Every request looks the id up (one indexed query that also loads the user), so
signing out, expiry and deactivating an account take effect at once, and a cookie signed with a
leaked key is still refused unless it carries the id of a live session.

Lifetimes: a session ends SESSION_ABSOLUTE (12 h) after sign-in whatever happens, and
SESSION_IDLE (2 h) after its last request. The last-seen instant is written at most once per
LAST_SEEN_RESOLUTION (1 min) per session, so browsing does not turn every read into a write.

The throttle counts wrong passwords in `sign_in_failure` (shared by all processes):
- one login from one address: PAIR_LIMIT (5) failures within PAIR_WINDOW (5 min) make that
  pair wait until the window has passed;
- one address, any logins: ADDRESS_LIMIT (30) within ADDRESS_WINDOW (15 min);
- one login from every address (a distributed guess): LOGIN_LIMIT (100) within LOGIN_WINDOW
  (1 h) - but never at the address of the login's last successful sign-in, so wrong passwords
  typed elsewhere cannot lock the owner out of the owner's usual desk; there only the pair rule
  applies (at most PAIR_WINDOW).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select, update

from engine.db import Database
from engine.fastsql import Prepared
from engine.models import as_utc

from .models import Office, SignInFailure, UserAccount, UserSession
from .users import USER_COLUMNS, User, user_from_row

SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

PAIR_LIMIT, PAIR_WINDOW = 5, timedelta(minutes=5)
ADDRESS_LIMIT, ADDRESS_WINDOW = 30, timedelta(minutes=15)
LOGIN_LIMIT, LOGIN_WINDOW = 100, timedelta(hours=1)
#: failures older than the longest window are no longer counted: they are deleted
FAILURE_KEPT = max(PAIR_WINDOW, ADDRESS_WINDOW, LOGIN_WINDOW)

session_table = UserSession.__table__
failure_table = SignInFailure.__table__
users_table = UserAccount.__table__
office_table = Office.__table__


def sid_digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


#: the one query of every signed-in request: the session and its user together
_BY_SID = Prepared(
    select(
        session_table.c.id.label("session_id"),
        session_table.c.last_seen_at,
        session_table.c.expires_at,
        session_table.c.revoked_at,
        *USER_COLUMNS,
    )
    .join(users_table, users_table.c.id == session_table.c.user_id)
    .join(office_table, office_table.c.code == users_table.c.office_code)
    .where(session_table.c.sid_hash == bindparam("b_hash"))
)


class SessionStore:
    """Opens, checks and revokes sign-in sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, user_id: int, address: str, now: datetime) -> str:
        """A new session for the user: returns the random id the cookie will carry.

        Also remembers the address as the user's usual one (see the throttle) and deletes
        sessions that ended more than a day ago.
        """
        sid = secrets.token_urlsafe(32)
        with self.db.write() as conn:
            conn.execute(
                insert(session_table).values(
                    sid_hash=sid_digest(sid),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + SESSION_ABSOLUTE,
                    revoked_at=None,
                    address=address[:64],
                )
            )
            conn.execute(
                update(users_table)
                .where(users_table.c.id == user_id)
                .values(last_sign_in_address=address[:64])
            )
            conn.execute(
                delete(session_table).where(session_table.c.expires_at < now - timedelta(days=1))
            )
        return sid

    def user(self, sid: str, now: datetime) -> User | None:
        """The user of a live session, or None when it is unknown, revoked or has expired."""
        with self.db.read() as conn:
            row = _BY_SID.first(conn, {"b_hash": sid_digest(sid)})
        if row is None or row.revoked_at is not None or not row.active:
            return None
        last_seen = as_utc(row.last_seen_at)
        if now >= as_utc(row.expires_at) or now - last_seen >= SESSION_IDLE:  # type: ignore[operator]
            return None
        if now - last_seen >= LAST_SEEN_RESOLUTION:  # type: ignore[operator]
            with self.db.write() as conn:
                conn.execute(
                    update(session_table)
                    .where(session_table.c.id == row.session_id)
                    .values(last_seen_at=now)
                )
        return user_from_row(row)

    def revoke(self, sid: str, now: datetime) -> None:
        """Sign-out: the session id stops working everywhere, whoever holds a copy."""
        with self.db.write() as conn:
            conn.execute(
                update(session_table)
                .where(session_table.c.sid_hash == sid_digest(sid))
                .where(session_table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )


@dataclass(frozen=True)
class Wait:
    """A refused attempt: how long until it may be tried again."""

    seconds: int


class SignInThrottle:
    """Counts wrong passwords per (login, address), per address and per login, in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _key(login: str) -> str:
        return login.strip().lower()[:100]

    def check(self, login: str, address: str, now: datetime) -> Wait | None:
        """None when this attempt may go ahead; else how long to wait."""
        login, address = self._key(login), address[:64]
        c = failure_table.c
        with self.db.read() as conn:
            pair = conn.execute(
                select(func.count(), func.min(c.failed_at)).where(
                    c.login == login, c.address == address, c.failed_at > now - PAIR_WINDOW
                )
            ).one()
            by_address = conn.execute(
                select(func.count(), func.min(c.failed_at)).where(
                    c.address == address, c.failed_at > now - ADDRESS_WINDOW
                )
            ).one()
            by_login = conn.execute(
                select(func.count(), func.min(c.failed_at)).where(
                    c.login == login, c.failed_at > now - LOGIN_WINDOW
                )
            ).one()
            usual = None
            if by_login[0] >= LOGIN_LIMIT:
                usual = conn.execute(
                    select(users_table.c.last_sign_in_address).where(
                        func.lower(users_table.c.login) == login
                    )
                ).scalar()
        waits = []
        if pair[0] >= PAIR_LIMIT:
            waits.append(as_utc(pair[1]) + PAIR_WINDOW - now)  # type: ignore[operator]
        if by_address[0] >= ADDRESS_LIMIT:
            waits.append(as_utc(by_address[1]) + ADDRESS_WINDOW - now)  # type: ignore[operator]
        if by_login[0] >= LOGIN_LIMIT and address != usual:
            waits.append(as_utc(by_login[1]) + LOGIN_WINDOW - now)  # type: ignore[operator]
        if not waits:
            return None
        return Wait(max(1, int(max(waits).total_seconds() + 0.999)))

    def failed(self, login: str, address: str, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                insert(failure_table).values(
                    login=self._key(login), address=address[:64], failed_at=now
                )
            )
            conn.execute(
                delete(failure_table).where(failure_table.c.failed_at < now - FAILURE_KEPT)
            )

    def succeeded(self, login: str, address: str) -> None:
        """The right password from this address: its own count starts again."""
        with self.db.write() as conn:
            conn.execute(
                delete(failure_table).where(
                    failure_table.c.login == self._key(login),
                    failure_table.c.address == address[:64],
                )
            )
