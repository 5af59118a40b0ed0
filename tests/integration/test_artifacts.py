"""Artifact store against real files: dedup, streaming, verification, purge, crash leftovers."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from adapters.artifacts import (
    BlobCorruptError,
    BlobNotFoundError,
    FolderArtifactStore,
    Manifest,
    ManifestCorruptError,
)
from adapters.artifacts._fs import is_temp_name
from tests.support.forkserver import racer_context


@pytest.fixture
def store(tmp_path: Path) -> FolderArtifactStore:
    return FolderArtifactStore(tmp_path / "artifacts")


def _blob_files(store: FolderArtifactStore) -> list[Path]:
    return sorted(p for p in store.blobs_dir.rglob("*.zst") if not is_temp_name(p.name))


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _generated_blocks(total: int, chunk: int = 65536) -> Iterator[bytes]:
    """Deterministic content, half random and half zeros, so it compresses about 2:1."""
    rng = random.Random(1234)
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        half = size // 2
        yield rng.randbytes(half) + bytes(size - half)
        sent += size


async def _generated(total: int) -> AsyncIterator[bytes]:
    for block in _generated_blocks(total):
        yield block


def _generated_digest(total: int) -> str:
    hasher = hashlib.sha256()
    for block in _generated_blocks(total):
        hasher.update(block)
    return hasher.hexdigest()


# -- put / read ------------------------------------------------------------------------------


def test_put_bytes_round_trip(store: FolderArtifactStore) -> None:
    data = b"ivr menu " * 1000
    ref = store.put_bytes(data)
    assert ref.digest == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert ref.new
    assert ref.stored_size == store.stored_size(ref.digest) < len(data)
    path = store.blob_path(ref.digest)
    assert path == store.root / "blobs" / ref.digest[:2] / f"{ref.digest}.zst"
    assert path.is_file()
    assert store.has(ref.digest)
    assert store.read_bytes(ref.digest) == data
    assert b"".join(store.iter_chunks(ref.digest, chunk_size=100)) == data
    assert all(len(c) <= 100 for c in store.iter_chunks(ref.digest, chunk_size=100))
    assert store.verify(ref.digest).ok


def test_empty_content(store: FolderArtifactStore) -> None:
    ref = store.put_bytes(b"")
    assert ref.digest == hashlib.sha256(b"").hexdigest()
    assert store.read_bytes(ref.digest) == b""
    assert store.verify(ref.digest).status == "ok"


def test_same_content_is_stored_once(store: FolderArtifactStore) -> None:
    data = os.urandom(5000)
    first = store.put_bytes(data)
    files_before = _all_files(store.root)
    stats_before = store.stats
    second = store.put_bytes(data)
    assert second.digest == first.digest
    assert not second.new
    assert second.stored_size == first.stored_size
    assert _all_files(store.root) == files_before
    stats = store.stats
    assert stats.bytes_deduplicated == stats_before.bytes_deduplicated + len(data)
    assert stats.bytes_written == stats_before.bytes_written
    assert stats.blobs_written == stats_before.blobs_written == 1


async def test_put_stream_round_trip_and_dedup_with_put_bytes(store: FolderArtifactStore) -> None:
    data = os.urandom(300_000) + b"\0" * 300_000
    ref = await store.put_stream(_chunks(data, 4096), batch_size=50_000)
    assert ref.digest == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert ref.new
    assert ref.stored_size == store.stored_size(ref.digest)
    assert store.read_bytes(ref.digest) == data
    assert store.verify(ref.digest).ok
    # the same content through either entry point is the same blob
    again = store.put_bytes(data)
    assert (again.digest, again.new) == (ref.digest, False)
    streamed = await store.put_stream(_chunks(data, 65536))
    assert not streamed.new
    assert store.stats.blobs_written == 1
    assert store.stats.bytes_deduplicated == 2 * len(data)
    assert len(_blob_files(store)) == 1
    assert not [p for p in store.root.rglob("*") if is_temp_name(p.name)]


async def test_put_stream_of_50_mb_stays_small_in_memory(store: FolderArtifactStore) -> None:
    total = 50 * 1024 * 1024
    tracemalloc.start()
    try:
        ref = await store.put_stream(_generated(total))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref.size == total
    assert ref.digest == _generated_digest(total)
    assert total // 3 < ref.stored_size < total  # really compressed, really written
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"
    assert store.verify(ref.digest).ok
    # reading back streams too
    tracemalloc.start()
    try:
        seen = sum(len(c) for c in store.iter_chunks(ref.digest))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == total
    assert peak < 8 * 1024 * 1024, f"read peak {peak} bytes"


async def test_aiter_chunks(store: FolderArtifactStore) -> None:
    data = os.urandom(200_000)
    ref = store.put_bytes(data)
    pieces = [c async for c in store.aiter_chunks(ref.digest, chunk_size=30_000)]
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) <= 30_000
    stream = store.aiter_chunks(ref.digest, chunk_size=1000)
    async for first in stream:  # a consumer that stops early releases the file
        assert first == data[:1000]
        break
    await stream.aclose()


async def test_failed_stream_leaves_nothing(store: FolderArtifactStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise ConnectionError("PBX went away")

    with pytest.raises(ConnectionError):
        await store.put_stream(broken(), batch_size=10)
    assert _all_files(store.root) == []


def test_missing_blob_errors(store: FolderArtifactStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.has(digest)
    with pytest.raises(BlobNotFoundError):
        store.read_bytes(digest)
    with pytest.raises(BlobNotFoundError):
        store.iter_chunks(digest)
    with pytest.raises(BlobNotFoundError):
        store.stored_size(digest)
    assert store.delete(digest) is False


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_writers_of_one_digest(store: FolderArtifactStore) -> None:
    data = os.urandom(1_000_000)
    barrier = threading.Barrier(8)
    refs = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            refs.append(store.put_bytes(data))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {r.digest for r in refs} == {hashlib.sha256(data).hexdigest()}
    assert any(r.new for r in refs)
    assert len(_blob_files(store)) == 1
    assert store.read_bytes(refs[0].digest) == data
    assert not [p for p in store.root.rglob("*") if is_temp_name(p.name)]


def _put_in_child(root: str, seed: int) -> tuple[str, bool]:
    """Run in a separate process: write the same content as every sibling."""
    ref = FolderArtifactStore(Path(root)).put_bytes(random.Random(seed).randbytes(3_000_000))
    return ref.digest, ref.new


def test_concurrent_writer_processes_of_one_digest(store: FolderArtifactStore) -> None:
    ctx = racer_context(__name__)
    with ProcessPoolExecutor(max_workers=4, mp_context=ctx) as pool:
        results = list(pool.map(_put_in_child, [str(store.root)] * 4, [7] * 4))
    assert len({digest for digest, _ in results}) == 1
    digest = results[0][0]
    assert len(_blob_files(store)) == 1
    assert store.verify(digest).ok
    assert store.read_bytes(digest) == random.Random(7).randbytes(3_000_000)
    assert not [p for p in store.root.rglob("*") if is_temp_name(p.name)]


async def test_concurrent_streams_of_one_digest(store: FolderArtifactStore) -> None:
    data = os.urandom(2_000_000)
    refs = await asyncio.gather(
        *(store.put_stream(_chunks(data, 65536), batch_size=200_000) for _ in range(6))
    )
    assert len({r.digest for r in refs}) == 1
    assert len(_blob_files(store)) == 1
    assert store.verify(refs[0].digest).ok
    assert not [p for p in store.root.rglob("*") if is_temp_name(p.name)]


# -- verification ----------------------------------------------------------------------------


def test_verify_reports_missing_after_delete(store: FolderArtifactStore) -> None:
    ref = store.put_bytes(b"voice mail greeting")
    store.blob_path(ref.digest).unlink()
    check = store.verify(ref.digest)
    assert check.status == "missing"
    assert not check.ok


def test_verify_reports_flipped_byte_as_corrupt(store: FolderArtifactStore) -> None:
    ref = store.put_bytes(os.urandom(100_000))
    path = store.blob_path(ref.digest)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    check = store.verify(ref.digest)
    assert check.status == "corrupt"
    assert check.reason
    with pytest.raises(BlobCorruptError):
        store.read_bytes(ref.digest)


@pytest.mark.parametrize("keep", [0, 3, 10, "half", "all-but-one"])
def test_verify_reports_truncation_as_corrupt(store: FolderArtifactStore, keep: int | str) -> None:
    ref = store.put_bytes(b"announcement " * 20_000)
    path = store.blob_path(ref.digest)
    raw = path.read_bytes()
    cut = {"half": len(raw) // 2, "all-but-one": len(raw) - 1}.get(str(keep), keep)
    assert isinstance(cut, int)
    path.write_bytes(raw[:cut])
    check = store.verify(ref.digest)
    assert check.status == "corrupt", check
    assert check.reason


def test_verify_reports_trailing_garbage_and_wrong_content(store: FolderArtifactStore) -> None:
    ref = store.put_bytes(b"profile")
    path = store.blob_path(ref.digest)
    path.write_bytes(path.read_bytes() + b"junk")
    assert store.verify(ref.digest).status == "corrupt"
    # a valid zstd file holding other content is corrupt too
    other = store.put_bytes(b"other profile")
    path.write_bytes(store.blob_path(other.digest).read_bytes())
    check = store.verify(ref.digest)
    assert check.status == "corrupt"
    assert other.digest in (check.reason or "")


def test_verify_garbage_file_is_corrupt_not_an_exception(store: FolderArtifactStore) -> None:
    ref = store.put_bytes(b"phone book")
    store.blob_path(ref.digest).write_bytes(b"this is not zstd at all")
    assert store.verify(ref.digest).status == "corrupt"


# -- manifests and purge ---------------------------------------------------------------------


def _backup(store: FolderArtifactStore, backup_id: str, contents: dict[str, bytes]) -> Manifest:
    entities = {key: store.put_bytes(data).digest for key, data in contents.items()}
    manifest = Manifest(backup_id=backup_id, entities=entities, formats=["json"])
    store.write_manifest(manifest)
    return manifest


def test_manifest_round_trip_and_canonical_json(store: FolderArtifactStore) -> None:
    digest = store.put_bytes(b"recording").digest
    manifest = Manifest(
        backup_id="b-1",
        entities={"user/u1/voice_mail": digest, "group/ivr": digest},
        files={"recordings/r1.wav": digest},
        formats=["json", "xml"],
        meta={"kind": "CONFIG"},
    )
    path = store.write_manifest(manifest)
    assert store.content_path("b-1") == str(path) == str(store.root / "manifests" / "b-1.json")
    assert store.read_manifest("b-1") == manifest
    raw = path.read_bytes()
    assert raw.startswith(b'{"backup_id":"b-1","entities":{"group/ivr"')
    assert b" " not in raw
    reordered = Manifest(
        backup_id="b-1",
        entities={"group/ivr": digest, "user/u1/voice_mail": digest},
        files={"recordings/r1.wav": digest},
        formats=["json", "xml"],
        meta={"kind": "CONFIG"},
    )
    assert reordered.to_json() == raw
    assert store.list_manifests() == ["b-1"]
    assert store.read_manifest("b-2") is None
    assert store.delete_manifest("b-1")
    assert not store.delete_manifest("b-1")
    assert store.list_manifests() == []


def test_manifest_requires_its_blobs(store: FolderArtifactStore) -> None:
    missing = hashlib.sha256(b"nope").hexdigest()
    with pytest.raises(ValueError, match="missing"):
        store.write_manifest(Manifest(backup_id="b", entities={"group/ivr": missing}))
    store.write_manifest(
        Manifest(backup_id="b", entities={"group/ivr": missing}), require_blobs=False
    )


def test_second_backup_of_unchanged_data_adds_only_its_manifest(store: FolderArtifactStore) -> None:
    contents = {"group/ivr": b"ivr" * 500, "group/profile": b"profile" * 500}
    _backup(store, "b1", contents)
    written = store.stats.bytes_written
    blobs = _blob_files(store)
    _backup(store, "b2", contents)
    assert store.stats.bytes_written == written
    assert _blob_files(store) == blobs
    assert store.list_manifests() == ["b1", "b2"]


def test_purge_keeps_shared_blobs(store: FolderArtifactStore) -> None:
    m1 = _backup(store, "b1", {"group/ivr": b"shared", "group/profile": b"only in b1"})
    m2 = _backup(store, "b2", {"group/ivr": b"shared", "group/profile": b"only in b2"})
    shared = m1.entities["group/ivr"]
    only_b1 = m1.entities["group/profile"]
    assert store.referenced_digests(exclude="b1") == m2.digests()
    assert store.referenced_digests() == m1.digests() | m2.digests()

    result = store.purge("b1")
    assert result.manifest_removed
    assert result.removed == [only_b1]
    assert result.kept == [shared]
    assert result.bytes_freed > 0
    assert not store.has(only_b1)
    assert store.has(shared)
    assert store.read_manifest("b1") is None
    assert all(store.verify(d).ok for d in m2.digests())

    again = store.purge("b1")  # idempotent
    assert not again.manifest_removed
    assert again.removed == []

    last = store.purge("b2")
    assert sorted(last.removed) == sorted(m2.digests())
    assert _blob_files(store) == []
    assert store.list_manifests() == []


def test_purge_grace_defers_recent_blobs_and_gc_collects_them(store: FolderArtifactStore) -> None:
    manifest = _backup(store, "b1", {"group/ivr": b"ivr"})
    digest = manifest.entities["group/ivr"]
    result = store.purge("b1", grace_seconds=3600)
    assert result.deferred == [digest]
    assert store.has(digest)
    assert store.collect_garbage(grace_seconds=3600).removed == []
    old = time.time() - 7200
    os.utime(store.blob_path(digest), (old, old))
    assert store.collect_garbage(grace_seconds=3600).removed == [digest]
    assert not store.has(digest)


def test_dedup_refreshes_blob_age(store: FolderArtifactStore) -> None:
    """A blob reused by a running backup must look recent to a graceful purge."""
    ref = store.put_bytes(b"reused")
    old = time.time() - 7200
    os.utime(store.blob_path(ref.digest), (old, old))
    store.put_bytes(b"reused")
    assert store.blob_path(ref.digest).stat().st_mtime > old + 3600


def test_purge_refuses_to_guess_with_a_corrupt_manifest(store: FolderArtifactStore) -> None:
    _backup(store, "b1", {"group/ivr": b"ivr"})
    _backup(store, "b2", {"group/ivr": b"ivr"})
    store.manifest_path("b2").write_bytes(b"{not json")
    with pytest.raises(ManifestCorruptError):
        store.purge("b1")
    assert store.read_manifest("b1") is not None


def test_size_on_disk(store: FolderArtifactStore) -> None:
    manifest = _backup(
        store,
        "b1",
        {"group/ivr": b"x" * 10_000, "group/profile": b"y" * 10_000, "user/u1/p": b"x" * 10_000},
    )
    blobs = {d: store.stored_size(d) for d in manifest.digests()}
    assert len(blobs) == 2  # identical content counted once
    manifest_bytes = store.manifest_path("b1").stat().st_size
    assert store.size_on_disk(manifest) == sum(blobs.values()) + manifest_bytes


# -- path safety -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digest",
    ["../" + "a" * 61, "A" * 64, "a" * 63, "a" * 65, "a" * 64 + "\n", "/etc/passwd", ""],
)
def test_bad_digests_raise(store: FolderArtifactStore, digest: str) -> None:
    for call in (store.has, store.read_bytes, store.verify, store.delete, store.stored_size):
        with pytest.raises(ValueError):
            call(digest)
    with pytest.raises(ValueError):
        Manifest(backup_id="b", entities={"group/ivr": digest})


@pytest.mark.parametrize(
    "backup_id", ["..", "../x", "a/b", ".hidden", "", "a\\b", "x" * 200, "a\0b", "é"]
)
def test_bad_backup_ids_raise(store: FolderArtifactStore, backup_id: str) -> None:
    for call in (store.read_manifest, store.delete_manifest, store.purge, store.content_path):
        with pytest.raises(ValueError):
            call(backup_id)
    with pytest.raises(ValueError):
        Manifest(backup_id=backup_id)


# -- crash leftovers -------------------------------------------------------------------------


def test_crash_leftovers_are_invisible_and_cleaned(store: FolderArtifactStore) -> None:
    data = b"half written"
    digest = hashlib.sha256(data).hexdigest()
    shard = store.blob_path(digest).parent
    shard.mkdir(parents=True)
    # what a writer killed before its rename leaves behind
    leftover = shard / f".tmp-{os.getpid()}.deadbeef.part"
    leftover.write_bytes(b"\x28\xb5\x2f\xfdpartial")
    stream_leftover = store.blobs_dir / ".tmp-stream.1.cafe.part"
    stream_leftover.write_bytes(b"partial")
    store.manifests_dir.mkdir(parents=True)
    manifest_leftover = store.manifests_dir / ".tmp-1.f00d.part"
    manifest_leftover.write_bytes(b"{")

    assert not store.has(digest)
    assert store.verify(digest).status == "missing"
    assert list(store.iter_digests()) == []
    assert store.list_manifests() == []

    ref = store.put_bytes(data)  # the retried write succeeds alongside the leftover
    assert ref.new
    assert store.read_bytes(digest) == data

    assert store.cleanup_temp() == 0  # too recent: might belong to a live writer
    old = time.time() - 7200
    for path in (leftover, stream_leftover, manifest_leftover):
        os.utime(path, (old, old))
    assert store.cleanup_temp() == 3
    assert not leftover.exists()
    assert not stream_leftover.exists()
    assert not manifest_leftover.exists()
    assert store.read_bytes(digest) == data


def test_deferred_blobs_reach_their_names_only_when_committed(store: FolderArtifactStore) -> None:
    """A deferred put (no fsyncs of its own) is invisible under its digest until the batch
    is committed, so a crash before the commit can never leave a torn blob that a later
    backup would deduplicate against; a repeated content waits in the batch once."""
    batch = store.deferred()
    first = store.put_bytes(b"entity one", batch)
    again = store.put_bytes(b"entity one", batch)
    second = store.put_bytes(b"entity two", batch)
    assert first.new and not again.new and again.stored_size == first.stored_size
    assert len(batch) == 2
    assert not store.has(first.digest) and store.verify(second.digest).status == "missing"
    assert _blob_files(store) == []

    assert batch.commit() == 2 and len(batch) == 0
    assert store.read_bytes(first.digest) == b"entity one"
    assert store.read_bytes(second.digest) == b"entity two"
    assert store.verify(first.digest).ok and store.verify(second.digest).ok
    assert not [p for p in store.blobs_dir.rglob("*") if is_temp_name(p.name)]
    # stored already: a later deferred put of the same content writes nothing
    assert not store.put_bytes(b"entity one", store.deferred()).new


def test_discarded_deferred_blobs_leave_nothing(store: FolderArtifactStore) -> None:
    batch = store.deferred()
    ref = store.put_bytes(b"fetched, never recorded", batch)
    batch.discard()
    assert batch.commit() == 0
    assert not store.has(ref.digest)
    assert [p for p in store.blobs_dir.rglob("*") if p.is_file()] == []


def test_iter_digests_lists_stored_blobs(store: FolderArtifactStore) -> None:
    digests = {store.put_bytes(bytes([i]) * 10).digest for i in range(5)}
    assert set(store.iter_digests()) == digests
