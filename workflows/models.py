"""Domain tables: the offices tree, supervised institutions, users, the local pre-trial register.

They live in the engine's metadata only through migrations of their own
(`workflows/migrations`), so the engine itself knows nothing about prosecutors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.models import UTCDateTime


class DomainBase(DeclarativeBase):
    pass


class Office(DomainBase):
    """GP at the root; regional and equated offices; district and equated offices."""

    __tablename__ = "office"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # translations by locale
    level: Mapped[str] = mapped_column(String(20))  # gp | regional | district
    kind: Mapped[str] = mapped_column(
        String(30), default="territorial"
    )  # territorial | military | city
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("office.code"))


class Institution(DomainBase):
    """A supervised institution on one district office's territory."""

    __tablename__ = "institution"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(30))  # colony | sizo | guardhouse | ...
    district_office_code: Mapped[str] = mapped_column(ForeignKey("office.code"))
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a regional office that supervises it instead of the district (¶10.10: an institution in
    #: the regional centre); NULL: its district office supervises it
    supervising_office_code: Mapped[str | None] = mapped_column(
        ForeignKey("office.code"), nullable=True
    )


class Body(DomainBase):
    """An addressee of acts: a central state body, a regional territorial body or a local
    one, with the prosecutor's office of its territory (the directory decides an act's route,
    ¶12, ¶14)."""

    __tablename__ = "body"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    level: Mapped[str] = mapped_column(String(20))  # central | regional | local
    office_code: Mapped[str] = mapped_column(ForeignKey("office.code"))


class ZonalOfficer(DomainBase):
    """The GP officer who watches a region (¶9.1 zonal-subject principle): one per region."""

    __tablename__ = "zonal_officer"

    region_code: Mapped[str] = mapped_column(ForeignKey("office.code"), primary_key=True)
    login: Mapped[str] = mapped_column(ForeignKey("user_account.login"))


class UserAccount(DomainBase):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    office_code: Mapped[str] = mapped_column(ForeignKey("office.code"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(300))
    locale: Mapped[str] = mapped_column(String(5), default="ru")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: an API token is refused after this instant (NULL: no valid token)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: where the last successful sign-in came from: never locked out for long (sessions.py)
    last_sign_in_address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PretrialRegistration(DomainBase):
    """The built-in local pre-trial register (ERDR stand-in): one number per case, idempotent."""

    __tablename__ = "pretrial_registration"
    __table_args__ = (UniqueConstraint("case_ref", name="uq_pretrial_case"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    case_ref: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SavedFilter(DomainBase):
    """A queue filter kept on the server: its owner's own, or shared with the owner's office."""

    __tablename__ = "saved_filter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_login: Mapped[str] = mapped_column(String(100), index=True)
    office_code: Mapped[str] = mapped_column(ForeignKey("office.code"))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    queue: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskDraft(DomainBase):
    """What a user typed into a task's form and has not submitted yet (one per user and task)."""

    __tablename__ = "task_draft"

    task_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    login: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserSession(DomainBase):
    """A signed-in browser: the cookie carries a random id, the server keeps its SHA-256.

    Signing out revokes the row, so a copied cookie stops working at once; a session ends on
    its own after an absolute lifetime and after a spell without requests (workflows/sessions.py).
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    address: Mapped[str] = mapped_column(String(64))


class SignInFailure(DomainBase):
    """One wrong password: the sign-in throttle counts these rows, shared by every process."""

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportTerm(DomainBase):
    """A regional office's own term for its districts' quarterly information (¶13.17): the day
    of the month after the quarter; no row means the default (workflows/quarterly.py)."""

    __tablename__ = "report_term"
    __table_args__ = (
        CheckConstraint(
            "district_due_day BETWEEN 1 AND 28", name="ck_report_term_district_due_day"
        ),
    )

    office_code: Mapped[str] = mapped_column(ForeignKey("office.code"), primary_key=True)
    district_due_day: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    set_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
