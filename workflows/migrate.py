"""Migrate engine and domain tables together (what `nadzor db upgrade` runs)."""

from __future__ import annotations

from pathlib import Path

from engine.migrate import upgrade as engine_upgrade

DOMAIN_VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"


def upgrade(database_url: str, revision: str = "heads") -> None:
    engine_upgrade(database_url, [DOMAIN_VERSIONS], revision)
