"""Secrets at rest: PBX credentials are sealed (Fernet, from the ``cryptography`` package)
before they enter an event, because the event log is append-only and would otherwise keep a
plain secret forever; API tokens are kept only as hashes (a SHA-256 of 256 random bits
cannot be reversed; a chosen ``REWIND_ADMIN_TOKEN`` should be as long).

The sealing key comes from ``REWIND_SECRET_KEY`` or, failing that, from ``secret.key`` in the
data directory, created on first use with mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken

log = structlog.get_logger("rewind.secrets")

KEY_FILE = "secret.key"
ADMIN_TOKEN_HASH_FILE = "admin-token.sha256"


class Sealer:
    """Seals and unseals short secrets with one key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("sealed value cannot be opened with this key") from None


def load_sealer(data_dir: Path, env_key: str | None = None) -> Sealer:
    """The sealer for this installation (see module docstring for where the key lives)."""
    key = env_key or os.environ.get("REWIND_SECRET_KEY")
    if key:
        return Sealer(key.encode())
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
            handle.flush()
            os.fsync(handle.fileno())
    return Sealer(path.read_bytes().strip())


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def new_token() -> str:
    return "rw_" + secrets.token_urlsafe(32)


def legacy_admin_token_hash(data_dir: Path) -> str | None:
    """The admin token hash an older ``rewind serve`` kept in the data directory, if any:
    such an installation keeps its admin token when the token store takes over."""
    path = data_dir / ADMIN_TOKEN_HASH_FILE
    return path.read_text().strip() if path.exists() else None


def admin_token_hash(env_token: str | None) -> str | None:
    """The hash of ``REWIND_ADMIN_TOKEN`` when it is set (it pins the bootstrap admin token)."""
    return hash_token(env_token) if env_token else None


def open_credentials(sealer: Sealer | None, sealed: str | None) -> str | None:
    """A host's credentials in the clear, for the PBX client's Authorization header only.
    None when the host has none, or when they cannot be opened (no key, another key): the
    PBX then refuses the calls and the job records those errors; the log says why, without
    the secret."""
    if sealed is None:
        return None
    if sealer is None:
        log.error("host credentials are sealed but this process has no sealing key")
        return None
    try:
        return sealer.unseal(sealed)
    except ValueError:
        log.error("host credentials cannot be opened with this key (REWIND_SECRET_KEY?)")
        return None
