"""Users of the system: accounts, roles, password hashes and API tokens.

Passwords are hashed with scrypt (werkzeug). API tokens are random; only their SHA-256 is
stored, so a token is shown once, when issued. A token lives TOKEN_LIFETIME (90 days), then it
is refused with words saying how to get a new one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from engine.db import Database
from engine.errors import NotFound
from engine.fastsql import Prepared
from engine.models import as_utc

from .models import Office, UserAccount

users_table = UserAccount.__table__
office_table = Office.__table__


@dataclass(frozen=True)
class User:
    id: int
    login: str
    name: str
    office_code: str
    office_level: str
    roles: tuple[str, ...]
    locale: str
    active: bool

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


#: how long an API token is accepted after it is issued
TOKEN_LIFETIME = timedelta(days=90)

#: verified when the login does not exist (or is inactive), so that an unknown login costs the
#: same scrypt work as a known one and the answer's time does not tell which logins exist.
#: The hash of a random string nobody kept; it belongs to no account.
DUMMY_PASSWORD_HASH = (
    "scrypt:32768:8:1$oHcoLv2WbCwBenj4$7dd1cd19335fd685fe9c7acec034591efe313554034aea387579d7c2"
    "67a4de91417b173a89e595135875131aac866f51e920d5b1dfc093a0909f37a44516d348"
)


class TokenExpired(Exception):
    """A known API token past its expiry: the API answers 401 with this message."""

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"the token expired at {expired_at.astimezone(UTC).isoformat()}; "
            "ask an administrator for a new one (`nadzor users token LOGIN`)"
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: what `user_from_row` reads: the account and its office's level (join `office_table`)
USER_COLUMNS = (
    users_table.c.id,
    users_table.c.login,
    users_table.c.name,
    users_table.c.office_code,
    office_table.c.level.label("office_level"),
    users_table.c.roles,
    users_table.c.locale,
    users_table.c.active,
)
_USERS = select(*USER_COLUMNS).join(office_table, office_table.c.code == users_table.c.office_code)
#: every API call asks this: one prepared statement, no ORM
_BY_TOKEN = Prepared(
    _USERS.add_columns(users_table.c.token_expires_at).where(
        users_table.c.token_hash == bindparam("b_hash")
    )
)


def user_from_row(row) -> User:  # type: ignore[no-untyped-def]
    """A user from a row of the account joined with its office (raw SQLite rows hold the
    roles as JSON text)."""
    roles = json.loads(row.roles) if isinstance(row.roles, str) else row.roles
    return User(
        row.id,
        row.login,
        row.name,
        row.office_code,
        row.office_level,
        tuple(roles or ()),
        row.locale,
        bool(row.active),
    )


class UserDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _select(self):  # type: ignore[no-untyped-def]
        return _USERS

    def list(self) -> list[User]:
        with self.db.read() as conn:
            return [
                user_from_row(r) for r in conn.execute(self._select().order_by(users_table.c.login))
            ]

    def get(self, login: str) -> User:
        with self.db.read() as conn:
            row = conn.execute(self._select().where(users_table.c.login == login)).first()
        if row is None:
            raise NotFound(f"user '{login}' does not exist")
        return user_from_row(row)

    def by_id(self, user_id: int) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(self._select().where(users_table.c.id == user_id)).first()
        return user_from_row(row) if row else None

    def authenticate(self, login: str, password: str) -> User | None:
        """The user whose password this is, or None; the same scrypt work either way.

        An unknown or deactivated login is verified against DUMMY_PASSWORD_HASH, so that the
        time of the answer does not tell an attacker which logins exist.
        """
        with self.db.read() as conn:
            row = conn.execute(
                select(users_table.c.password_hash, users_table.c.active).where(
                    users_table.c.login == login
                )
            ).first()
        stored = row.password_hash if row is not None else DUMMY_PASSWORD_HASH
        matches = check_password_hash(stored, password)
        if row is None or not row.active or not matches:
            return None
        return self.get(login)

    def by_token(self, token: str, now: datetime | None = None) -> User | None:
        """The active user holding this token; None for an unknown token.

        Raises TokenExpired for a known token past its expiry (or one issued before tokens
        expired and never renewed), so that the caller can say why it is refused.
        """
        with self.db.read() as conn:
            row = _BY_TOKEN.first(conn, {"b_hash": token_digest(token)})
        if row is None or not row.active:
            return None
        expires = as_utc(row.token_expires_at)
        if expires is None or expires <= (now or datetime.now(UTC)):
            raise TokenExpired(expires or datetime(1970, 1, 1, tzinfo=UTC))
        return user_from_row(row)

    def issue_token(self, login: str, now: datetime | None = None) -> str:
        """A new API token for LOGIN (the previous one stops working), valid TOKEN_LIFETIME."""
        return self.issue_token_until(login, now)[0]

    def issue_token_until(self, login: str, now: datetime | None = None) -> tuple[str, datetime]:
        """A new API token and the instant it expires (what `nadzor users token` prints)."""
        token = secrets.token_urlsafe(32)
        expires = (now or datetime.now(UTC)) + TOKEN_LIFETIME
        with self.db.write() as conn:
            result = conn.execute(
                update(users_table)
                .where(users_table.c.login == login)
                .values(token_hash=token_digest(token), token_expires_at=expires)
            )
        if result.rowcount != 1:
            raise NotFound(f"user '{login}' does not exist")
        return token, expires

    def upsert(
        self,
        *,
        login: str,
        name: str,
        office_code: str,
        roles: list[str],
        password_hash: str,
        now: datetime,
    ) -> bool:
        """Create the user if missing; returns True when created (existing users are kept)."""
        with self.db.write() as conn:
            exists = conn.execute(
                select(users_table.c.id).where(users_table.c.login == login)
            ).scalar()
            if exists is not None:
                return False
            conn.execute(
                insert(users_table).values(
                    login=login,
                    name=name,
                    office_code=office_code,
                    roles=roles,
                    password_hash=password_hash,
                    locale="ru",
                    active=True,
                    created_at=now,
                )
            )
        return True

    def set_locale(self, user_id: int, locale: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(users_table).where(users_table.c.id == user_id).values(locale=locale)
            )

    def colleagues(self, office_code: str, *roles: str) -> list[User]:
        """Active users of one office holding any of `roles` (whom a task may be handed to)."""
        return [
            u
            for u in self.list()
            if u.office_code == office_code and u.active and (not roles or u.has_role(*roles))
        ]
