"""Filesystem primitives shared by the blob and manifest halves of the artifact store.

Everything that turns a caller-supplied string into a path goes through the validators here,
so a digest or backup id can never name a file outside the store's root. Durable writes all
follow the same recipe (temporary name in the target directory, fsync, ``os.replace``, fsync
of the directory) so a crash leaves either the old state or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
import uuid
from pathlib import Path

from domain.ports.artifact_values import (
    BACKUP_ID_RE,
    DIGEST_RE,
    check_backup_id,
    check_digest,
)

__all__ = [
    "BACKUP_ID_RE",
    "DIGEST_RE",
    "check_backup_id",
    "check_digest",
]

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".part"
"""Temporary files are hidden and carry a suffix no final name has, so a reader never sees them."""


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary files (a leftover if nobody is writing it)."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def temp_path(directory: Path, hint: str = "") -> Path:
    """A fresh temporary path in ``directory``, unique across threads and processes."""
    tag = f"{hint}." if hint else ""
    return directory / f"{TEMP_PREFIX}{tag}{os.getpid()}.{uuid.uuid4().hex}{TEMP_SUFFIX}"


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to stable storage.

    Without it a rename can be lost on power failure even though the file's data was synced.
    Platforms that cannot open directories (Windows) have no such need and are skipped.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


_LIBC = ctypes.CDLL(None, use_errno=True)
_SYNCFS = getattr(_LIBC, "syncfs", None)


def sync_filesystem(path: Path) -> None:
    """Flush every pending write of the filesystem holding ``path`` to stable storage.

    One ``syncfs(2)`` makes a whole batch of files and renames durable at the cost of one
    journal commit, where an fsync per file and per directory costs one each (measured on large
    backups). Where ``syncfs`` is missing, ``os.sync`` does the same for every filesystem.
    """
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"syncfs {path}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) durably: a new entry is fsynced into its parent."""
    if directory.is_dir():
        return
    ensure_dir(directory.parent)
    with contextlib.suppress(FileExistsError):
        directory.mkdir()
    fsync_dir(directory.parent)


def unlink_quietly(path: Path) -> None:
    """Remove ``path`` if it exists; cleanup paths must never mask the original error."""
    with contextlib.suppress(OSError):
        path.unlink()


def write_atomic(final: Path, data: bytes) -> None:
    """Write ``data`` to ``final`` so that readers see the old file or the whole new one."""
    ensure_dir(final.parent)
    tmp = temp_path(final.parent)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        unlink_quietly(tmp)
        raise
    fsync_dir(final.parent)


def remove_durably(path: Path) -> bool:
    """Unlink ``path`` and fsync its directory; False if it was already gone."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def remove_temp_files(directories: list[Path], older_than: float) -> int:
    """Delete temporary leftovers older than ``older_than`` seconds in ``directories``.

    The age threshold protects temp files that a live writer (another thread, or another
    process sharing the data directory) is still filling.
    """
    cutoff = time.time() - older_than
    removed = 0
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            if not is_temp_name(entry.name):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def probe_writable(directory: Path, hint: str) -> None:
    """Create ``directory`` if needed, then write, sync and remove a small hidden file in it:
    raises the OSError (read-only, full, gone, not a directory) that the first real write
    would meet, so a start or a readiness probe can name the cause before any work fails."""
    path = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = temp_path(directory, hint)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        if path is not None:
            unlink_quietly(path)
