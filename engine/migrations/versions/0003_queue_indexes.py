"""queue indexes: unclaimed tasks by deadline; attribute values for the name search

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The office queue (ready, my office, my roles, unclaimed, earliest deadline first) reads a page
straight off a partial index in deadline order instead of sorting the office's every task; the
name search scans a narrow index of normalized values instead of the attribute table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_human_task_unclaimed",
        "human_task",
        ["state", "office_code", "role", "due_at", "id"],
        sqlite_where=sa.text("assignee IS NULL"),
        postgresql_where=sa.text("assignee IS NULL"),
    )
    op.create_index("ix_case_attribute_norm", "case_attribute", ["value_norm", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_case_attribute_norm", table_name="case_attribute")
    op.drop_index("ix_human_task_unclaimed", table_name="human_task")
