"""The tree driver: the PBX gateway port over PbxClient, with the tree PBX's URLs.

The client does the HTTP (retries, backoff, counting calls, credentials); this class only
knows which URL names which PBX object, so a PBX kind laid out differently gets its own
driver beside this one and reuses the client.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any

from adapters.pbx.client import PbxCallFailed, PbxClient, PbxError, PbxNotFound
from adapters.pbx.tree.paths import (
    TENANTS,
    entity_path,
    group_path,
    media_path,
    tenant_path,
    user_path,
)
from domain.ports.pbx import ScopeProbe

PAGE_SIZE = 100
"""Items per page of a paged listing: few calls, bounded answers."""


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["id"]) for item in items if item.get("id") is not None]


class TreeGateway:
    """A tree PBX reached through ``client`` (which the caller owns and closes)."""

    kind = "tree"

    def __init__(self, client: PbxClient) -> None:
        self.client = client

    @property
    def base_url(self) -> str:
        return self.client.base_url

    # -- the scope -----------------------------------------------------------------------------

    async def list_tenants(self) -> list[str]:
        return _ids(await self.client.list_all(TENANTS))

    async def list_groups(self, tenant_id: str) -> list[str]:
        return _ids(await self.client.list_all(f"{tenant_path(tenant_id)}/groups/"))

    async def list_users(self, tenant_id: str, group_id: str) -> list[str]:
        return _ids(await self.client.list_all(f"{group_path(tenant_id, group_id)}/users/"))

    async def probe_scope(self, tenant_id: str, group_id: str | None) -> ScopeProbe:
        """A group is asked about first: when it is there its tenant is too, so the common
        case is one call; the tenant is asked about only to name what is missing."""
        one = {"_pagesize": 1}
        if group_id is not None:
            try:
                await self.client.get_json(f"{group_path(tenant_id, group_id)}/users/", one)
                return "present"
            except PbxNotFound:
                pass
            except (PbxCallFailed, PbxError):
                return "unknown"
        try:
            await self.client.get_json(f"{tenant_path(tenant_id)}/groups/", one)
        except PbxNotFound:
            return "no_tenant"
        except (PbxCallFailed, PbxError):
            return "unknown"
        return "present" if group_id is None else "no_group"

    # -- entities ------------------------------------------------------------------------------

    async def read_entity(
        self, tenant_id: str, group_id: str, entity: str, user_id: str | None = None
    ) -> Any:
        return await self.client.get_json(entity_path(tenant_id, group_id, entity, user_id))

    async def read_list_pages(
        self, tenant_id: str, group_id: str, entity: str
    ) -> AsyncGenerator[list[Any], None]:
        """A ``{total, items}`` list read with ``_page`` / ``_pagesize``; without the
        optional total, a short page is the last one."""
        path = entity_path(tenant_id, group_id, entity)
        seen = 0
        page = 1
        while True:
            params: dict[str, str | int] = {"_page": page, "_pagesize": PAGE_SIZE}
            body = await self.client.get_json(path, params)
            if not (isinstance(body, dict) and isinstance(body.get("items"), list)):
                raise PbxCallFailed(path, 1, 200, "the answer is not a {total, items} list")
            items: list[Any] = body["items"]
            yield items
            seen += len(items)
            total = body.get("total")
            last = seen >= total if isinstance(total, int) else len(items) < PAGE_SIZE
            if last or not items:
                return
            page += 1

    async def write_entity(
        self,
        tenant_id: str,
        group_id: str,
        entity: str,
        document: Any,
        user_id: str | None = None,
    ) -> Any:
        path = entity_path(tenant_id, group_id, entity, user_id)
        return await self.client.put_json(path, document)

    async def delete_entity(
        self, tenant_id: str, group_id: str, entity: str, user_id: str | None = None
    ) -> None:
        await self.client.delete(entity_path(tenant_id, group_id, entity, user_id))

    async def create_user(self, tenant_id: str, group_id: str, user_id: str) -> None:
        path = f"{group_path(tenant_id, group_id)}/users/"
        await self.client.post_json(path, {"id": user_id}, retry=False)

    async def delete_user(self, tenant_id: str, group_id: str, user_id: str) -> None:
        await self.client.delete(user_path(tenant_id, group_id, user_id))

    # -- media ---------------------------------------------------------------------------------

    def stream_media(
        self, tenant_id: str, group_id: str, file_id: str
    ) -> AsyncGenerator[bytes, None]:
        return self.client.stream(media_path(tenant_id, group_id, file_id))

    async def upload_media(
        self,
        tenant_id: str,
        group_id: str,
        file_id: str,
        chunks: Callable[[], AsyncIterable[bytes]],
    ) -> Any:
        return await self.client.upload(media_path(tenant_id, group_id, file_id), chunks, None)
