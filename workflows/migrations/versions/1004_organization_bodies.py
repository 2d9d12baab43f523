"""organization: supervising office of an institution, directory of bodies, zonal officers

Revision ID: 1004
Revises: 1003
Create Date: 2026-12-02

Reserved in advance so that parallel work does not collide on revision numbers; the owner
fills in upgrade() and downgrade().
"""

from __future__ import annotations

revision = "1004"
down_revision = "1003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
