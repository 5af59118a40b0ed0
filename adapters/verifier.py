"""Verification of a backup's artifacts (the lifecycle's SUCCESS <-> MISSING moves).

:func:`verify_backup` reads the backup's manifest and re-hashes every blob it lists
(:meth:`ArtifactStore.verify`). What it does with the outcome depends on the status:

* SUCCESS: a missing or unreadable manifest, or any missing or corrupt blob, records
  ``mark_missing`` with a reason naming the first bad digest and how many are bad; the
  backup becomes MISSING (``is_valid`` false). Intact: nothing is recorded.
* MISSING: when every blob is intact again, ``mark_intact`` makes it SUCCESS again; still
  broken: nothing is recorded (the first MarkedMissing already says so).
* FAILED: checked and reported, never moved (the lifecycle has no move for it; a failed
  backup normally keeps no manifest, so the report says so).
* INITIALIZING, IN_PROGRESS, CANCELLING, DELETING: refused with the domain's IllegalMove
  (HTTP 409, code 2001): their artifacts are still being written or removed.

It is blocking (file I/O and event-store writes): call it in a thread from async code.
:func:`run_periodic_verifier` is the loop ``rewind serve`` runs: every interval it verifies
a random share of the SUCCESS and MISSING backups, and logs (never raises) a failure.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import structlog

from adapters.artifacts import ArtifactStore, BlobCheck, Manifest, ManifestCorruptError
from domain.application import RewindApplication
from domain.errors import DomainError, IllegalMove
from domain.lifecycle import CONTENT_STATUSES, SETTLED_STATUSES, BackupStatus

log = structlog.get_logger("rewind.verifier")

VERIFIABLE = tuple(s.value for s in BackupStatus if s in SETTLED_STATUSES)
"""Statuses whose artifacts are settled; the others refuse verification (IllegalMove)."""

PERIODIC_STATUSES = [s.value for s in BackupStatus if s in CONTENT_STATUSES]
"""What the periodic verifier samples: the statuses a verification can move."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """One verification: the backup's status afterwards and what the re-hash found.

    ``checked`` counts the distinct blobs of the manifest, ``missing`` and ``corrupt`` the
    bad ones; ``reason`` is None when everything is intact, else why it is not.
    """

    backup_id: str
    status: str
    checked: int
    missing: int
    corrupt: int
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.reason is None


def inspect_artifacts(
    artifacts: ArtifactStore, backup_id: str, check: Callable[[str], BlobCheck]
) -> tuple[Manifest | None, int, int, int, str | None]:
    """Run ``check`` on every blob of a backup's manifest: ``(manifest, checked, missing,
    corrupt, reason)``; ``reason`` names the first bad digest, None when all pass."""
    try:
        manifest = artifacts.read_manifest(backup_id)
    except ManifestCorruptError as error:
        return None, 0, 0, 0, f"manifest unreadable: {error}"
    if manifest is None:
        return None, 0, 0, 0, "manifest missing"
    digests = sorted(manifest.digests())
    bad = [result for result in map(check, digests) if not result.ok]
    missing = sum(1 for result in bad if result.status == "missing")
    corrupt = len(bad) - missing
    if not bad:
        return manifest, len(digests), 0, 0, None
    first = bad[0]
    reason = (
        f"{len(bad)} of {len(digests)} blob(s) missing or corrupt "
        f"({missing} missing, {corrupt} corrupt); first: {first.digest} {first.status}"
    )
    if first.reason:
        reason += f" ({first.reason})"
    return manifest, len(digests), missing, corrupt, reason


def check_artifacts(artifacts: ArtifactStore, backup_id: str) -> tuple[int, int, int, str | None]:
    """Re-hash a backup's blobs: ``(checked, missing, corrupt, reason)``."""
    return inspect_artifacts(artifacts, backup_id, artifacts.verify)[1:]


