"""Every (state, command) pair of backups and restores, checked against a table written here
by hand from the meaning of the seven states (a backup is INITIALIZING until a worker takes
it, IN_PROGRESS while it runs, SUCCESS or FAILED once it ends, CANCELLING when a client
stopped or deleted it while it ran, DELETING once its deletion was accepted, MISSING when its
artifacts vanished) and the lifecycle the service promises.

The property-based tests (test_lifecycle_properties) take their model from domain.lifecycle,
so a wrong row there cannot fail them; this table is written independently on purpose and
must never be generated from that module. Each pair is played on the aggregates themselves:
a refused command raises IllegalMove (answered 409), records nothing and leaves the job as it
was; an accepted one records exactly one event (none for a repeated cancel or delete) and
leads to the status written here, which a replay of the recorded events agrees with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.backup import Backup, BackupSpec
from domain.errors import IllegalMove
from domain.job import Job
from domain.restore import Restore, RestoreSpec
from domain.scope import Scope

WORKER = "w1"
PRINCIPAL = "alice"
LEASE = 60.0
KEY = "t1/g1/group/profile"

# Cells: "-" refused (IllegalMove, nothing recorded); "=" accepted as a repeat of a stop or
# delete already under way (nothing recorded); "stays" accepted, one event recorded, the
# status unchanged; a state name: accepted, one event recorded, the job is now in that state.
# Two states are finer than the status: CANCELLING+del is a running backup whose delete was
# asked for (the worker's acknowledgement goes on to DELETING, where a plain CANCELLING ends
# FAILED "cancelled"), and GONE is a DELETING backup whose artifacts were purged (out of every
# view; nothing can happen to it any more).
REFUSED, REPEAT, STAYS = "-", "=", "stays"

# What a backup in each state may do next: the moves of every job...
BACKUP_JOB_MOVES = """
state           claim        resume  resolve  record  complete  fail    cancel      acknowledge
INITIALIZING    IN_PROGRESS  -       -        -       -         FAILED  CANCELLING  -
IN_PROGRESS     -            stays   stays    stays   SUCCESS   FAILED  CANCELLING  -
CANCELLING      -            -       -        -       -         -       =           FAILED
CANCELLING+del  -            -       -        -       -         -       =           DELETING
SUCCESS         -            -       -        -       -         -       -           -
FAILED          -            -       -        -       -         -       -           -
MISSING         -            -       -        -       -         -       -           -
DELETING        -            -       -        -       -         -       -           -
GONE            -            -       -        -       -         -       -           -
"""

# ...and the moves only backups have: deletion and verification.
BACKUP_OWN_MOVES = """
state           delete          purge  mark_missing  mark_intact
INITIALIZING    CANCELLING+del  -      -             -
IN_PROGRESS     CANCELLING+del  -      -             -
CANCELLING      CANCELLING+del  -      -             -
CANCELLING+del  =               -      -             -
SUCCESS         DELETING        -      MISSING       -
FAILED          DELETING        -      -             -
MISSING         DELETING        -      -             SUCCESS
DELETING        =               GONE   -             -
GONE            -               -      -             -
"""

# Restores run and end like backups, and are never deleted, verified or marked missing.
RESTORE_MOVES = """
state           claim        resume  resolve  record  complete  fail    cancel      acknowledge
INITIALIZING    IN_PROGRESS  -       -        -       -         FAILED  CANCELLING  -
IN_PROGRESS     -            stays   stays    stays   SUCCESS   FAILED  CANCELLING  -
CANCELLING      -            -       -        -       -         -       =           FAILED
SUCCESS         -            -       -        -       -         -       -           -
FAILED          -            -       -        -       -         -       -           -
"""

_DONE = ["claim", "resolve", "record:success", "complete"]
PATHS = {
    "INITIALIZING": [],
    "IN_PROGRESS": ["claim"],
    "CANCELLING": ["claim", "cancel"],
    "CANCELLING+del": ["claim", "delete"],
    "SUCCESS": _DONE,
    "FAILED": ["claim", "fail"],
    "MISSING": [*_DONE, "mark_missing"],
    "DELETING": [*_DONE, "delete"],
    "GONE": [*_DONE, "delete", "purge"],
}
"""How a job is brought into each state: commands played from its request."""


def parse(*tables: str) -> dict[tuple[str, str], str]:
    parsed: dict[tuple[str, str], str] = {}
    for table in tables:
        header, *rows = (line.split() for line in table.strip().splitlines())
        commands = header[1:]
        for state, *cells in rows:
            assert len(cells) == len(commands), f"row {state} has {len(cells)} cells"
            for command, cell in zip(commands, cells, strict=True):
                parsed[(state, command)] = cell
    return parsed


BACKUP_TABLE = parse(BACKUP_JOB_MOVES, BACKUP_OWN_MOVES)
RESTORE_TABLE = parse(RESTORE_MOVES)


# ----------------------------------------------------------------------------- jobs
def _new_backup() -> Backup:
    scope = Scope(host_id="default", tenant_id="t1", group_id="g1")
    return Backup(BackupSpec(scope=scope), (), "test", PRINCIPAL)


def _new_restore() -> Restore:
    return Restore(RestoreSpec(backup_id=uuid4(), target=Scope(host_id="default")), PRINCIPAL)


def _commands(job: Job) -> dict[str, Callable[[], object]]:
    """Each command as the worker or a client gives it (the worker being the lease holder,
    so that only the lifecycle decides)."""
    now = datetime.now(UTC)
    commands: dict[str, Callable[[], object]] = {
        "claim": lambda: job.claim(WORKER, LEASE, PRINCIPAL),
        "resume": lambda: job.resume(WORKER, LEASE, now, PRINCIPAL),
        "resolve": lambda: job.resolve_scope(WORKER, 3, PRINCIPAL),
        "record:success": lambda: job.record_success(WORKER, KEY, "1" * 64, 1, 0, PRINCIPAL),
        "record:error": lambda: job.record_error(WORKER, KEY, "refused", 0, 1, PRINCIPAL),
        "record:ignored": lambda: job.record_ignored(WORKER, KEY, "not served", PRINCIPAL),
        "complete": lambda: job.complete(WORKER, 10, None, PRINCIPAL),
        "fail": lambda: job.fail("the PBX is gone", PRINCIPAL),
        "cancel": lambda: job.cancel(PRINCIPAL),
        "acknowledge": lambda: job.acknowledge_cancel(f"worker:{WORKER}"),
    }
    if isinstance(job, Backup):
        commands |= {
            "delete": lambda: job.delete(PRINCIPAL),
            "purge": lambda: job.purge(1, PRINCIPAL),
            "mark_missing": lambda: job.mark_missing("blob gone", PRINCIPAL),
            "mark_intact": lambda: job.mark_intact(PRINCIPAL),
        }
    return commands


def _job_in(kind: str, state: str) -> Job:
    job: Job = _new_backup() if kind == "backup" else _new_restore()
    for command in PATHS[state]:
        _commands(job)[command]()
    return job


def _is_in(job: Job, state: str) -> bool:
    """Whether the job is in ``state`` as the tables name states."""
    deleting = isinstance(job, Backup) and job.delete_requested
    purged = isinstance(job, Backup) and job.purged
    if state == "GONE":
        return job.status == "DELETING" and purged
    if state == "CANCELLING+del":
        return job.status == "CANCELLING" and deleting
    if state == "CANCELLING":
        return job.status == "CANCELLING" and not deleting
    return job.status == state and not purged


@dataclass(frozen=True)
class Case:
    kind: str
    state: str
    command: str
    expected: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.state}:{self.command}"


def _cases() -> list[Case]:
    cases = []
    for kind, table in (("backup", BACKUP_TABLE), ("restore", RESTORE_TABLE)):
        for (state, command), expected in table.items():
            variants = [f"record:{o}" for o in ("success", "error", "ignored")]
            for name in variants if command == "record" else [command]:
                cases.append(Case(kind, state, name, expected))
    return cases


CASES = _cases()


def _replayed(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_command_in_each_state_does_what_the_table_says(case: Case) -> None:
    job = _job_in(case.kind, case.state)
    assert _is_in(job, case.state)
    history = list(job.collect_events())
    status, version = job.status, job.version
    command = _commands(job)[case.command]

    if case.expected == REFUSED:
        with pytest.raises(IllegalMove) as refused:
            command()
        assert refused.value.status == 409
        assert (job.status, job.version) == (status, version)
        assert list(job.collect_events()) == []
        return

    command()
    recorded = list(job.collect_events())
    if case.expected == REPEAT:
        assert recorded == [], "a repeated stop or delete recorded something"
        assert (job.status, job.version) == (status, version)
        return
    assert len(recorded) == 1
    expected = case.state if case.expected == STAYS else case.expected
    assert _is_in(job, expected), (job.status, expected)
    replayed = _replayed(history + recorded)
    assert _is_in(replayed, expected)
    assert replayed.version == job.version


def test_the_tables_name_every_state_and_every_command() -> None:
    seven = {"INITIALIZING", "IN_PROGRESS", "SUCCESS", "FAILED", "CANCELLING", "DELETING"}
    seven.add("MISSING")
    backup_states = {state for state, _ in BACKUP_TABLE}
    assert backup_states == set(PATHS)
    assert {s.split("+")[0] for s in backup_states} - {"GONE"} == seven
    restore_states = {state for state, _ in RESTORE_TABLE}
    assert restore_states == {"INITIALIZING", "IN_PROGRESS", "CANCELLING", "SUCCESS", "FAILED"}
    # Every command each aggregate has is in its table (the record column stands for three),
    # and every state has a cell for each.
    for table, job in ((BACKUP_TABLE, _new_backup()), (RESTORE_TABLE, _new_restore())):
        states = {state for state, _ in table}
        columns = {command for _, command in table}
        assert columns == {c.split(":")[0] for c in _commands(job)}
        assert len(table) == len(states) * len(columns)


def test_a_cancel_after_the_last_entity_ends_the_job_failed_never_success() -> None:
    """Every entity is recorded, then a client cancels before the worker completes: the
    completion is refused, and the worker's acknowledgement ends it FAILED "cancelled"."""
    for job in (_new_backup(), _new_restore()):
        job.claim(WORKER, LEASE, PRINCIPAL)
        job.resolve_scope(WORKER, 2, PRINCIPAL)
        job.record_success(WORKER, "k1", "1" * 64, 1, 0, PRINCIPAL)
        job.record_ignored(WORKER, "k2", "not served", PRINCIPAL)
        assert job.done == job.total
        job.cancel(PRINCIPAL)
        with pytest.raises(IllegalMove):
            job.complete(WORKER, 10, None, PRINCIPAL)
        job.acknowledge_cancel(f"worker:{WORKER}")
        assert (job.status, job.failure_reason) == ("FAILED", "cancelled")
        assert job.ended_at is not None


def test_a_failed_job_says_why_it_ended() -> None:
    """FAILED by the worker keeps its reason; FAILED by a cancel says "cancelled"."""
    failed = _job_in("backup", "FAILED")
    assert failed.failure_reason == "the PBX is gone"
    for kind in ("backup", "restore"):
        cancelled = _job_in(kind, "CANCELLING")
        _commands(cancelled)["acknowledge"]()
        assert (cancelled.status, cancelled.failure_reason) == ("FAILED", "cancelled")
