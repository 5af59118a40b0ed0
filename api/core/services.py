"""What the request handlers share, kept on the aiohttp application under one key."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from adapters.artifacts import ArtifactStore
from adapters.pbx.client import PbxClient
from adapters.pbx.gateways import gateway_for
from adapters.process_metrics import READ_YOUR_WRITES_WAIT
from adapters.secrets import Sealer, open_credentials
from adapters.settings import Settings
from adapters.store_health import StoreDamaged
from domain.application import RewindApplication
from domain.errors import NotFound
from domain.host import HostSettings
from projections.service import ViewsService

READ_YOUR_WRITES_TIMEOUT = 5.0

COMMAND_THREADS = 64
"""Threads for commands, apart from the loop's default pool (a handful of threads on a
small machine, shared with queries): concurrent backup requests are committed together
(domain.admission_batch), and a batch can only hold as many requests as there are threads
waiting in it. A waiting thread costs memory, not CPU."""

PROBE_CONCURRENCY = 32
"""Calls in flight to a host while checking that a requested tenant or group exists."""

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
    store_checking: str | None = None
    """The store whose start-up check runs now (``/readyz`` waits for it), None once done."""
    store_damage: str | None = None
    """The one line reporting a damaged event store: every command is refused with it."""
    writers: list[asyncio.Task[None]] = field(default_factory=list)
    """The tasks that write to the log on their own (worker, scheduler, verifier): stopped
    when the event store is found damaged."""
    _probes: dict[tuple[str, str | None], PbxClient] = field(default_factory=dict)
    _commands: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(COMMAND_THREADS, "rewind-command")
    )

    async def run(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an event-store command off the event loop, wake the worker, and answer only
        once every view has applied the command's events (read-your-writes). Refused
        (StoreDamaged) while the event store is known to be damaged."""

        if self.store_damage is not None:
            raise StoreDamaged(self.store_damage)

        def call() -> tuple[T, int]:
            self.app.reset_saved_position()
            result = command(*args, **kwargs)
            return result, self.app.saved_position()

        context = contextvars.copy_context()  # the request's log context, as to_thread does
        loop = asyncio.get_running_loop()
        result, position = await loop.run_in_executor(self._commands, context.run, call)
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
        supplies the credentials to ask with; the host's gateway decides how to ask."""
        if tenant_id is None:
            return
        gateway = gateway_for(self._probe_client(base_url, host))
        found = await gateway.probe_scope(tenant_id, group_id)
        if found == "no_tenant":
            raise NotFound(f"tenant_id: the host has no tenant {tenant_id!r}")
        if found == "no_group":
            raise NotFound(f"group_id: tenant {tenant_id!r} has no group {group_id!r}")

    def _probe_client(self, base_url: str, host: HostSettings | None) -> PbxClient:
        sealed = None if host is None else host.sealed_credentials
        client = self._probes.get((base_url, sealed))
        if client is None:
            credentials = None if host is None else self.host_credentials(host)
            client = PbxClient(
                base_url,
                attempts=1,
                timeout_s=3.0,
                concurrency=PROBE_CONCURRENCY,
                credentials=credentials,
            )
            self._probes[(base_url, sealed)] = client
        return client

    async def close(self) -> None:
        for client in self._probes.values():
            await client.close()
        self._probes.clear()
        await asyncio.to_thread(self._commands.shutdown)


SERVICES = web.AppKey("services", Services)
