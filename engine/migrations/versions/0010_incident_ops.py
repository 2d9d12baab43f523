"""incidents a person can act on: case, task, element, attempts, needs attention

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

An incident row said only "something failed" in a message: no procedure for a start that failed
before its case existed, no element, no count of attempts, and a failing timer was retried every
hour for ever. The failed-cases page (web/incidents_ui.py) and engine/management.py need the
procedure, the element that failed (id and drawn name), how many attempts were made and when
the last one was, a status (open: retried automatically; needs_attention: no more automatic
attempts; resolved) and who resolved it how.

Backfill: the status from `resolved_at`; the element from the task name (a BPMN id); the
procedure from the case, or for a scheduled start from its message; the attempts of an open
timer or retry incident from its timer row (past the automatic bound: needs attention); the
last attempt at its creation. Element names need the model and are filled when shown.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: engine/management.py MAX_AUTOMATIC_ATTEMPTS as of this revision
MAX_AUTOMATIC_ATTEMPTS = 5


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("process_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("element_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("element_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="open", nullable=False)
        )
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.Text(), nullable=True))
        batch_op.create_index("ix_incident_status", ["status"], unique=False)

    op.execute("UPDATE incident SET status = 'resolved' WHERE resolved_at IS NOT NULL")
    op.execute("UPDATE incident SET element_id = task_name, last_attempt_at = created_at")
    op.execute(
        "UPDATE incident SET process_id = (SELECT p.process_id FROM process_instance p"
        " WHERE p.id = incident.instance_id) WHERE instance_id IS NOT NULL"
    )
    # attempts of a failing timer or service retry: its timer row counts them
    op.execute(
        "UPDATE incident SET attempts = (SELECT max(t.attempts) FROM timer t"
        " WHERE t.instance_id = incident.instance_id AND t.task_guid = incident.task_guid)"
        " WHERE resolved_at IS NULL AND kind IN ('timer', 'service') AND EXISTS (SELECT 1"
        " FROM timer t WHERE t.instance_id = incident.instance_id"
        " AND t.task_guid = incident.task_guid AND t.attempts > 0)"
    )
    op.execute(
        "UPDATE incident SET status = 'needs_attention' WHERE resolved_at IS NULL"
        f" AND (attempts >= {MAX_AUTOMATIC_ATTEMPTS} OR kind NOT IN ('timer', 'service',"
        " 'schedule'))"
    )
    # a scheduled start's procedure is named in its message
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, message FROM incident WHERE kind = 'schedule' AND process_id IS NULL")
    ).all()
    for incident_id, message in rows:
        found = re.match(r"scheduled start of '([^']+)'", message or "")
        if found:
            conn.execute(
                sa.text("UPDATE incident SET process_id = :p WHERE id = :i"),
                {"p": found.group(1)[:200], "i": incident_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_status")
        for column in (
            "resolution",
            "resolved_by",
            "status",
            "last_attempt_at",
            "attempts",
            "element_name",
            "element_id",
            "process_id",
        ):
            batch_op.drop_column(column)
