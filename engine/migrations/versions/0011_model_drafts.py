"""drafts of procedure models, saved on the server

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

`model_draft` holds a methodologist's work on a procedure before it is published: the whole file
set (main BPMN, forms, decision tables) as JSON, the version it was opened from, and a revision
that moves on every save so that two people saving the same draft cannot silently overwrite each
other. Drafts are shared by every methodologist; publishing one deletes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_draft",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("process_id", sa.String(200), nullable=False, index=True),
        sa.Column(
            "base_definition_id", sa.Integer(), sa.ForeignKey("definition.id"), nullable=True
        ),
        sa.Column("main", sa.String(400), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_draft")
