"""audit proof: signed incremental checkpoints, model hashes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A checkpoint now records only the chains that moved since the previous one (a Merkle tree over
their heads, one `audit_checkpoint_head` row per leaf) and is signed with a key kept outside the
database. `audit_checkpoint_seq` on each case (and `checkpoint_seq` on the chains without a case)
says what the last checkpoint recorded; a partial index finds the cases where it lags, so a
checkpoint never reads the cases that did not move. Existing cases start at 0: the first
checkpoint after the upgrade records every chain once. Earlier checkpoints stay as they are
(`root` NULL) and are verified the old way. `audit_verification` keeps each whole-history
verification's result for the pages.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOVED = "audit_seq <> audit_checkpoint_seq"


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(
            sa.Column("audit_checkpoint_seq", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index(
        "ix_instance_audit_moved",
        "process_instance",
        ["id"],
        sqlite_where=sa.text(MOVED),
        postgresql_where=sa.text(MOVED),
    )
    with op.batch_alter_table("audit_chain") as batch:
        batch.add_column(
            sa.Column("checkpoint_seq", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("audit_checkpoint") as batch:
        batch.add_column(sa.Column("root", sa.String(64), nullable=True))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(64), nullable=True))
    op.create_table(
        "audit_checkpoint_head",
        sa.Column("checkpoint_id", BigId, nullable=False),
        sa.Column("chain", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["audit_checkpoint.id"]),
        sa.PrimaryKeyConstraint("checkpoint_id", "chain"),
    )
    op.create_index(
        "ix_audit_checkpoint_head_chain", "audit_checkpoint_head", ["chain", "checkpoint_id"]
    )
    op.create_table(
        "audit_verification",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("instant", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(120), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("audit_verification")
    op.drop_index("ix_audit_checkpoint_head_chain", table_name="audit_checkpoint_head")
    op.drop_table("audit_checkpoint_head")
    with op.batch_alter_table("audit_checkpoint") as batch:
        batch.drop_column("key_id")
        batch.drop_column("signature")
        batch.drop_column("root")
    with op.batch_alter_table("audit_chain") as batch:
        batch.drop_column("checkpoint_seq")
    op.drop_index("ix_instance_audit_moved", table_name="process_instance")
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("audit_checkpoint_seq")
