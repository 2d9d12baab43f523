"""queue indexes: unclaimed tasks by deadline; the words of case data for name searches

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The office queue (ready, my office, my roles, unclaimed, earliest deadline first) reads a page
straight off a partial index in deadline order instead of sorting the office's every task; a
name search is a prefix range over the words of the cases' start data (engine/search.py)
instead of a substring match against every stored value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.search import term_rows

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index(
        "ix_human_task_unclaimed",
        "human_task",
        ["state", "office_code", "role", "due_at", "id", "instance_id"],
        sqlite_where=sa.text("assignee IS NULL"),
        postgresql_where=sa.text("assignee IS NULL"),
    )
    op.create_table(
        "case_term",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("instance_id", BigId, nullable=False),
        sa.Column(
            "term",
            sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    # the institution filter reads its cases off the index alone
    op.drop_index("ix_case_attribute_value", table_name="case_attribute")
    op.create_index("ix_case_attribute_value", "case_attribute", ["name", "value", "instance_id"])
    op.create_index("ix_case_term_term", "case_term", ["term", "instance_id"])
    op.create_index("ix_case_term_instance", "case_term", ["instance_id"])
    # the words of the cases started before this version
    rows = op.get_bind().execute(sa.text("SELECT instance_id, value_norm FROM case_attribute"))
    by_case: dict[int, list[str]] = {}
    for instance_id, value in rows:
        by_case.setdefault(instance_id, []).append(value)
    terms = [row for iid, values in by_case.items() for row in term_rows(iid, values)]
    if terms:
        op.bulk_insert(sa.table("case_term", sa.column("instance_id"), sa.column("term")), terms)


def downgrade() -> None:
    op.drop_index("ix_case_term_instance", table_name="case_term")
    op.drop_index("ix_case_term_term", table_name="case_term")
    op.drop_table("case_term")
    op.drop_index("ix_case_attribute_value", table_name="case_attribute")
    op.create_index("ix_case_attribute_value", "case_attribute", ["name", "value"])
    op.drop_index("ix_human_task_unclaimed", table_name="human_task")
