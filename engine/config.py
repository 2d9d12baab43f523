"""Settings read from the environment, so one build runs embedded or against PostgreSQL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    bpmn_dir: Path

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'nadzor.db'}"


def load_settings() -> Settings:
    """Read NADZOR_* variables; defaults give the embedded SQLite set-up of `make run`."""
    return Settings(
        database_url=os.environ.get("NADZOR_DATABASE_URL") or default_database_url(),
        secret_key=os.environ.get("NADZOR_SECRET_KEY") or "dev-only-insecure-key",
        bpmn_dir=Path(os.environ.get("NADZOR_BPMN_DIR") or PROJECT_ROOT / "bpmn"),
    )
