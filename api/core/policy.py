"""Who may call what: one table from (method, route pattern) to the permission it needs,
filled by the core and by each dialect's own rules when it is installed.

Deny by default: a route without an entry is refused (403) to every token, and
tests/e2e/test_auth_matrix.py enumerates ``app.router`` and fails for any route missing here,
so a route added later cannot be reached until someone decides who may call it.

Roles (seed 002's table, plus ``viewer``):

| role | permissions |
|---|---|
| ``viewer`` | READ: every GET but the tokens |
| ``backup_operator`` | READ, OPERATE: create, stop (cancel) and verify backups |
| ``admin`` | READ, OPERATE, ADMIN: restores, deletes, plans, hosts, tokens |

A token limited to tenants sees only their resources. An entry names the path parameters
that designate a tenant's resource (:class:`PathResource`); the auth middleware resolves
each one before the handler runs and answers 404, exactly as for a resource that does not
exist, when it belongs to another tenant (or to no tenant: a whole-host backup). Lists are
filtered by their handlers (``principal.tenants``). ``all_tenants`` entries (hosts, tokens,
and anything global) are refused (403) to a token limited to tenants.

To add a route: add its entry to its dialect's ``RULES`` (api/dialects/NAME/rules.py; its
``install`` registers them with ``register_rules``; ``HEAD`` follows ``GET``; a trailing slash
does not matter), and its case to tests/e2e/test_auth_matrix.py's MATRIX. For a route
addressing a backup or restore by another kind of id, add a ``PathResource`` with a
``tenant_of`` that finds that resource's tenant. A create or list handler that does not yet
honour ``principal.tenants`` (api.core.auth.check_tenant_allowed / visible_tenants) gets
``all_tenants=True``, so tenant-limited tokens are refused rather than shown everything.

QRadar, General Bots and plans are global (``all_tenants``): QRadar's backups are whole
hosts addressed by Long ids, and neither dialect's handlers filter by tenant, so a token
limited to tenants is refused (403) there instead of being shown other tenants' data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from api.core.services import Services
from domain.token import Role


class Permission(StrEnum):
    OPEN = "open"
    """No token needed (health probes)."""
    READ = "read"
    OPERATE = "operate"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.BACKUP_OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.ADMIN: frozenset({Permission.READ, Permission.OPERATE, Permission.ADMIN}),
}


class Missing:
    """A path names no resource at all: the handler answers its own 404."""


MISSING = Missing()
TenantOf = Callable[[Services, str], Awaitable[str | Missing | None]]
"""The tenant a path value designates (None: a whole-host resource, in no tenant)."""


@dataclass(frozen=True)
class PathResource:
    """A path parameter naming a resource that belongs to a tenant."""

    param: str
    tenant_of: TenantOf
    not_found: Callable[[str], str]
    """The 404 message, worded as the handler words its own (nothing tells them apart)."""


@dataclass(frozen=True)
class Rule:
    permission: Permission
    resources: tuple[PathResource, ...] = ()
    all_tenants: bool = False


# ---------------------------------------------------------------- resources
async def backup_tenant(services: Services, value: str) -> str | Missing | None:
    """A backup by id or reference id (the native routes accept both)."""
    view = services.views.view
    row = view.cached_backup(value)  # a polled backup: no thread hop, no read
    if row is None:
        row = await services.query(view.backup, value)
    if row is None:
        row = await services.query(view.backup_by_reference, value)
    return MISSING if row is None else row.tenant_id


async def restore_tenant(services: Services, value: str) -> str | Missing | None:
    row = await services.query(services.views.view.restore, value)
    return MISSING if row is None else row.tenant_id


async def path_tenant(_services: Services, value: str) -> str | Missing | None:
    return value


def backup(param: str) -> PathResource:
    return PathResource(param, backup_tenant, lambda v: f"backup {v[:80]!r} not found")


def restore(param: str) -> PathResource:
    return PathResource(param, restore_tenant, lambda v: f"restore {v[:80]!r} not found")


def tenant(param: str = "tenant_id") -> PathResource:
    return PathResource(param, path_tenant, lambda v: f"tenant_id: the host has no tenant {v!r}")


# ---------------------------------------------------------------- the table
R, OP, A = Permission.READ, Permission.OPERATE, Permission.ADMIN

POLICY: dict[tuple[str, str], Rule] = {
    # the core's routes (api.core.operations, api.core.openapi_route)
    ("GET", "/healthz"): Rule(Permission.OPEN),
    ("GET", "/readyz"): Rule(Permission.OPEN),
    ("GET", "/metrics"): Rule(R, all_tenants=True),  # the metrics span every tenant
    ("GET", "/api/v1/openapi.json"): Rule(R),  # the API's own description: no tenant's data
}
"""(method, route pattern) -> rule: the core's routes here, each dialect's added by its
``install`` through ``register_rules``."""

Rules = Mapping[tuple[str, str], Rule]


def register_rules(rules: Rules) -> None:
    """Add a dialect's entries (installing twice is harmless: same keys, same rules)."""
    for (method, pattern), rule in rules.items():
        POLICY[policy_key(method, pattern)] = rule


def policy_key(method: str, pattern: str) -> tuple[str, str]:
    """The table's key for a request or a route: HEAD is GET, no trailing slash."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    return method, (pattern.rstrip("/") or "/")


def rule_for(method: str, pattern: str) -> Rule | None:
    """The route's rule (api.core.auth keeps it per matched route: the table never changes)."""
    return POLICY.get(policy_key(method, pattern))


def allows(role: Role, rule: Rule) -> bool:
    return rule.permission is Permission.OPEN or rule.permission in ROLE_PERMISSIONS[role]
