"""A cancel that lands after the worker recorded the last entity but before it completed the
backup: the backup ends FAILED "cancelled", never SUCCESS. The real worker, the sandbox PBX
over HTTP, a real artifact store and each kind of event store.

The moment is made deterministic by the artifact store: the worker writes the manifest after
the last entity's progress and before it completes the job, so a store that lets a client
cancel the backup (through an application of its own, as the API would) just before writing
the manifest lands the cancel exactly in that window. Everything else is the real thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.artifacts import ArtifactStore
from adapters.worker import Worker
from domain.application import RewindApplication
from domain.backup import Backup
from tests.integration.conftest import SandboxFactory
from tests.integration.test_worker import (
    PROGRESS,
    group_spec,
    history_types,
    register,
    request,
    running,
    wait_backup,
)
from tests.support.stores import StoreTarget


class CancelBeforeManifest(ArtifactStore):
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
