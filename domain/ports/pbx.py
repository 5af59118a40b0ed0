"""The PBX gateway port: what a backup or restore asks of a PBX, named by operation.

A gateway speaks tenants, groups, users, entities and media files, never URLs, so a PBX
kind whose API is laid out differently (another tree of URLs, another pagination) only needs
its own driver under ``adapters/pbx/``. The errors are part of the port: every driver
raises these, so the worker can tell "not there" (PbxNotFound) from "refused"
(PbxRejected) from "no usable answer" (PbxCallFailed) whatever the PBX kind. ``path`` in
an error is the driver's own name for what it asked (a request path for HTTP drivers).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any, Literal, Protocol, runtime_checkable


class PbxError(Exception):
    """Base of the gateway's errors; ``path`` is the request path (never credentials)."""

    path: str


class PbxNotFound(PbxError):
    """404: the resource does not exist (not retried; not counted as an error call)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: not found"


class PbxRejected(PbxError):
    """A 4xx other than 404 (or an unexpected 1xx / 3xx): not retried, one error call."""

    def __init__(self, path: str, status: int, messages: list[str]) -> None:
        super().__init__(path, status, messages)
        self.path = path
        self.status = status
        self.messages = messages

    def __str__(self) -> str:
        return f"{self.path}: rejected with {self.status}: {'; '.join(self.messages)}"


class PbxCallFailed(PbxError):
    """Every attempt failed (or the answer was unusable): one error call.

    ``last_status`` is the last HTTP status received, None when the last attempt got no answer
    (timeout, connection error). ``method`` is the request's HTTP method.
    """

    def __init__(
        self,
        path: str,
        attempts: int,
        last_status: int | None,
        message: str,
        method: str = "GET",
    ) -> None:
        super().__init__(path, attempts, last_status, message, method)
        self.path = path
        self.attempts = attempts
        self.last_status = last_status
        self.message = message
        self.method = method

    def __str__(self) -> str:
        status = "no answer" if self.last_status is None else f"last status {self.last_status}"
        return f"{self.path}: {self.message} ({self.attempts} attempt(s), {status})"


ScopeProbe = Literal["present", "no_tenant", "no_group", "unknown"]
"""What a probe learnt of a scope: it is there, its tenant or its group is missing, or the
PBX could not say (unreachable, refusing): "unknown" is not a reason to refuse a request."""


@runtime_checkable
class PbxGateway(Protocol):
    """One PBX, reached through one driver. ``user_id`` None names a group-level entity."""

    @property
    def kind(self) -> str:
        """The PBX kind this driver speaks (the key of the gateway factory)."""
        ...

    @property
    def base_url(self) -> str:
        """Where the PBX is, without credentials (for failure reasons)."""
        ...

    # -- the scope -----------------------------------------------------------------------------

    async def list_tenants(self) -> list[str]:
        """Every tenant id the PBX has."""
        ...

    async def list_groups(self, tenant_id: str) -> list[str]:
        """The tenant's group ids; PbxNotFound for an unknown tenant."""
        ...

    async def list_users(self, tenant_id: str, group_id: str) -> list[str]:
        """The group's user ids; PbxNotFound for an unknown tenant or group."""
        ...

    async def probe_scope(self, tenant_id: str, group_id: str | None) -> ScopeProbe:
        """Whether the tenant (and the group, if given) exist, in as few calls as it can."""
        ...

    # -- entities ------------------------------------------------------------------------------

    async def read_entity(
        self, tenant_id: str, group_id: str, entity: str, user_id: str | None = None
    ) -> Any:
        """The entity's document; PbxNotFound if there is none."""
        ...

    def read_list_pages(
        self, tenant_id: str, group_id: str, entity: str
    ) -> AsyncGenerator[list[Any], None]:
        """A group-level listing (call recordings) page by page, each page one call to the
        PBX, so a backup can count its calls; PbxCallFailed for an answer that is no list."""
        ...

    async def write_entity(
        self,
        tenant_id: str,
        group_id: str,
        entity: str,
        document: Any,
        user_id: str | None = None,
    ) -> Any:
        """Replace the entity's document; the PBX's answer."""
        ...

    async def delete_entity(
        self, tenant_id: str, group_id: str, entity: str, user_id: str | None = None
    ) -> None:
        """Remove the entity; PbxNotFound if it was not there."""
        ...

    async def create_user(self, tenant_id: str, group_id: str, user_id: str) -> None:
        """Create an (empty) user; never retried, so a user is not created twice."""
        ...

    async def delete_user(self, tenant_id: str, group_id: str, user_id: str) -> None:
        """Remove the user and all its entities; PbxNotFound if it was not there."""
        ...

    # -- media ---------------------------------------------------------------------------------

    def stream_media(
        self, tenant_id: str, group_id: str, file_id: str
    ) -> AsyncGenerator[bytes, None]:
        """The media file's bytes in chunks, never all in memory; close it (contextlib.aclosing)
        when stopping early, so the connection is released at once."""
        ...

    async def upload_media(
        self,
        tenant_id: str,
        group_id: str,
        file_id: str,
        chunks: Callable[[], AsyncIterable[bytes]],
    ) -> Any:
        """Store the media file from a fresh stream per attempt; the PBX's answer."""
        ...
