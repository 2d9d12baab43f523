"""Settings read from the environment, so one build runs embedded or against PostgreSQL."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: where development mode keeps the key it generated (`make run` sets NADZOR_DEV=1)
DEV_SECRET_FILE = PROJECT_ROOT / "var" / "secret_key"


@dataclass(frozen=True)
class Settings:
    database_url: str
    #: NADZOR_SECRET_KEY, or None when it is not set (see `serving_secret_key`)
    secret_key: str | None
    bpmn_dir: Path

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class MissingSecretKey(Exception):
    """Serving was asked for without a session key; the message says what to set."""


#: the audit key `make run` generates for development (`nadzor audit keygen`); servers of record
#: keep theirs off the database host and name it with NADZOR_AUDIT_KEY
DEV_AUDIT_KEY_FILE = PROJECT_ROOT / "var" / "audit_key.pem"
#: the longest a step may stay outside a signed checkpoint (the issue's "at most a minute")
MAX_CHECKPOINT_SECONDS = 60


def checkpoint_seconds() -> int:
    """NADZOR_CHECKPOINT_SECONDS: how often the worker checkpoints what moved (1..60, 60)."""
    try:
        value = int(os.environ.get("NADZOR_CHECKPOINT_SECONDS") or MAX_CHECKPOINT_SECONDS)
    except ValueError:
        value = MAX_CHECKPOINT_SECONDS
    return max(1, min(value, MAX_CHECKPOINT_SECONDS))


def audit_verify_hours() -> float:
    """NADZOR_AUDIT_VERIFY_HOURS: how often the worker verifies the whole history (24; 0: never)."""
    try:
        return max(0.0, float(os.environ.get("NADZOR_AUDIT_VERIFY_HOURS") or 24))
    except ValueError:
        return 24.0


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'nadzor.db'}"


def development_mode() -> bool:
    """`NADZOR_DEV=1` (what `make run` sets): a local machine, not a server of record."""
    return os.environ.get("NADZOR_DEV") == "1"


def load_settings() -> Settings:
    """Read NADZOR_* variables; defaults give the embedded SQLite set-up of `make run`.

    There is no default session key: a key printed in the source lets anyone who reads the
    source sign a cookie as any user. `serving_secret_key` decides what serving does without one.
    """
    return Settings(
        database_url=os.environ.get("NADZOR_DATABASE_URL") or default_database_url(),
        secret_key=os.environ.get("NADZOR_SECRET_KEY") or None,
        bpmn_dir=Path(os.environ.get("NADZOR_BPMN_DIR") or PROJECT_ROOT / "bpmn"),
    )


def serving_secret_key(
    settings: Settings, *, dev_file: Path | None = None
) -> tuple[str, str | None]:
    """The key that signs session cookies, and a line to tell the operator (or None).

    NADZOR_SECRET_KEY wins. Without it, development mode generates a random key once into
    var/secret_key (readable by its owner only) and reuses it, so a restart keeps people signed
    in; anywhere else serving refuses with MissingSecretKey.
    """
    if settings.secret_key:
        return settings.secret_key, None
    if not development_mode():
        raise MissingSecretKey(
            "NADZOR_SECRET_KEY is not set: set it to a long random value (e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
            "or set NADZOR_DEV=1 on a development machine."
        )
    path = dev_file or DEV_SECRET_FILE
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= 32:
            return key, f"development mode: session key read from {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # created 0600 from the start: never readable by others, not even for a moment
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    return key, f"development mode: generated a session key in {path}"
