"""access log: who read which case, when, from where

Revision ID: 1005
Revises: 1004
Create Date: 2026-12-02

One row per read of a case (page, task, diagram, trace, export, API) and per refusal of one
(workflows/access_log.py). No foreign key to the case: a refused request for a case that does
not exist is recorded too, with the number that was asked for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1005"
down_revision = "1004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("office_code", sa.String(50), nullable=True),
        sa.Column("what", sa.String(20), nullable=False),
        sa.Column("instance_id", sa.BigInteger(), nullable=True),
        sa.Column("task_guid", sa.String(36), nullable=True),
        sa.Column("case_office", sa.String(50), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_case", "access_log", ["instance_id", "id"])
    op.create_index("ix_access_log_login", "access_log", ["login", "id"])
    op.create_index("ix_access_log_office", "access_log", ["case_office", "id"])
    op.create_index("ix_access_log_at", "access_log", ["at"])


def downgrade() -> None:
    for name in ("at", "office", "login", "case"):
        op.drop_index(f"ix_access_log_{name}", table_name="access_log")
    op.drop_table("access_log")
