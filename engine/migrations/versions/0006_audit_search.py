"""audit search: indexes and flags for finding cases

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

An auditor looks for cases newest first, within an office's scope, and for cases whose history
holds a breached deadline or an incident (engine/audit_search.py). The two facts become columns
of the case's row, set where the breach or the incident is recorded; this migration fills them
for the cases stored before it: a breach from the tasks' `breached_at` marks (the instant the
`deadline_breached` event was recorded), an incident from the incident rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch_op:
        batch_op.add_column(sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("incident_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE process_instance SET breached_at = (SELECT min(t.breached_at) FROM human_task t"
        " WHERE t.instance_id = process_instance.id AND t.breached_at IS NOT NULL)"
        " WHERE EXISTS (SELECT 1 FROM human_task t WHERE t.instance_id = process_instance.id"
        " AND t.breached_at IS NOT NULL)"
    )
    op.execute(
        "UPDATE process_instance SET incident_at = (SELECT min(i.created_at) FROM incident i"
        " WHERE i.instance_id = process_instance.id)"
        " WHERE EXISTS (SELECT 1 FROM incident i WHERE i.instance_id = process_instance.id)"
    )
    # newest first is the highest number first: an office's cases, a flag's cases, in order
    op.create_index("ix_instance_created", "process_instance", ["created_at", "id"])
    op.create_index("ix_instance_office_id", "process_instance", ["office_code", "id"])
    for flag in ("breached_at", "incident_at"):
        op.create_index(
            f"ix_instance_{flag[:-3]}",
            "process_instance",
            ["id"],
            sqlite_where=sa.text(f"{flag} IS NOT NULL"),
            postgresql_where=sa.text(f"{flag} IS NOT NULL"),
        )
    # a name's other words are checked against the case's own words, read off the index alone
    op.create_index("ix_case_term_instance_term", "case_term", ["instance_id", "term"])


def downgrade() -> None:
    op.drop_index("ix_case_term_instance_term", table_name="case_term")
    for name in ("incident", "breached", "office_id", "created"):
        op.drop_index(f"ix_instance_{name}", table_name="process_instance")
    with op.batch_alter_table("process_instance") as batch_op:
        batch_op.drop_column("incident_at")
        batch_op.drop_column("breached_at")
