"""The key that signs audit checkpoints, and where checkpoints are copied outside the database.

Whoever can write the database can recompute every hash in it; they cannot forge an Ed25519
signature without the private key, which lives in a file named by `NADZOR_AUDIT_KEY` and never in
the database. `NADZOR_AUDIT_LOG` names a file (one JSON line per checkpoint, append-only) or
`syslog` / `syslog:<address>`: a copy that catches the deletion of the newest checkpoints too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import logging.handlers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger("nadzor.audit")


class AuditKeyError(Exception):
    """A key file that cannot be used; the message says which and why."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: short enough for a table, unique to the key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """A public key from PEM; a private key's PEM gives its public half."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            key = private.public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"not a PEM key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("the key is not an Ed25519 key")
    return key


def verify_signature(public_key: Ed25519PublicKey, digest: str, signature: str | None) -> bool:
    """Whether `signature` (base64) is the key's signature of the hex `digest`."""
    if not signature:
        return False
    try:
        public_key.verify(base64.b64decode(signature, validate=True), digest.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    @property
    def public_pem(self) -> str:
        return public_pem(self.public)

    def sign(self, digest: str) -> str:
        return base64.b64encode(self.private.sign(digest.encode())).decode()

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise AuditKeyError(f"cannot read the audit key {path}: {exc.strerror}") from exc
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise AuditKeyError(f"{path} is not a PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(f"{path} is not an Ed25519 key")
        return cls(key)

    def write(self, path: Path) -> None:
        """Write the private key (owner-readable only) and `<path>.pub` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        Path(f"{path}.pub").write_text(self.public_pem, encoding="utf-8")


@dataclass(frozen=True)
class AuditSettings:
    """What signs checkpoints and where they are copied; verification uses the same key."""

    key: SigningKey | None = None
    #: a public key to check signatures with when this process does not hold the private key
    public_key: Ed25519PublicKey | None = None
    #: a file path, `syslog`, or `syslog:<host:port | socket path>`; None: no external copy
    log: str | None = None

    @property
    def verifying_key(self) -> Ed25519PublicKey | None:
        return self.key.public if self.key else self.public_key

    def write_log(self, entry: dict[str, Any]) -> bool:
        """Append one checkpoint to the external log; False (and logged) when it failed."""
        if not self.log:
            return False
        line = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        try:
            if self.log == "syslog" or self.log.startswith("syslog:"):
                _syslog(self.log).info("nadzor-checkpoint %s", line)
            else:
                with open(self.log, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError:
            log.exception("appending checkpoint %s to %s failed", entry.get("id"), self.log)
            return False
        return True

    def read_log(self) -> list[dict[str, Any]] | None:
        """The checkpoints copied to a log file (None: no file to read back; syslog is checked
        by whoever keeps it)."""
        if not self.log or self.log == "syslog" or self.log.startswith("syslog:"):
            return None
        path = Path(self.log)
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                entries.append(json.loads(line))
        return entries


_syslog_loggers: dict[str, logging.Logger] = {}


def _syslog(spec: str) -> logging.Logger:
    logger = _syslog_loggers.get(spec)
    if logger is None:
        target = spec.partition(":")[2] or "/dev/log"
        if ":" in target and not target.startswith("/"):
            host, _, port = target.rpartition(":")
            address: Any = (host, int(port))
        else:
            address = target
        logger = logging.getLogger(f"nadzor.audit.syslog.{len(_syslog_loggers)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.handlers.SysLogHandler(address=address))
        _syslog_loggers[spec] = logger
    return logger


_cache: dict[tuple[str | None, str | None, str | None], AuditSettings] = {}


def from_environment() -> AuditSettings:
    """NADZOR_AUDIT_KEY (private key file), NADZOR_AUDIT_PUBLIC_KEY (for a verifier without
    the private key) and NADZOR_AUDIT_LOG; read once per distinct value."""
    key_path = os.environ.get("NADZOR_AUDIT_KEY") or None
    pub_path = os.environ.get("NADZOR_AUDIT_PUBLIC_KEY") or None
    log_target = os.environ.get("NADZOR_AUDIT_LOG") or None
    cached = _cache.get((key_path, pub_path, log_target))
    if cached is not None:
        return cached
    key = SigningKey.load(Path(key_path)) if key_path else None
    public = None
    if pub_path:
        try:
            public = load_public_key(Path(pub_path).read_bytes())
        except OSError as exc:
            raise AuditKeyError(f"cannot read {pub_path}: {exc.strerror}") from exc
    settings = AuditSettings(key=key, public_key=public, log=log_target)
    _cache[(key_path, pub_path, log_target)] = settings
    return settings


def settings_of(engine: Any) -> AuditSettings:
    """The engine's audit settings (tests set `engine.audit`), else the environment's."""
    configured = getattr(engine, "audit", None)
    return configured if configured is not None else from_environment()
