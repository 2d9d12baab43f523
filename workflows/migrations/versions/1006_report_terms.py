"""report terms: a regional office's own term for its districts' quarterly information

Revision ID: 1006
Revises: 1005
Create Date: 2026-12-02

Instruction 104, ¶13.17: district offices send information on the state of supervision to the
regional office at least once a quarter, "unless other terms are established by the regional
prosecutor". `report_term` holds that term per regional office as a day of the month after the
quarter; an office without a row uses the default (the 3rd: internal rule, workflows/quarterly.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1006"
down_revision = "1005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_term",
        sa.Column("office_code", sa.String(50), nullable=False),
        sa.Column("district_due_day", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(100), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["office_code"], ["office.code"]),
        sa.PrimaryKeyConstraint("office_code"),
        sa.CheckConstraint(
            "district_due_day BETWEEN 1 AND 28", name="ck_report_term_district_due_day"
        ),
    )


def downgrade() -> None:
    op.drop_table("report_term")
