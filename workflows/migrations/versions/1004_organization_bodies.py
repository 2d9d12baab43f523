"""organization: supervising office of an institution, directory of bodies, zonal officers

Revision ID: 1004
Revises: 1003
Create Date: 2026-12-02

- `institution.supervising_office_code`: a regional office that supervises the institution
  instead of its district office (Instruction 104, ¶10.10); NULL for the usual case.
- `body`: the addressees of acts (central / regional territorial / local bodies) with the
  prosecutor's office of their territory; an act's route follows the body's level (¶12, ¶14).
- `zonal_officer`: the GP officer responsible for a region (¶9.1), one per region.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1004"
down_revision = "1003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("institution") as batch:
        batch.add_column(sa.Column("supervising_office_code", sa.String(50), nullable=True))
        batch.create_foreign_key(
            "fk_institution_supervising_office", "office", ["supervising_office_code"], ["code"]
        )
    op.create_table(
        "body",
        sa.Column("code", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("office_code", sa.String(50), sa.ForeignKey("office.code"), nullable=False),
    )
    op.create_table(
        "zonal_officer",
        sa.Column("region_code", sa.String(50), sa.ForeignKey("office.code"), primary_key=True),
        sa.Column("login", sa.String(100), sa.ForeignKey("user_account.login"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("zonal_officer")
    op.drop_table("body")
    with op.batch_alter_table("institution") as batch:
        batch.drop_constraint("fk_institution_supervising_office", type_="foreignkey")
        batch.drop_column("supervising_office_code")
