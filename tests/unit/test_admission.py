"""Which backups a host's flags admit (domain.admission): the rules behind seed 001's 1010 and
1012-1014, checked in the order the document lists them."""

from __future__ import annotations

import pytest

from domain.admission import check_host_admits
from domain.catalogue import BackupKind
from domain.errors import (
    ConfigBackupNeedsConsole,
    DataBackupsNotConfigured,
    DomainError,
    HostNotActive,
    HostStoresNoData,
    UndeployedPlanChanges,
)
from domain.host import Host, HostSettings
from domain.plan import Plan, default_plan_settings

CONFIG, DATA = BackupKind.CONFIG, BackupKind.DATA


def host(**flags: bool) -> Host:
    return Host(host_id="h", settings=HostSettings(name="h", base_url="http://h", **flags),
                principal="test")  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "kind", "error", "code"),
    [
        ({"active": False}, CONFIG, HostNotActive, 1010),
        ({"active": False, "is_console": False, "stores_data": False}, DATA, HostNotActive, 1010),
        ({"is_console": False}, CONFIG, ConfigBackupNeedsConsole, 1012),
        ({"stores_data": False}, DATA, HostStoresNoData, 1013),
        ({"stores_data": False, "data_backups_configured": False}, DATA, HostStoresNoData, 1013),
        ({"data_backups_configured": False}, DATA, DataBackupsNotConfigured, 1014),
    ],
)
def test_refusals(flags: dict[str, bool], kind: BackupKind, error: type[DomainError],
                  code: int) -> None:  # fmt: skip
    with pytest.raises(error) as raised:
        check_host_admits(host(**flags), kind)
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ({}, CONFIG),
        ({}, DATA),
        ({"is_console": False}, DATA),
        ({"stores_data": False, "data_backups_configured": False}, CONFIG),
    ],
)
def test_what_the_flags_allow(flags: dict[str, bool], kind: BackupKind) -> None:
    check_host_admits(host(**flags), kind)


def test_a_plan_with_staged_changes_is_refused_after_an_inactive_host() -> None:
    plan = Plan(plan_id=2, settings=default_plan_settings(), principal="test")
    check_host_admits(host(), CONFIG, plan)
    plan.stage(default_plan_settings().model_copy(update={"cron": "0 2 * * *"}), "test")
    with pytest.raises(UndeployedPlanChanges):
        check_host_admits(host(), CONFIG, plan)
    with pytest.raises(HostNotActive):
        check_host_admits(host(active=False), CONFIG, plan)
    plan.deploy("test")
    check_host_admits(host(), CONFIG, plan)
