"""Admitting a backup made from a saved plan on a chosen host (seed 001's create).

A plan (seed 001's ``configuration_id``) says what to back up; the request says on which host
and whether CONFIG or DATA. The host's flags decide whether it may be backed up that way:
an inactive host never (1010), CONFIG only on a console (1012), DATA only on a host that
stores data (1013) and is configured for data backups (1014). The invariants (unique name
1005, one backup per scope 1015, none during a restore 1016) are then the guards' business,
in ``RewindApplication.request_backup``.

Host flags are read, not guarded: a host update that races a request may let that one
request through with the old flags, as an administrator's change during a click would.
"""

from __future__ import annotations

from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.catalogue import BackupKind
from domain.errors import (
    ConfigBackupNeedsConsole,
    DataBackupsNotConfigured,
    HostNotActive,
    HostStoresNoData,
    UnknownHost,
)
from domain.host import Host
from domain.model import Immutable
from domain.plan import DEFAULT_HOST_ID, Plan
from domain.scope import Scope


class PlanBackupRequest(Immutable):
    """A backup of plan ``plan_id``'s scope and entities, taken on ``host_id``."""

    plan_id: int
    host_id: str
    kind: BackupKind
    name: str
    description: str | None = None


def check_host_admits(host: Host, kind: BackupKind) -> None:
    """Raise the error (1010, 1012, 1013, 1014) that forbids a ``kind`` backup of ``host``."""
    flags = host.settings
    if not flags.active:
        raise HostNotActive(f"host {host.host_id!r} is not active")
    if kind == BackupKind.CONFIG and not flags.is_console:
        raise ConfigBackupNeedsConsole(
            f"host {host.host_id!r} is not the console; CONFIG backups run on the console"
        )
    if kind == BackupKind.DATA and not flags.stores_data:
        raise HostStoresNoData(f"host {host.host_id!r} does not store data")
    if kind == BackupKind.DATA and not flags.data_backups_configured:
        raise DataBackupsNotConfigured(f"host {host.host_id!r} is not configured for data backups")


def console_host_id(app: RewindApplication) -> str:
    """The host a request without one means: ``default`` when it is a console, else the
    first registered console."""
    hosts = app.list_hosts()
    consoles = [h.host_id for h in hosts if h.settings.is_console]
    if DEFAULT_HOST_ID in consoles:
        return DEFAULT_HOST_ID
    if consoles:
        return consoles[0]
    raise UnknownHost("no console host is registered; give host_id")


def spec_from_plan(plan: Plan, request: PlanBackupRequest) -> BackupSpec:
    """The plan's scope (moved to the requested host), entities, formats and type."""
    settings = plan.settings
    scope = Scope(
        host_id=request.host_id,
        tenant_id=settings.scope.tenant_id,
        group_id=settings.scope.group_id,
    )
    return BackupSpec(
        scope=scope,
        group_entities=settings.group_entities,
        user_entities=settings.user_entities,
        formats=settings.formats,
        download_files=settings.download_files,
        name=request.name,
        description=request.description,
        kind=request.kind,
        backup_type=settings.backup_type,
        plan_id=plan.plan_id,
    )


def request_plan_backup(
    app: RewindApplication, request: PlanBackupRequest, principal: str
) -> Backup:
    """Check the plan (1007) and the host (1009, 1010, 1012-1014), then request the backup
    with its guards (1005, 1015, 1016)."""
    plan = app.get_plan(request.plan_id)
    host = app.get_host(request.host_id)
    check_host_admits(host, request.kind)
    return app.request_backup(spec_from_plan(plan, request), principal)
