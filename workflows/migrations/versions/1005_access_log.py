"""access log: who read which case, when, from where

Revision ID: 1005
Revises: 1004
Create Date: 2026-12-02

Reserved in advance so that parallel work does not collide on revision numbers; the owner
fills in upgrade() and downgrade().
"""

from __future__ import annotations

revision = "1005"
down_revision = "1004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
