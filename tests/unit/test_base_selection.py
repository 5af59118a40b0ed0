"""The base of an incremental or differential backup (domain.lineage), and the readability
of progress events stored before entities could be recorded as unchanged."""

from __future__ import annotations

from uuid import UUID, uuid4

from adapters.serialization import upcast
from domain.catalogue import BackupKind, BackupType
from domain.job import Job
from domain.lineage import BackupLineage, LineageEntry, choose_base, lineage_key
from domain.scope import Scope

FULL, INCREMENTAL, DIFFERENTIAL = BackupType.FULL, BackupType.INCREMENTAL, BackupType.DIFFERENTIAL


def entries(*types: BackupType) -> list[LineageEntry]:
    return [LineageEntry(backup_id=uuid4(), backup_type=t) for t in types]


def everything(_: UUID) -> bool:
    return True


def test_a_full_backup_has_no_base_whatever_came_before() -> None:
    choice = choose_base(FULL, entries(FULL, INCREMENTAL), everything, "plan:2")
    assert (choice.backup_type, choice.base_backup_id, choice.reason) == (FULL, None, "")


def test_an_incremental_bases_on_the_newest_usable_backup_of_any_type() -> None:
    lineage = entries(FULL, INCREMENTAL, DIFFERENTIAL)
    choice = choose_base(INCREMENTAL, lineage, everything, "plan:2")
    assert (choice.backup_type, choice.base_backup_id) == (INCREMENTAL, lineage[2].backup_id)


def test_a_differential_bases_on_the_newest_full_and_skips_unusable_ones() -> None:
    lineage = entries(FULL, FULL, INCREMENTAL, INCREMENTAL)
    deleted = {lineage[1].backup_id}
    choice = choose_base(DIFFERENTIAL, lineage, lambda b: b not in deleted, "plan:2")
    assert (choice.backup_type, choice.base_backup_id) == (DIFFERENTIAL, lineage[0].backup_id)


def test_an_incremental_skips_a_deleted_or_missing_predecessor() -> None:
    lineage = entries(FULL, INCREMENTAL)
    choice = choose_base(INCREMENTAL, lineage, lambda b: b != lineage[1].backup_id, "plan:2")
    assert choice.base_backup_id == lineage[0].backup_id


def test_without_a_usable_base_the_backup_runs_as_a_full_one_and_says_why() -> None:
    only_incrementals = entries(INCREMENTAL, INCREMENTAL)
    differential = choose_base(DIFFERENTIAL, only_incrementals, everything, "plan:4")
    assert (differential.backup_type, differential.base_backup_id) == (FULL, None)
    assert differential.reason == ("no earlier SUCCESS full backup of plan:4: ran as a full backup")
    nothing_left = choose_base(INCREMENTAL, entries(FULL), lambda _: False, "plan:4")
    assert (nothing_left.backup_type, nothing_left.base_backup_id) == (FULL, None)
    assert "no earlier SUCCESS backup of plan:4" in nothing_left.reason


def test_lineages_are_per_plan_else_per_scope_and_kind() -> None:
    scope = Scope(host_id="default", tenant_id="t1", group_id="g1")
    assert lineage_key(3, scope, BackupKind.CONFIG) == lineage_key(3, scope, BackupKind.DATA)
    config = lineage_key(None, scope, BackupKind.CONFIG)
    assert config != lineage_key(None, scope, BackupKind.DATA)
    other = Scope(host_id="default", tenant_id="t1", group_id="g2")
    assert config != lineage_key(None, other, BackupKind.CONFIG)
    assert BackupLineage.create_id(config) == BackupLineage.create_id(config)
    assert BackupLineage.create_id(config) != BackupLineage.create_id("plan:3")


def test_the_lineage_keeps_completions_in_order() -> None:
    lineage = BackupLineage(key="plan:2")
    first, second = uuid4(), uuid4()
    lineage.record(first, FULL)
    lineage.record(second, INCREMENTAL)
    assert [(e.backup_id, e.backup_type) for e in lineage.entries] == [
        (first, FULL),
        (second, INCREMENTAL),
    ]
    assert choose_base(DIFFERENTIAL, lineage.entries, everything, lineage.key).base_backup_id == (
        first
    )


def test_a_stored_version_2_progress_event_reads_as_changed() -> None:
    state = {
        "originator_id": str(uuid4()),
        "originator_version": 5,
        "timestamp": "2024-01-02T03:04:05.000006+00:00",
        "key": "t1/g1/group/ivr",
        "digest": "ab" * 32,
        "successful_calls": 1,
        "error_calls": 0,
        "principal": "worker:w1",
        "class_version": 2,
    }
    upcast(Job.EntitySucceeded, state)
    event = Job.EntitySucceeded.model_validate(state)
    assert event.unchanged is False
    assert event.successful_calls == 1
