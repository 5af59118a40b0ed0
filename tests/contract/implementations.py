"""The implementations each port's contract runs against: add a new one to the list here.

An entry knows how to make its implementation over fresh storage, how to open a second
object over the same storage (to show what a put left behind is really kept), and how to
damage a stored blob (storage-specific, so only the entry can do it).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.artifacts import FolderArtifactStore
from adapters.pbx.client import PbxClient
from adapters.pbx.gateways import gateway_for
from adapters.sandbox import SandboxConfig, start_sandbox
from domain.ports.artifacts import ArtifactStore
from domain.ports.pbx import PbxGateway


@dataclass(frozen=True)
class StoreHarness:
    """One artifact store under test, plus the storage-specific hooks the contract needs."""

    store: ArtifactStore
    reopen: Callable[[], ArtifactStore]
    damage: Callable[[str], None]


def folder_store(tmp_path: Path) -> StoreHarness:
    root = tmp_path / "artifacts"
    store = FolderArtifactStore(root)

    def damage(digest: str) -> None:
        path = store.blob_path(digest)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
        os.sync()

    return StoreHarness(store, lambda: FolderArtifactStore(root), damage)


STORES: dict[str, Callable[[Path], StoreHarness]] = {"folder": folder_store}


@dataclass(frozen=True)
class PbxHarness:
    """One PBX gateway under test, talking to a real PBX of its kind with known content:
    tenant ``t01`` with group ``t01-g01`` holding users (sandbox seed data)."""

    gateway: PbxGateway
    tenant_id: str
    group_id: str
    close: Callable[[], Awaitable[None]]


async def tree_sandbox() -> PbxHarness:
    runner, url = await start_sandbox(SandboxConfig(port=0, tenants=1, groups=1, users=2))
    client = PbxClient(url)

    async def close() -> None:
        await client.close()
        await runner.cleanup()

    return PbxHarness(gateway_for(client, "tree"), "t01", "t01-g01", close)


GATEWAYS: dict[str, Callable[[], Awaitable[PbxHarness]]] = {"tree": tree_sandbox}
