"""saved queue filters and task drafts

Revision ID: 1002
Revises: 1001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1002"
down_revision = "1001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner_login", sa.String(100), nullable=False),
        sa.Column("office_code", sa.String(50), sa.ForeignKey("office.code"), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_saved_filter_owner", "saved_filter", ["owner_login"])
    op.create_index("ix_saved_filter_office", "saved_filter", ["office_code", "shared"])
    op.create_table(
        "task_draft",
        sa.Column("task_guid", sa.String(36), primary_key=True),
        sa.Column("login", sa.String(100), primary_key=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_draft")
    op.drop_index("ix_saved_filter_office", table_name="saved_filter")
    op.drop_index("ix_saved_filter_owner", table_name="saved_filter")
    op.drop_table("saved_filter")
