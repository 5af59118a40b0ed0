"""Who may call what: one table from (method, route pattern) to the permission it needs.

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

To add a route: add its entry below (``HEAD`` follows ``GET``; a trailing slash does not
matter), and its case to tests/e2e/test_auth_matrix.py's MATRIX. For a route addressing a
backup or restore by another kind of id, add a ``PathResource`` with a ``tenant_of`` that
finds that resource's tenant. A create or list handler that does not yet honour
``principal.tenants`` (api.core.auth.check_tenant_allowed / visible_tenants) gets
``all_tenants=True``, so tenant-limited tokens are refused rather than shown everything.

QRadar, General Bots and plans are global (``all_tenants``): QRadar's backups are whole
hosts addressed by Long ids, and neither dialect's handlers filter by tenant, so a token
limited to tenants is refused (403) there instead of being shown other tenants' data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
APIO = "/api/v1/tenants/{tenant_id}/groups/{group_id}/batch"
BACKUP = "/api/v1/backups/{backup_id}"
QRADAR = "/api/backup_and_restore/backups"
PLANS = "/api/v1/plans"
GB = "/api/v1/backup"

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(Permission.OPEN),
    ("GET", "/readyz"): Rule(Permission.OPEN),
    # native backups
    ("POST", "/api/v1/backups"): Rule(OP),  # the handler checks the body's tenant
    ("GET", "/api/v1/backups"): Rule(R),  # filtered to the token's tenants
    ("GET", BACKUP): Rule(R, (backup("backup_id"),)),
    ("GET", f"{BACKUP}/events"): Rule(R, (backup("backup_id"),)),
    ("GET", f"{BACKUP}/report"): Rule(R, (backup("backup_id"),)),
    ("POST", f"{BACKUP}/cancel"): Rule(OP, (backup("backup_id"),)),
    ("POST", f"{BACKUP}/verify"): Rule(OP, (backup("backup_id"),)),
    ("DELETE", BACKUP): Rule(A, (backup("backup_id"),)),
    ("GET", "/api/v1/backups/{a}/diff/{b}"): Rule(R, (backup("a"), backup("b"))),
    # restores
    ("POST", "/api/v1/restores"): Rule(A),  # the handler checks the backup's tenant
    ("GET", "/api/v1/restores"): Rule(R),  # filtered
    ("GET", "/api/v1/restores/{restore_id}"): Rule(R, (restore("restore_id"),)),
    ("POST", "/api/v1/restores/{restore_id}/cancel"): Rule(A, (restore("restore_id"),)),
    # hosts and tokens: global
    ("GET", "/api/v1/hosts"): Rule(R),
    ("POST", "/api/v1/hosts"): Rule(A, all_tenants=True),
    ("GET", "/api/v1/tokens"): Rule(A, all_tenants=True),
    ("POST", "/api/v1/tokens"): Rule(A, all_tenants=True),
    ("DELETE", "/api/v1/tokens/{token_id}"): Rule(A, all_tenants=True),
    # APIO (seed 000): the tenant is in the path
    ("GET", f"{APIO}/backup/start"): Rule(OP, (tenant(),)),
    ("POST", f"{APIO}/backup/start"): Rule(OP, (tenant(),)),
    ("GET", f"{APIO}/backup/polling/{{instance_name}}"): Rule(R, (tenant(),)),
    ("POST", f"{APIO}/backup/polling/{{instance_name}}"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backups"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backup"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backups/{{instance_name}}"): Rule(R, (tenant(),)),
    ("GET", f"{APIO}/backup/stop/{{instance_name}}"): Rule(OP, (tenant(),)),
    ("POST", f"{APIO}/backup/stop/{{instance_name}}"): Rule(OP, (tenant(),)),
    # QRadar (seed 001): host-level backups addressed by Long ids, so global
    ("POST", QRADAR): Rule(OP, all_tenants=True),
    ("GET", QRADAR): Rule(R, all_tenants=True),
    ("GET", f"{QRADAR}/{{id}}"): Rule(R, all_tenants=True),
    ("DELETE", f"{QRADAR}/{{id}}"): Rule(A, all_tenants=True),
    ("GET", "/api/config/deployment/hosts"): Rule(R, all_tenants=True),
    # plans: saved configurations spanning hosts and tenants
    ("GET", PLANS): Rule(R, all_tenants=True),
    ("POST", PLANS): Rule(A, all_tenants=True),
    ("GET", f"{PLANS}/{{plan_id}}"): Rule(R, all_tenants=True),
    ("PUT", f"{PLANS}/{{plan_id}}"): Rule(A, all_tenants=True),
    ("DELETE", f"{PLANS}/{{plan_id}}"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/deploy"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/pause"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/resume"): Rule(A, all_tenants=True),
    ("POST", f"{PLANS}/{{plan_id}}/run"): Rule(A, all_tenants=True),
    # General Bots (seed 002's roles table): its handlers do not filter by tenant, so a
    # tenant-limited token is refused rather than shown everything
    ("POST", f"{GB}/create"): Rule(OP, all_tenants=True),
    ("GET", f"{GB}/list"): Rule(R, all_tenants=True),
    ("GET", f"{GB}/{{backup_id}}"): Rule(R, all_tenants=True),
    ("DELETE", f"{GB}/{{backup_id}}"): Rule(A, all_tenants=True),
    ("POST", f"{GB}/restore/{{backup_id}}"): Rule(A, all_tenants=True),
    ("GET", f"{GB}/restore/{{job_id}}/status"): Rule(R, all_tenants=True),
    ("GET", f"{GB}/schedule"): Rule(R, all_tenants=True),
    ("POST", f"{GB}/schedule"): Rule(A, all_tenants=True),
    ("PUT", f"{GB}/schedule/{{schedule_id}}"): Rule(A, all_tenants=True),
    ("DELETE", f"{GB}/schedule/{{schedule_id}}"): Rule(A, all_tenants=True),
    # Unitrends (seed 004): a query over every tenant's backups, not filtered by tenant
    ("POST", "/api/backups"): Rule(R, all_tenants=True),
    # operating: the global event feed and the metrics span every tenant
    ("GET", "/api/v1/events"): Rule(R, all_tenants=True),
    ("GET", "/metrics"): Rule(R, all_tenants=True),
    ("GET", f"{BACKUP}/archive"): Rule(R, (backup("backup_id"),)),
    # the API's own description holds no tenant's data
    ("GET", "/api/v1/openapi.json"): Rule(R),
}


def policy_key(method: str, pattern: str) -> tuple[str, str]:
    """The table's key for a request or a route: HEAD is GET, no trailing slash."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    return method, (pattern.rstrip("/") or "/")


def rule_for(method: str, pattern: str) -> Rule | None:
    """The route's rule (api.core.auth keeps it per matched route: the table never changes)."""
    return POLICY.get(policy_key(method, pattern))


def allows(role: Role, rule: Rule) -> bool:
    return rule.permission is Permission.OPEN or rule.permission in ROLE_PERMISSIONS[role]