def record_damage(app: RewindApplication, backup_id: UUID, reason: str, principal: str) -> str:
    """Mark a SUCCESS backup MISSING with ``reason``: the move a verification records when
    it finds damage, for whoever finds it (the verifier, an archive download). Any other
    status is left as it is (a MISSING one already says so); returns the status after."""
    backup = app.get_backup(backup_id)
    if backup.status != "SUCCESS":
        return str(backup.status)
    try:
        status = str(app.mark_missing(backup_id, reason, principal).status)
    except DomainError:  # moved meanwhile (verified, deleted): that move stands
        return str(app.get_backup(backup_id).status)
    log.warning(
        "backup artifacts missing", backup_id=str(backup_id), reason=reason, found_by=principal
    )
    return status


def verify_backup(
    app: RewindApplication, artifacts: ArtifactStore, backup_id: UUID, principal: str
) -> VerifyResult:
    """Verify one backup and record the move it calls for (see the module docstring).

    NotFound for an unknown backup, IllegalMove for a deleted one or one whose artifacts
    are not settled (running, cancelling, being deleted).
    """
    backup = app.get_backup(backup_id)
    if backup.purged:
        raise IllegalMove(f"backup {backup_id} was deleted; nothing to verify")
    if backup.status not in VERIFIABLE:
        raise IllegalMove(
            f"backup {backup_id} is {backup.status}; only a finished backup "
            f"({', '.join(VERIFIABLE)}) can be verified"
        )
    checked, missing, corrupt, reason = check_artifacts(artifacts, str(backup_id))
    status = str(backup.status)
    if status == "SUCCESS" and reason is not None:
        status = record_damage(app, backup_id, reason, principal)
    elif status == "MISSING" and reason is None:
        status = app.mark_intact(backup_id, principal).status
        log.info("backup artifacts intact again", backup_id=str(backup_id))
    return VerifyResult(str(backup_id), status, checked, missing, corrupt, reason)


def sample(ids: list[str], share: float, rng: random.Random) -> list[str]:
    """A random ``share`` (0..1) of ``ids``; at least one when share > 0 and ids exist."""
    if share <= 0 or not ids:
        return []
    count = min(len(ids), max(1, math.ceil(len(ids) * share)))
    return rng.sample(ids, count)


async def verify_sample(
    app: RewindApplication,
    artifacts: ArtifactStore,
    candidates: Callable[[], list[str]],
    share: float,
    principal: str = "verifier",
    rng: random.Random | None = None,
) -> list[VerifyResult]:
    """One round: verify a random ``share`` of ``candidates()`` (blocking, so in threads).

    A backup that fails to verify (deleted meanwhile, a store error) is logged and skipped,
    so one bad backup never stops the round.
    """
    ids = await asyncio.to_thread(candidates)
    results: list[VerifyResult] = []
    for backup_id in sample(ids, share, rng or random.Random()):
        try:
            result = await asyncio.to_thread(
                verify_backup, app, artifacts, UUID(backup_id), principal
            )
        except DomainError as error:
            log.info("backup not verified", backup_id=backup_id, reason=error.message)
            continue
        except Exception:
            log.exception("verification failed", backup_id=backup_id)
            continue
        results.append(result)
    return results


async def run_periodic_verifier(
    app: RewindApplication,
    artifacts: ArtifactStore,
    candidates: Callable[[], list[str]],
    *,
    interval_seconds: float,
    share: float,
    principal: str = "verifier",
    on_round: Callable[[list[VerifyResult]], None] | None = None,
) -> None:
    """Every ``interval_seconds``, verify a random ``share`` of ``candidates()`` (ids of
    SUCCESS and MISSING backups), until cancelled. A failed round is logged and the loop
    goes on. ``on_round`` receives each round's results (tests, metrics)."""
    rng = random.Random()
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            results = await verify_sample(app, artifacts, candidates, share, principal, rng)
        except Exception:
            log.exception("verification round failed")
            continue
        bad = [r.backup_id for r in results if not r.intact]
        log.info("verification round", verified=len(results), not_intact=len(bad))
        if on_round is not None:
            on_round(results)


__all__ = [
    "PERIODIC_STATUSES",
    "VerifyResult",
    "check_artifacts",
    "inspect_artifacts",
    "record_damage",
    "run_periodic_verifier",
    "sample",
    "verify_backup",
    "verify_sample",
]
