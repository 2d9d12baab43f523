"""definition versions: change note and legal basis, one current version per content (no unique sha)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Reserved in advance so that parallel work does not collide on revision numbers; the owner
fills in upgrade() and downgrade().
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
