"""Group commit of a backup's progress (adapters/worker/progress_batch.py) on real stores:
outcomes handed in concurrently are saved together, yet each entity keeps its own event
and each caller its own answer or refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from adapters.artifacts import FolderArtifactStore
from adapters.worker.progress_batch import ProgressBatcher
from domain.application import JobHandle, RewindApplication
from domain.backup import BackupSpec
from domain.errors import IllegalMove
from domain.job import Job
from domain.progress import ProgressRecord
from domain.scope import Scope

WORKER = "w1"


def held_backup(app: RewindApplication, entities: int) -> JobHandle:
    scope = Scope(host_id="default", tenant_id="t01", group_id="t01-g01")
    backup = app.request_backup(BackupSpec(scope=scope), "test")
    app.claim(backup.id, WORKER, 30.0)
    handle = app.hold(backup.id, WORKER)
    handle.resolve_scope(entities)
    return handle


def record(index: int) -> ProgressRecord:
    key = f"t01/t01-g01/user/u{index:03d}/profile"
    if index % 3 == 0:
        return ProgressRecord(key=key, outcome="error", message=f"boom {index}", error_calls=1)
    return ProgressRecord(key=key, outcome="success", digest=f"{index:064x}", successful_calls=1)


def progress_events(app: RewindApplication, handle: JobHandle) -> list[tuple[str, str]]:
    entries = app.history(handle.job.id)
    return [(e.type, e.payload["key"]) for e in entries if "key" in e.payload]


async def test_concurrent_outcomes_each_get_their_own_event(app: RewindApplication) -> None:
    handle = held_backup(app, 40)
    batcher = ProgressBatcher(handle)
    await asyncio.gather(*(batcher.record(record(i)) for i in range(40)))
    events = progress_events(app, handle)
    assert sorted(key for _, key in events) == sorted(record(i).key for i in range(40))
    assert sum(1 for kind, _ in events if kind == "Job.EntityFailed") == 14
    stored = app.get_job(handle.job.id)
    assert stored.outcomes[record(3).key].message == "boom 3"
    assert stored.outcomes[record(4).key].digest == f"{4:064x}"
    assert stored.successful_calls == 26 and stored.error_calls == 14


async def test_an_outcome_already_recorded_is_not_recorded_twice(app: RewindApplication) -> None:
    handle = held_backup(app, 3)
    batcher = ProgressBatcher(handle)
    await batcher.record(record(1))
    await asyncio.gather(batcher.record(record(1)), batcher.record(record(2)))
    keys = [key for _, key in progress_events(app, handle)]
    assert keys == [record(1).key, record(2).key]


async def test_a_cancelled_job_refuses_every_caller(app: RewindApplication) -> None:
    handle = held_backup(app, 10)
    batcher = ProgressBatcher(handle)
    await batcher.record(record(1))
    app.cancel(handle.job.id, "someone")
    results = await asyncio.gather(
        *(batcher.record(record(i)) for i in range(2, 8)), return_exceptions=True
    )
    assert all(isinstance(r, IllegalMove) for r in results)
    assert [key for _, key in progress_events(app, handle)] == [record(1).key]
    assert set(handle.job.outcomes) == {record(1).key}  # the held copy was reloaded


async def test_blobs_are_durable_before_the_batch_that_records_them(
    app: RewindApplication, tmp_path: Path
) -> None:
    """The run's hook commits the deferred blobs in the saving thread before each save: at
    the moment an outcome's event is written, its blob is under its digest name; when the
    commit fails, the batch is refused and nothing is recorded."""
    store = FolderArtifactStore(tmp_path / "artifacts")
    blobs = store.deferred()
    handle = held_backup(app, 10)
    seen_at_save: list[bool] = []
    recorded = handle.record_outcomes

    def record_outcomes(records: Sequence[ProgressRecord]) -> Job:
        seen_at_save.extend(store.has(r.digest) for r in records if r.digest)
        return recorded(records)

    handle.record_outcomes = record_outcomes  # type: ignore[method-assign]
    batcher = ProgressBatcher(handle, before_save=blobs.commit)
    refs = [store.put_bytes(f"entity {i}".encode(), blobs) for i in range(6)]
    await asyncio.gather(
        *(
            batcher.record(ProgressRecord(key=f"k/{i}", outcome="success", digest=ref.digest))
            for i, ref in enumerate(refs)
        )
    )
    assert seen_at_save == [True] * 6

    def broken() -> None:
        raise OSError(28, "No space left on device")

    failing = ProgressBatcher(handle, before_save=broken)
    ref = store.put_bytes(b"entity 9", blobs)
    done = ProgressRecord(key="k/9", outcome="success", digest=ref.digest)
    with pytest.raises(OSError, match="No space"):
        await failing.record(done)
    assert "k/9" not in app.get_job(handle.job.id).outcomes
