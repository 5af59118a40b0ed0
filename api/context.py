"""What the request handlers share, kept on the aiohttp application under one key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from adapters.artifacts import ArtifactStore
from adapters.pbx_client import PbxCallFailed, PbxClient, PbxError, PbxNotFound
from adapters.process_metrics import READ_YOUR_WRITES_WAIT
from adapters.secrets import Sealer, open_credentials
from adapters.settings import Settings
from domain.application import RewindApplication
from domain.errors import NotFound
from domain.host import HostSettings
from projections.service import ViewsService

READ_YOUR_WRITES_TIMEOUT = 5.0

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    app: RewindApplication
    artifacts: ArtifactStore
    sealer: Sealer
    views: ViewsService
    nudge: Callable[[], None] = lambda: None
    ready: bool = False
    _probes: dict[tuple[str, str | None], PbxClient] = field(default_factory=dict)

    async def run(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an event-store command off the event loop, wake the worker, and answer only
        once every view has applied the command's events (read-your-writes)."""

        def call() -> tuple[T, int]:
            self.app.reset_saved_position()
            result = command(*args, **kwargs)
            return result, self.app.saved_position()

        result, position = await asyncio.to_thread(call)
        self.nudge()
        if position:
            with READ_YOUR_WRITES_WAIT.time():
                await self.views.waiter.wait(position, READ_YOUR_WRITES_TIMEOUT)
        return result

    async def query(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(query, *args, **kwargs)

    def host_credentials(self, host: HostSettings) -> str | None:
        """The host's credentials in the clear, for a PBX client's header only."""
        return open_credentials(self.sealer, host.sealed_credentials)

    async def check_scope_exists(
        self,
        base_url: str,
        tenant_id: str | None,
        group_id: str | None,
        host: HostSettings | None = None,
    ) -> None:
        """Refuse (404 naming the field) a tenant or group the host does not have. An
        unreachable host is not a reason to refuse: the worker will report it. ``host``
        supplies the credentials to ask with."""
        if tenant_id is None:
            return
        sealed = None if host is None else host.sealed_credentials
        client = self._probes.get((base_url, sealed))
        if client is None:
            credentials = None if host is None else self.host_credentials(host)
            client = PbxClient(
                base_url, attempts=1, timeout_s=3.0, concurrency=4, credentials=credentials
            )
            self._probes[(base_url, sealed)] = client
        try:
            await client.get_json(f"/1.0/tenants/{tenant_id}/groups/", {"_pagesize": 1})
        except PbxNotFound:
            raise NotFound(f"tenant_id: the host has no tenant {tenant_id!r}") from None
        except (PbxCallFailed, PbxError):
            return
        if group_id is None:
            return
        try:
            await client.get_json(
                f"/1.0/tenants/{tenant_id}/groups/{group_id}/users/", {"_pagesize": 1}
            )
        except PbxNotFound:
            raise NotFound(f"group_id: tenant {tenant_id!r} has no group {group_id!r}") from None
        except (PbxCallFailed, PbxError):
            return

    async def close(self) -> None:
        for client in self._probes.values():
            await client.close()
        self._probes.clear()


SERVICES = web.AppKey("services", Services)
