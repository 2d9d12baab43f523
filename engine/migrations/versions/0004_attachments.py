"""case attachments: files stored with their SHA-256

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

A form's file field stores each uploaded file here in the step that takes it
(engine/attachments.py); the case data and the step's audit event keep the file's reference with
its SHA-256, which is checked against the content whenever the file is read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", BigId, nullable=False),
        sa.Column("task_guid", sa.String(length=36), nullable=True),
        sa.Column("task_name", sa.String(length=200), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachment_instance", "attachment", ["instance_id", "uploaded_at"])


def downgrade() -> None:
    op.drop_index("ix_attachment_instance", table_name="attachment")
    op.drop_table("attachment")
