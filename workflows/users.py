"""Users of the system: accounts, roles, password hashes and API tokens.

Passwords are hashed with scrypt (werkzeug). API tokens are random; only their SHA-256 is
stored, so a token is shown once, when issued.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from engine.db import Database
from engine.errors import NotFound
from engine.fastsql import Prepared

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


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_USERS = select(
    users_table.c.id,
    users_table.c.login,
    users_table.c.name,
    users_table.c.office_code,
    office_table.c.level.label("office_level"),
    users_table.c.roles,
    users_table.c.locale,
    users_table.c.active,
).join(office_table, office_table.c.code == users_table.c.office_code)
#: every API call asks this: one prepared statement, no ORM
_BY_TOKEN = Prepared(_USERS.where(users_table.c.token_hash == bindparam("b_hash")))


class UserDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _select(self):  # type: ignore[no-untyped-def]
        return _USERS

    @staticmethod
    def _user(row) -> User:  # type: ignore[no-untyped-def]
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

    def list(self) -> list[User]:
        with self.db.read() as conn:
            return [
                self._user(r) for r in conn.execute(self._select().order_by(users_table.c.login))
            ]

    def get(self, login: str) -> User:
        with self.db.read() as conn:
            row = conn.execute(self._select().where(users_table.c.login == login)).first()
        if row is None:
            raise NotFound(f"user '{login}' does not exist")
        return self._user(row)

    def by_id(self, user_id: int) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(self._select().where(users_table.c.id == user_id)).first()
        return self._user(row) if row else None

    def authenticate(self, login: str, password: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(users_table.c.password_hash, users_table.c.active).where(
                    users_table.c.login == login
                )
            ).first()
        if row is None or not row.active or not check_password_hash(row.password_hash, password):
            return None
        return self.get(login)

    def by_token(self, token: str) -> User | None:
        with self.db.read() as conn:
            row = _BY_TOKEN.first(conn, {"b_hash": token_digest(token)})
        return self._user(row) if row is not None and row.active else None

    def issue_token(self, login: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.db.write() as conn:
            result = conn.execute(
                update(users_table)
                .where(users_table.c.login == login)
                .values(token_hash=token_digest(token))
            )
        if result.rowcount != 1:
            raise NotFound(f"user '{login}' does not exist")
        return token

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
