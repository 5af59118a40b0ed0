"""The PBX gateway port's promises, run against every driver in GATEWAYS and a real PBX of
its kind (the sandbox, for the tree driver)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from domain.ports.pbx import PbxNotFound
from tests.contract.implementations import GATEWAYS, PbxHarness


@pytest.fixture(params=sorted(GATEWAYS))
async def pbx(request: pytest.FixtureRequest) -> AsyncIterator[PbxHarness]:
    harness = await GATEWAYS[request.param]()
    try:
        yield harness
    finally:
        await harness.close()


async def test_lists_the_scope(pbx: PbxHarness) -> None:
    gateway = pbx.gateway
    assert pbx.tenant_id in await gateway.list_tenants()
    assert pbx.group_id in await gateway.list_groups(pbx.tenant_id)
    users = await gateway.list_users(pbx.tenant_id, pbx.group_id)
    assert len(users) == 2 and len(set(users)) == 2


async def test_unknown_scopes_are_not_found(pbx: PbxHarness) -> None:
    with pytest.raises(PbxNotFound):
        await pbx.gateway.list_groups("no-such-tenant")
    with pytest.raises(PbxNotFound):
        await pbx.gateway.list_users(pbx.tenant_id, "no-such-group")


async def test_probe_names_what_is_missing(pbx: PbxHarness) -> None:
    gateway, tenant, group = pbx.gateway, pbx.tenant_id, pbx.group_id
    assert await gateway.probe_scope(tenant, group) == "present"
    assert await gateway.probe_scope(tenant, None) == "present"
    assert await gateway.probe_scope(tenant, "no-such-group") == "no_group"
    assert await gateway.probe_scope("no-such-tenant", None) == "no_tenant"
    assert await gateway.probe_scope("no-such-tenant", group) == "no_tenant"


async def test_an_entity_written_reads_back(pbx: PbxHarness) -> None:
    gateway, tenant, group = pbx.gateway, pbx.tenant_id, pbx.group_id
    user = (await gateway.list_users(tenant, group))[0]
    profile = await gateway.read_entity(tenant, group, "profile", user)
    assert isinstance(profile, dict) and profile["id"] == user
    changed = {**profile, "first_name": "Renamed"}
    await gateway.write_entity(tenant, group, "profile", changed, user)
    again = await gateway.read_entity(tenant, group, "profile", user)
    assert again["first_name"] == "Renamed"


async def test_users_are_created_and_deleted(pbx: PbxHarness) -> None:
    gateway, tenant, group = pbx.gateway, pbx.tenant_id, pbx.group_id
    await gateway.create_user(tenant, group, "contract-user")
    assert "contract-user" in await gateway.list_users(tenant, group)
    await gateway.delete_user(tenant, group, "contract-user")
    assert "contract-user" not in await gateway.list_users(tenant, group)
    with pytest.raises(PbxNotFound):
        await gateway.read_entity(tenant, group, "profile", "contract-user")


async def test_media_uploaded_streams_back_the_same(pbx: PbxHarness) -> None:
    gateway, tenant, group = pbx.gateway, pbx.tenant_id, pbx.group_id
    data = os.urandom(200_000)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 16_384):
            yield data[start : start + 16_384]

    await gateway.upload_media(tenant, group, "contract-file", chunks)
    digest = hashlib.sha256()
    async with contextlib.aclosing(gateway.stream_media(tenant, group, "contract-file")) as body:
        async for chunk in body:
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    with pytest.raises(PbxNotFound):
        async with contextlib.aclosing(gateway.stream_media(tenant, group, "absent")) as body:
            async for _ in body:
                pass


async def test_a_listing_reads_page_by_page(pbx: PbxHarness) -> None:
    pages = pbx.gateway.read_list_pages(pbx.tenant_id, pbx.group_id, "recordings")
    async with contextlib.aclosing(pages):
        items = [item async for page in pages for item in page]
    assert items and all(isinstance(item, dict) and item.get("id") for item in items)
    with pytest.raises(PbxNotFound):
        async for _ in pbx.gateway.read_list_pages(pbx.tenant_id, "no-such-group", "recordings"):
            pass
