"""Admitting a backup made from a saved plan on a chosen host (seed 001's create).

A plan (seed 001's ``configuration_id``) says what to back up; the request says on which host
and whether CONFIG or DATA. Checked in the document's order: an inactive host never (1010);
a plan with staged, undeployed changes never (1011), since nobody has confirmed what it would
run; CONFIG only on a console (1012); DATA only on a host that stores data (1013) and is
configured for data backups (1014). The invariants (unique name 1005, one backup per scope
1015, none during a restore 1016) are then the guards' business
(``RewindApplication.request_plan_backup``).

The plan is saved with the backup (it records the run), so a plan staged while a request is
being admitted makes the request retry and be refused. Host flags are read, not guarded: a
host update racing a request may let that one request through with the old flags, as an
administrator's change during a click would.
"""

from __future__ import annotations

from domain.backup import BackupSpec
from domain.catalogue import BackupKind
from domain.errors import (
    ConfigBackupNeedsConsole,
    DataBackupsNotConfigured,
    HostNotActive,
    HostStoresNoData,
    UndeployedPlanChanges,
    UnknownHost,
)
from domain.host import Host
from domain.model import Immutable
from domain.plan import DEFAULT_HOST_ID, Plan, plan_backup_spec
from domain.scope import Scope


class PlanBackupRequest(Immutable):
    """A backup of plan ``plan_id``'s scope and entities, taken on ``host_id``."""

    plan_id: int
    host_id: str
    kind: BackupKind
    name: str
    description: str | None = None


def check_host_admits(host: Host, kind: BackupKind, plan: Plan | None = None) -> None:
    """Raise the error (1010, 1011, 1012, 1013, 1014) that forbids a ``kind`` backup of
    ``host`` from ``plan``, in that order."""
    flags = host.settings
    if not flags.active:
        raise HostNotActive(f"host {host.host_id!r} is not active")
    if plan is not None and plan.has_staged_changes:
        raise UndeployedPlanChanges(
            f"plan {plan.plan_id} has staged changes; deploy them, then try again"
        )
    if kind == BackupKind.CONFIG and not flags.is_console:
        raise ConfigBackupNeedsConsole(
            f"host {host.host_id!r} is not the console; CONFIG backups run on the console"
        )
    if kind == BackupKind.DATA and not flags.stores_data:
        raise HostStoresNoData(f"host {host.host_id!r} does not store data")
    if kind == BackupKind.DATA and not flags.data_backups_configured:
        raise DataBackupsNotConfigured(f"host {host.host_id!r} is not configured for data backups")


def console_host_id(hosts: list[Host]) -> str:
    """The host a request without one means: ``default`` when it is a console, else the
    first registered console."""
    consoles = [h.host_id for h in hosts if h.settings.is_console]
    if DEFAULT_HOST_ID in consoles:
        return DEFAULT_HOST_ID
    if consoles:
        return consoles[0]
    raise UnknownHost("no console host is registered; give host_id")


def spec_from_plan(plan: Plan, request: PlanBackupRequest) -> BackupSpec:
    """The plan's deployed run (its entities, formats and type) with the request's name,
    description and kind, its scope moved to the requested host (tenant and group kept)."""
    spec = plan_backup_spec(plan)
    scope = Scope(
        host_id=request.host_id,
        tenant_id=spec.scope.tenant_id,
        group_id=spec.scope.group_id,
    )
    return spec.model_copy(
        update={
            "scope": scope,
            "name": request.name,
            "description": request.description,
            "kind": request.kind,
        }
    )
