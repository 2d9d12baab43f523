"""audit proof: signed incremental checkpoints, model hashes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Reserved in advance so that parallel work does not collide on revision numbers; the owner
fills in upgrade() and downgrade().
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
