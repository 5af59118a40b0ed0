"""Secrets at rest: PBX credentials are sealed (Fernet, from the ``cryptography`` package)
before they enter an event, because the event log is append-only and would otherwise keep a
plain secret forever; the admin token is kept only as a hash.

The sealing key comes from ``REWIND_SECRET_KEY`` or, failing that, from ``secret.key`` in the
data directory, created on first use with mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

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


def admin_token_hash(data_dir: Path, env_token: str | None) -> tuple[str, str | None]:
    """The admin token's hash, and the token itself when it was created just now (so it can
    be printed once). ``REWIND_ADMIN_TOKEN`` wins; otherwise a token is made on first start
    and only its hash is kept in the data directory."""
    if env_token:
        return hash_token(env_token), None
    path = data_dir / ADMIN_TOKEN_HASH_FILE
    if path.exists():
        return path.read_text().strip(), None
    token = new_token()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(hash_token(token))
    return hash_token(token), token
