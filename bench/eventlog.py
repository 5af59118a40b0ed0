"""P4's input: an event log of N events written fast and cached under the bench root.

The log is what a busy server accumulates: backups of 1,000 entities each (requested,
claimed, scope resolved, one EntitySucceeded per entity, completed), written through the
application and the domain aggregates (so the events are real, serialised by the real
mapper) but with one save per backup run instead of one per entity. A finished log is
marked with a ``complete`` file and reused by later runs asking for the same N."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from adapters.event_store import open_application
from adapters.settings import Settings
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope

ENTITIES_PER_BACKUP = 1000
OVERHEAD_EVENTS = 4
"""Requested, Claimed, ScopeResolved, Completed (plus the guards' events, not counted)."""


def cached_log(root: Path, events: int) -> tuple[Path, float | None]:
    """The data directory of a log with at least ``events`` events, and the seconds it
    took to write (None when it was reused from an earlier run)."""
    data_dir = root / f"p4-log-{events}"
    if (data_dir / "complete").exists():
        return data_dir, None
    shutil.rmtree(data_dir, ignore_errors=True)
    started = time.perf_counter()
    write_log(data_dir, events)
    (data_dir / "complete").write_text(str(events))
    return data_dir, time.perf_counter() - started


def write_log(data_dir: Path, events: int) -> None:
    app = open_application(Settings(data_dir=data_dir))
    try:
        app.register_host("default", HostSettings(name="d", base_url="http://x"), "bench")
        written, run = app.current_position(), 0
        while written < events:
            per = max(1, min(ENTITIES_PER_BACKUP, events - written - OVERHEAD_EVENTS))
            scope = Scope(host_id="default", tenant_id="t01", group_id=f"t01-g{run % 99 + 1:02d}")
            backup = app.request_backup(BackupSpec(scope=scope), "bench")
            worker = "bench-worker"
            principal = f"worker:{worker}"
            backup.claim(worker, 30.0, principal)
            backup.resolve_scope(worker, per, principal)
            for index in range(per):
                key = f"t01/{scope.group_id}/user/u{index:05d}/profile"
                digest = hashlib.sha256(f"{run}/{index}".encode()).hexdigest()
                backup.record_success(worker, key, digest, 1, 0, principal)
            backup.complete(worker, per * 500, None, principal)
            app.save(backup, *app.release_guards(backup))
            written, run = app.current_position(), run + 1
    finally:
        app.close()
