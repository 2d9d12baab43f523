"""task reminders, breaches and translated titles; searchable case attributes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("titles", sa.JSON(), nullable=True))
        batch_op.create_index("ix_human_task_remind", ["state", "remind_at"], unique=False)
        batch_op.create_index("ix_human_task_due", ["state", "due_at"], unique=False)
    op.create_table(
        "case_attribute",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("instance_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("value_norm", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_attribute_instance", "case_attribute", ["instance_id", "name"])
    op.create_index("ix_case_attribute_value", "case_attribute", ["name", "value"])


def downgrade() -> None:
    op.drop_index("ix_case_attribute_value", table_name="case_attribute")
    op.drop_index("ix_case_attribute_instance", table_name="case_attribute")
    op.drop_table("case_attribute")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_due")
        batch_op.drop_index("ix_human_task_remind")
        batch_op.drop_column("titles")
        batch_op.drop_column("breached_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("remind_at")
