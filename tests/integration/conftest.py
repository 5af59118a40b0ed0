"""Shared fixtures of the integration tests: sandbox PBXs on 127.0.0.1, on free ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.artifacts import FolderArtifactStore
from adapters.sandbox import SandboxConfig, start_sandbox
from domain.application import RewindApplication
from domain.host import HostSettings
from projections.service import ViewsService
from tests.support.stores import StoreTarget

SandboxFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def sandbox_factory() -> AsyncIterator[SandboxFactory]:
    """Start sandboxes with ``await sandbox_factory(users=3, seed=2)``; returns the base URL.

    Every sandbox started is stopped when the test ends.
    """
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> str:
        runner, url = await start_sandbox(SandboxConfig(port=0, **overrides))
        runners.append(runner)
        return url

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def sandbox_url(sandbox_factory: SandboxFactory) -> str:
    """A small default sandbox: 2 tenants, 2 groups each, 4 users per group, 4 KiB files."""
    return await sandbox_factory(users=4, media_kb=4)


@pytest.fixture
async def service(store: StoreTarget) -> AsyncIterator[tuple[RewindApplication, ViewsService]]:
    """An application and its running views on each kind of store."""
    app = store.open()
    views = ViewsService(store.settings())
    task = asyncio.create_task(views.run())
    try:
        while views.runner is None:
            await asyncio.sleep(0.01)
        yield app, views
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        app.close()


@pytest.fixture
def app(store: StoreTarget) -> Iterator[RewindApplication]:
    """An application on each kind of store, with the default host registered."""
    application = store.open()
    application.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "a")
    yield application
    application.close()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[RewindApplication]:
    """An application on a fresh SQLite store (a test module may pin its own)."""
    application = StoreTarget.sqlite(tmp_path / "data").open()
    yield application
    application.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> FolderArtifactStore:
    """A fresh folder artifact store beside the test's data."""
    return FolderArtifactStore(tmp_path / "artifacts")
