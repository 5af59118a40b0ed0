"""Resolving a backup's scope into work items: which groups and users the PBX has now.

The scope is listed from the PBX when the job runs (and again when it is resumed), not when
it is requested: a backup is of what the host holds when it is taken. Listing calls are not
entity calls, so they are not counted in the backup's successful / error calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from adapters.worker.entities import RECORDINGS, WorkItem
from domain.backup import BackupSpec
from domain.catalogue import BackupKind
from domain.ports.pbx import PbxCallFailed, PbxGateway, PbxNotFound, PbxRejected
from domain.scope import Scope


class ScopeUnavailable(Exception):
    """The scope cannot be listed; the message says why, for the job's failure reason."""


def failure_reason(error: PbxCallFailed, base_url: str) -> str:
    """A failed listing call in words an operator can act on: what the PBX answered and to
    which request, or, only when no answer came at all, "host unreachable" with the URL the
    request went to (a PBX answering 500 is reachable: telling them apart sends the
    operator to the right place). ``base_url`` is the client's: it holds no user info."""
    tries = f"after {error.attempts} attempt{'' if error.attempts == 1 else 's'}"
    status = error.last_status
    if status is None:
        where = f"{error.method} {base_url}{error.path}"
        return f"host unreachable: no answer to {where} {tries}: {error.message}"
    request = f"{error.method} {error.path}"
    if status >= 500:
        said = "" if error.message == f"HTTP {status}" else f": {error.message}"
        return f"PBX answered {status} to {request} {tries}{said}"
    return f"PBX answered {status} to {request} with an unusable answer: {error.message}"


@dataclass(frozen=True, slots=True)
class GroupMembers:
    """One group of the scope and the users it has now."""

    tenant_id: str
    group_id: str
    user_ids: tuple[str, ...]


class ScopeLister:
    """Lists tenants, groups and users of one scope on one PBX, through its gateway."""

    def __init__(self, gateway: PbxGateway, scope: Scope) -> None:
        self.gateway = gateway
        self.scope = scope

    async def groups(self) -> list[GroupMembers]:
        """Every group of the scope with its users; ScopeUnavailable when that cannot be
        known (the host does not answer, or the tenant or group does not exist)."""
        try:
            return await self._groups()
        except PbxCallFailed as error:
            raise ScopeUnavailable(failure_reason(error, self.gateway.base_url)) from error
        except PbxRejected as error:
            raise ScopeUnavailable(f"host refused to list the scope: {error}") from error
        except PbxNotFound as error:
            raise ScopeUnavailable(f"host cannot list the scope: {error}") from error

    async def _groups(self) -> list[GroupMembers]:
        scope = self.scope
        if scope.tenant_id is None:
            tenants = await self.gateway.list_tenants()
        else:
            tenants = [scope.tenant_id]
        found: list[GroupMembers] = []
        for tenant in tenants:
            if scope.group_id is not None:
                groups = [scope.group_id]
            else:
                groups = await self._group_ids(tenant)
            members = await asyncio.gather(*(self._members(tenant, g) for g in groups))
            found.extend(members)
        return found

    async def _group_ids(self, tenant: str) -> list[str]:
        try:
            return await self.gateway.list_groups(tenant)
        except PbxNotFound:
            raise ScopeUnavailable(self._missing(tenant)) from None

    async def _members(self, tenant: str, group: str) -> GroupMembers:
        try:
            users = await self.gateway.list_users(tenant, group)
        except PbxNotFound:
            # One more call tells an unknown tenant from an unknown group, so the failure
            # reason names the right one.
            await self._group_ids(tenant)
            raise ScopeUnavailable(self._missing(tenant, group)) from None
        return GroupMembers(tenant, group, tuple(users))

    def _missing(self, tenant: str, group: str | None = None) -> str:
        host = self.scope.host_id
        if group is None:
            return f"tenant {tenant} not found on host {host}"
        return f"group {group} not found in tenant {tenant} on host {host}"


def work_items(spec: BackupSpec, groups: list[GroupMembers]) -> list[WorkItem]:
    """The entities of the backup, group by group: the group's entities, its recordings
    (DATA backups), then each user's entities, in the order the PBX lists them."""
    group_entities = list(dict.fromkeys(spec.group_entities))
    if spec.kind == BackupKind.DATA:
        group_entities.append(RECORDINGS)
    user_entities = list(dict.fromkeys(spec.user_entities))
    items: dict[str, WorkItem] = {}
    for group in groups:
        t, g = group.tenant_id, group.group_id
        batch = [WorkItem(t, g, entity) for entity in group_entities]
        for user in group.user_ids:
            batch.extend(WorkItem(t, g, entity, user) for entity in user_entities)
        for item in batch:
            # A key is recorded once per backup: a user listed twice is fetched once.
            items.setdefault(item.key, item)
    return list(items.values())


__all__ = ["GroupMembers", "ScopeLister", "ScopeUnavailable", "failure_reason", "work_items"]
