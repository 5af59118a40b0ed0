"""Cancels that land at awkward moments, with the real worker, the sandbox PBX over HTTP and
a real artifact store.

- After the worker recorded the last entity but before it completed the backup: the backup
  ends FAILED "cancelled", never SUCCESS. The moment is made deterministic by the artifact
  store: the worker writes the manifest after the last entity's progress and before it
  completes the job, so a store that lets a client cancel the backup (through an application
  of its own, as the API would) just before writing the manifest lands the cancel exactly in
  that window. Everything else is the real thing. On each kind of event store.
- Just before the PBX answers the calls in flight: the worker abandons them and starts no
  other call, not even the next call of an entity it was fetching (the sandbox's ``_stats``
  tells when its latest request arrived).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.artifacts import FolderArtifactStore
from adapters.worker import Worker
from domain.application import RewindApplication
from domain.backup import Backup
from tests.integration.conftest import SandboxFactory
from tests.integration.test_worker import (
    PROGRESS,
    get_json,
    group_spec,
    history_types,
    register,
    request,
    running,
    wait_backup,
)
from tests.support.stores import StoreTarget


class CancelBeforeManifest(FolderArtifactStore):
    """The real artifact store; a client cancels ``backup_id`` as the worker starts writing
    its manifest."""

    def __init__(self, root: Path, client: RewindApplication) -> None:
        super().__init__(root)
        self.client = client
        self.backup_id: UUID | None = None
        self.seen: Backup | None = None

    def write_manifest(self, *args: Any, **kwargs: Any) -> Path:
        if self.backup_id is not None and self.seen is None:
            self.seen = self.client.get_backup(self.backup_id)
            self.client.cancel(self.backup_id, "alice")
        return super().write_manifest(*args, **kwargs)


async def test_a_cancel_after_the_last_entity_ends_failed_cancelled_never_success(
    store: StoreTarget, tmp_path: Path, sandbox_factory: SandboxFactory
) -> None:
    worker_app, client_app = store.open(), store.open()
    try:
        register(client_app, await sandbox_factory(tenants=1, groups=1, users=3))
        artifacts = CancelBeforeManifest(tmp_path / "artifacts", client_app)
        spec = group_spec(group_entities=("profile", "ivr"), user_entities=("voice_mail",))
        backup_id = await request(client_app, spec)
        artifacts.backup_id = backup_id
        worker = Worker(worker_app, artifacts, worker_id="w1")
        async with running(worker):
            worker.nudge()
            backup = await wait_backup(client_app, backup_id, lambda b: not b.is_active)
        types = [t for t, _ in await history_types(client_app, backup_id)]
    finally:
        worker_app.close()
        client_app.close()

    # The cancel landed when every entity was recorded and the job was still running.
    seen = artifacts.seen
    assert seen is not None, "the worker never wrote a manifest"
    assert seen.status == "IN_PROGRESS" and seen.total == 5 and seen.done == 5

    assert (backup.status, backup.failure_reason) == ("FAILED", "cancelled")
    assert not backup.is_valid
    assert "Job.Completed" not in types
    assert types[-2:] == ["Job.CancelRequested", "Job.CancelAcknowledged"]
    assert len([t for t in types if t in PROGRESS]) == 1 + 5
    # A FAILED backup keeps no manifest (it would pin its blobs for ever).
    assert artifacts.read_manifest(str(backup_id)) is None


async def test_a_cancel_just_before_the_pbx_answers_starts_no_other_call(
    tmp_path: Path, sandbox_factory: SandboxFactory
) -> None:
    """Each entity here takes two calls (the announcements document, then its audio file):
    the cancel lands a moment before the first calls are answered, so a worker that let its
    in-flight entities go on would start their second calls after the cancel."""
    latency = 1.0
    url = await sandbox_factory(tenants=1, groups=1, users=4, latency_ms=latency * 1000)
    store = StoreTarget.sqlite(tmp_path / "data")
    app = store.open()
    try:
        register(app, url)
        spec = group_spec(user_entities=("announcements",), download_files=True)
        backup_id = await request(app, spec)
        worker = Worker(app, FolderArtifactStore(tmp_path / "artifacts"), worker_id="w1")
        async with running(worker):
            worker.nudge()
            await wait_backup(app, backup_id, lambda b: b.total is not None or not b.is_active)
            stats = await get_json(f"{url}/1.0/_stats")
            while stats["in_flight"] < 4:  # the four documents are being fetched
                await asyncio.sleep(0.02)
                stats = await get_json(f"{url}/1.0/_stats")
            answered_at = stats["last_started_at"] + latency
            await asyncio.sleep(max(0.0, answered_at - 0.3 - time.time()))
            await asyncio.to_thread(app.cancel, backup_id, "alice")
            cancelled_at = time.time()
            worker.nudge()
            backup = await wait_backup(app, backup_id, lambda b: not b.is_active)
            await asyncio.sleep(latency)  # time enough for any further call to show
            stats = await get_json(f"{url}/1.0/_stats")
    finally:
        app.close()

    assert (backup.status, backup.failure_reason) == ("FAILED", "cancelled")
    assert backup.done == 0
    assert stats["last_started_at"] < cancelled_at, "a PBX call started after the cancel"
    assert stats["in_flight"] == 0
