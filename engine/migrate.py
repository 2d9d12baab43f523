"""`nadzor db upgrade`: Alembic migrations driven from code, no alembic.ini to keep in sync.

The engine's own tables have their versions here; the domain adds its version folder
(`workflows/migrations/versions`) through `extra_locations`, so the engine never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from .db import ensure_sqlite_dir

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, extra_locations: Sequence[Path] = ()) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    locations = [MIGRATIONS_DIR / "versions", *extra_locations]
    cfg.set_main_option("version_locations", " ".join(str(p) for p in locations))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(
    database_url: str, extra_locations: Sequence[Path] = (), revision: str = "heads"
) -> None:
    if database_url.startswith("sqlite"):
        ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url, extra_locations), revision)
