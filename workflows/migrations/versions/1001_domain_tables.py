"""domain tables: offices, institutions, users, local pre-trial register

Revision ID: 1001
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "office",
        sa.Column("code", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("parent_code", sa.String(50), sa.ForeignKey("office.code"), nullable=True),
    )
    op.create_table(
        "institution",
        sa.Column("code", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column(
            "district_office_code", sa.String(50), sa.ForeignKey("office.code"), nullable=False
        ),
        sa.Column("remote", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("login", sa.String(100), nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("office_code", sa.String(50), sa.ForeignKey("office.code"), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("locale", sa.String(5), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pretrial_registration",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(50), nullable=False, unique=True),
        sa.Column("case_ref", sa.String(100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_ref", name="uq_pretrial_case"),
    )


def downgrade() -> None:
    op.drop_table("pretrial_registration")
    op.drop_table("user_account")
    op.drop_table("institution")
    op.drop_table("office")
