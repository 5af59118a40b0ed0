"""Which finished backups of a plan its retention rules let go (pure: no I/O, no clock).

The rules of a plan (domain.plan.PlanSettings) combine like restic's and borg's "keep"
options: a backup kept by ANY rule stays; when no rule is set, every backup stays.

* ``retention_days``: every finished backup started less than N days before ``now``.
* ``keep_last``: the N newest SUCCESS backups.
* ``keep_daily`` / ``keep_weekly`` / ``keep_monthly``: the newest SUCCESS backup of each of
  the N most recent UTC days (ISO weeks, calendar months) that have a SUCCESS backup
  (grandfather-father-son). Periods without a backup do not use up the count, so a plan
  that stopped running for a while still keeps N of each.

Only finished backups (SUCCESS, FAILED, MISSING) are candidates; the caller never passes a
running or already-deleting one, and this function ignores any it is given. The count rules
pick only SUCCESS backups (restorable ones): a run of failures must never push the last
good backups out. A FAILED or MISSING backup is kept by ``retention_days`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.lifecycle import SETTLED_STATUSES
from domain.model import Immutable

FINISHED = SETTLED_STATUSES
"""Statuses a retention may delete from (the lifecycle's delete move)."""


class RetentionCandidate(Immutable):
    """One backup of the plan, as retention sees it."""

    backup_id: UUID
    started_at: datetime
    status: str


class RetentionRules(Immutable):
    """The retention part of a plan's settings (each None = rule not set)."""

    retention_days: int | None = None
    keep_last: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None

    @property
    def any(self) -> bool:
        return any(value is not None for value in self.model_dump().values())


PeriodKey = Callable[[datetime], tuple[int, ...]]


def _day(moment: datetime) -> tuple[int, ...]:
    utc = moment.astimezone(UTC)
    return (utc.year, utc.month, utc.day)


def _week(moment: datetime) -> tuple[int, ...]:
    iso = moment.astimezone(UTC).isocalendar()
    return (iso.year, iso.week)


def _month(moment: datetime) -> tuple[int, ...]:
    utc = moment.astimezone(UTC)
    return (utc.year, utc.month)


def newest_per_period(
    backups: Iterable[RetentionCandidate], count: int, period: PeriodKey
) -> set[UUID]:
    """The newest backup of each of the ``count`` most recent periods that have one."""
    kept: set[UUID] = set()
    seen: set[tuple[int, ...]] = set()
    for backup in sorted(backups, key=lambda b: b.started_at, reverse=True):
        key = period(backup.started_at)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        kept.add(backup.backup_id)
    return kept


def kept_backups(
    candidates: Iterable[RetentionCandidate], rules: RetentionRules, now: datetime
) -> set[UUID]:
    """The ids the rules keep (every finished candidate when no rule is set)."""
    finished = [c for c in candidates if c.status in FINISHED]
    if not rules.any:
        return {c.backup_id for c in finished}
    kept: set[UUID] = set()
    if rules.retention_days is not None:
        horizon = now - timedelta(days=rules.retention_days)
        kept |= {c.backup_id for c in finished if c.started_at > horizon}
    good = [c for c in finished if c.status == "SUCCESS"]
    if rules.keep_last is not None:
        newest = sorted(good, key=lambda c: c.started_at, reverse=True)[: rules.keep_last]
        kept |= {c.backup_id for c in newest}
    for count, period in (
        (rules.keep_daily, _day),
        (rules.keep_weekly, _week),
        (rules.keep_monthly, _month),
    ):
        if count is not None:
            kept |= newest_per_period(good, count, period)
    return kept


def expired_backups(
    candidates: Iterable[RetentionCandidate], rules: RetentionRules, now: datetime
) -> set[UUID]:
    """The finished candidates no rule keeps: what retention deletes."""
    listed = list(candidates)
    kept = kept_backups(listed, rules, now)
    return {c.backup_id for c in listed if c.status in FINISHED and c.backup_id not in kept}
