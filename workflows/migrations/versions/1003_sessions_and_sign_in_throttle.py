"""server-side sign-in sessions, the shared sign-in throttle, API token expiry

Revision ID: 1003
Revises: 1002
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "1003"
down_revision = "1002"
branch_labels = None
depends_on = None

#: tokens issued before expiry existed get the lifetime of a new one, counted from the upgrade
TOKEN_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sid_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_user_session_sid", "user_session", ["sid_hash"], unique=True)
    op.create_index("ix_user_session_user", "user_session", ["user_id", "created_at"])
    op.create_index("ix_user_session_expires", "user_session", ["expires_at"])
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failure_login", "sign_in_failure", ["login", "failed_at"])
    op.create_index("ix_sign_in_failure_address", "sign_in_failure", ["address", "failed_at"])
    op.create_index("ix_sign_in_failure_at", "sign_in_failure", ["failed_at"])
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_sign_in_address", sa.String(64), nullable=True))
    account = sa.table(
        "user_account",
        sa.column("token_hash", sa.String()),
        sa.column("token_expires_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        account.update()
        .where(account.c.token_hash.is_not(None))
        .values(token_expires_at=datetime.now(UTC) + TOKEN_LIFETIME)
    )


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("last_sign_in_address")
        batch.drop_column("token_expires_at")
    op.drop_index("ix_sign_in_failure_at", table_name="sign_in_failure")
    op.drop_index("ix_sign_in_failure_address", table_name="sign_in_failure")
    op.drop_index("ix_sign_in_failure_login", table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
    op.drop_index("ix_user_session_expires", table_name="user_session")
    op.drop_index("ix_user_session_user", table_name="user_session")
    op.drop_index("ix_user_session_sid", table_name="user_session")
    op.drop_table("user_session")
