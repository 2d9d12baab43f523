"""definition versions: change note and legal basis, one current version per content (no unique sha)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Publishing compares the content with the current version only, so an older version's content
can become current again under a new number (the way back): the same (process_id, sha256) may
now appear twice, and the unique constraint that forbade it goes. Lookups by content go through
the process_id index (a procedure has a handful of versions) and "which version is current"
through the (process_id, version) unique index, so no new index is needed.

Each version records what changed and why (`note`) and the legal act it follows
(`legal_basis`); versions published before this revision have neither (empty text).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot drop a constraint in place: batch mode rebuilds the table (PostgreSQL alters)
    with op.batch_alter_table("definition", schema=None) as batch_op:
        batch_op.drop_constraint("uq_definition_sha", type_="unique")
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("legal_basis", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # fails when the way back was used (two versions of one procedure with the same content):
    # such a history cannot be expressed under the old rule
    with op.batch_alter_table("definition", schema=None) as batch_op:
        batch_op.drop_column("legal_basis")
        batch_op.drop_column("note")
        batch_op.create_unique_constraint("uq_definition_sha", ["process_id", "sha256"])
