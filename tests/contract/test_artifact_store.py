"""The artifact store port's promises, run against every implementation in STORES."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.ports.artifacts import (
    BlobCorruptError,
    BlobNotFoundError,
    Manifest,
    sha256_hex,
)
from tests.contract.implementations import STORES, StoreHarness


@pytest.fixture(params=sorted(STORES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHarness:
    return STORES[request.param](tmp_path)


def test_put_then_get_returns_the_bytes(harness: StoreHarness) -> None:
    store = harness.store
    data = os.urandom(50_000)
    ref = store.put_bytes(data)
    assert ref.digest == sha256_hex(data)
    assert ref.size == len(data) and ref.new
    assert store.has(ref.digest)
    assert store.read_bytes(ref.digest) == data
    assert store.verify(ref.digest).ok


def test_the_same_content_is_stored_once(harness: StoreHarness) -> None:
    store = harness.store
    first = store.put_bytes(b"greeting " * 1000)
    second = store.put_bytes(b"greeting " * 1000)
    assert second.digest == first.digest and not second.new
    assert list(store.iter_digests()) == [first.digest]


def test_streams_in_chunks_equal_the_content(harness: StoreHarness) -> None:
    store = harness.store
    data = os.urandom(300_000)

    async def source() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 7_000):
            yield data[start : start + 7_000]

    async def roundtrip() -> tuple[str, list[bytes]]:
        ref = await store.put_stream(source())
        return ref.digest, [chunk async for chunk in store.aiter_chunks(ref.digest, 10_000)]

    digest, async_chunks = asyncio.run(roundtrip())
    assert digest == sha256_hex(data)
    assert b"".join(async_chunks) == data
    chunks = list(store.iter_chunks(digest, 10_000))
    assert len(chunks) > 1 and all(len(chunk) <= 10_000 for chunk in chunks)
    assert b"".join(chunks) == data


def test_a_damaged_blob_is_refused_on_read(harness: StoreHarness) -> None:
    store = harness.store
    ref = store.put_bytes(os.urandom(100_000))
    harness.damage(ref.digest)
    assert store.verify(ref.digest).status == "corrupt"
    with pytest.raises(BlobCorruptError):
        store.read_bytes(ref.digest)
    with pytest.raises(BlobCorruptError):
        b"".join(store.iter_chunks(ref.digest))


def test_missing_blobs_say_so(harness: StoreHarness) -> None:
    store = harness.store
    digest = sha256_hex(b"never stored")
    assert not store.has(digest)
    assert store.verify(digest).status == "missing"
    with pytest.raises(BlobNotFoundError):
        store.read_bytes(digest)
    assert store.read_manifest("never-written") is None


def test_bad_digests_and_backup_ids_are_refused(harness: StoreHarness) -> None:
    store = harness.store
    with pytest.raises(ValueError):
        store.read_bytes("../../etc/passwd")
    with pytest.raises(ValueError):
        store.read_manifest("../escape")


def test_delete_removes_one_blob(harness: StoreHarness) -> None:
    store = harness.store
    gone, kept = store.put_bytes(b"gone"), store.put_bytes(b"kept")
    assert store.delete(gone.digest)
    assert not store.has(gone.digest) and store.has(kept.digest)
    assert not store.delete(gone.digest)


def test_manifests_round_trip_and_are_listed(harness: StoreHarness) -> None:
    store = harness.store
    ivr = store.put_bytes(b'{"ivr": 1}').digest
    song = store.put_bytes(b"music on hold").digest
    manifest = Manifest(backup_id="b-1", entities={"group/ivr": ivr}, files={"t/g/media/m1": song})
    store.write_manifest(manifest)
    store.write_manifest(Manifest(backup_id="b-2", entities={"group/ivr": ivr}))
    assert store.read_manifest("b-1") == manifest
    assert store.list_manifests() == ["b-1", "b-2"]
    assert store.referenced_digests(exclude="b-2") == {ivr, song}
    assert store.location("b-1") and store.location("b-1") != store.location("b-2")
    assert store.size_on_disk(manifest) > 0
    assert store.delete_manifest("b-2")
    assert store.list_manifests() == ["b-1"]


def test_a_manifest_cannot_name_blobs_that_are_not_there(harness: StoreHarness) -> None:
    store = harness.store
    missing = Manifest(backup_id="b-1", entities={"group/ivr": sha256_hex(b"absent")})
    with pytest.raises(ValueError):
        store.write_manifest(missing)
    assert store.list_manifests() == []


def test_purge_keeps_blobs_another_backup_names(harness: StoreHarness) -> None:
    store = harness.store
    shared = store.put_bytes(b"shared").digest
    own = store.put_bytes(b"own").digest
    store.write_manifest(Manifest(backup_id="old", entities={"a": shared, "b": own}))
    store.write_manifest(Manifest(backup_id="new", entities={"a": shared}))
    result = store.purge("old")
    assert result.manifest_removed
    assert result.removed == [own] and result.kept == [shared]
    assert store.has(shared) and not store.has(own)


def test_a_committed_batch_is_kept(harness: StoreHarness) -> None:
    batch = harness.store.batch()
    refs = [batch.put(f"entity {n}".encode()) for n in range(5)]
    assert len(batch) == 5
    assert batch.commit() == 5
    reopened = harness.reopen()
    for n, ref in enumerate(refs):
        assert reopened.read_bytes(ref.digest) == f"entity {n}".encode()


def test_a_discarded_batch_leaves_nothing(harness: StoreHarness) -> None:
    batch = harness.store.batch()
    ref = batch.put(b"never kept")
    batch.discard()
    assert batch.commit() == 0
    reopened = harness.reopen()
    assert not reopened.has(ref.digest)
    assert list(reopened.iter_digests()) == []
    assert reopened.cleanup_temp(older_than=0) == 0


def test_a_fresh_store_is_writable(harness: StoreHarness) -> None:
    harness.store.check_writable()
    assert list(harness.store.iter_digests()) == []
