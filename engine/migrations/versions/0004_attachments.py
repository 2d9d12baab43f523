"""case attachments: files stored with their SHA-256

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Reserved in advance so that parallel work does not collide on revision numbers; the owner
fills in upgrade() and downgrade().
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
