"""scheduled starts: one row per occurrence and office, started exactly once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

`schedule` holds each calendar a procedure starts on (a timer start event of its newest
version): since when it exists, and the backoff of a start that keeps failing.
`scheduled_start` holds one row per occurrence and office, inserted in the transaction that
starts the case; its unique constraint is what makes an occurrence start once across workers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("process_id", sa.String(200), primary_key=True),
        sa.Column("start_event", sa.String(200), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_table(
        "scheduled_start",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("process_id", sa.String(200), nullable=False),
        sa.Column("start_event", sa.String(200), nullable=False),
        sa.Column("occurrence", sa.DateTime(timezone=True), nullable=False),
        sa.Column("office_code", sa.String(50), nullable=False),
        sa.Column("instance_id", BigId, sa.ForeignKey("process_instance.id"), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "process_id", "start_event", "occurrence", "office_code", name="uq_scheduled_start"
        ),
    )


def downgrade() -> None:
    op.drop_table("scheduled_start")
    op.drop_table("schedule")
