"""Retention selection (domain.retention): examples a user would check by hand, and
properties over random histories against an independent oracle written with grouping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.retention import (
    FINISHED,
    RetentionCandidate,
    RetentionRules,
    expired_backups,
    kept_backups,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STATUSES = ["SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "MISSING", "IN_PROGRESS", "DELETING"]


def backup(hours_ago: float, status: str = "SUCCESS") -> RetentionCandidate:
    return RetentionCandidate(
        backup_id=uuid4(), started_at=NOW - timedelta(hours=hours_ago), status=status
    )


def test_no_rule_keeps_everything() -> None:
    history = [backup(h) for h in range(0, 500, 7)]
    assert expired_backups(history, RetentionRules(), NOW) == set()


def test_keep_last_keeps_the_newest_good_ones_only() -> None:
    newest, second, failed, old = backup(1), backup(2), backup(1.5, "FAILED"), backup(30)
    expired = expired_backups([old, failed, second, newest], RetentionRules(keep_last=2), NOW)
    assert expired == {old.backup_id, failed.backup_id}


def test_failures_never_push_good_backups_out() -> None:
    good = backup(48)
    failures = [backup(h, "FAILED") for h in (1, 2, 3)]
    expired = expired_backups([good, *failures], RetentionRules(keep_last=1), NOW)
    assert good.backup_id not in expired
    assert expired == {f.backup_id for f in failures}


def test_grandfather_father_son() -> None:
    # Two runs a day for 70 days: keep 3 daily, 2 weekly, 2 monthly.
    history = [backup(24 * day + hour) for day in range(70) for hour in (2, 14)]
    rules = RetentionRules(keep_daily=3, keep_weekly=2, keep_monthly=2)
    kept = kept_backups(history, rules, NOW)
    by_id = {b.backup_id: b.started_at for b in history}
    kept_times = sorted((by_id[k] for k in kept), reverse=True)
    # The newest of each of the last 3 days: today 10:00, then 22:00 the two days before.
    assert kept_times[:3] == [NOW - timedelta(hours=h) for h in (2, 14, 38)]
    # ...at most 3 + 2 + 2 in all (a backup may serve several rules), at least 3.
    assert 3 <= len(kept) <= 7
    # The newest of the previous month (October 2026) is the last run of 31 October.
    october = max(t for t in by_id.values() if t.month == 10)
    assert october in kept_times


def test_retention_days_keeps_failed_and_good_within_the_window() -> None:
    recent_failed, recent, old = backup(20, "FAILED"), backup(30), backup(24 * 8)
    expired = expired_backups([recent_failed, recent, old], RetentionRules(retention_days=7), NOW)
    assert expired == {old.backup_id}


def test_running_backups_are_never_expired() -> None:
    running = backup(24 * 90, "IN_PROGRESS")
    deleting = backup(24 * 90, "DELETING")
    assert expired_backups([running, deleting], RetentionRules(keep_last=1), NOW) == set()


# ----------------------------------------------------------------------------- properties
def oracle_kept(history: list[RetentionCandidate], rules: RetentionRules) -> set[UUID]:
    """An independent statement of the rules: group, take each group's newest, keep the
    N latest groups."""
    finished = [b for b in history if b.status in FINISHED]
    if not rules.any:
        return {b.backup_id for b in finished}
    good = [b for b in finished if b.status == "SUCCESS"]
    kept: set[UUID] = set()
    if rules.retention_days is not None:
        kept |= {
            b.backup_id
            for b in finished
            if NOW - b.started_at < timedelta(days=rules.retention_days)
        }
    if rules.keep_last is not None:
        ranked = sorted(good, key=lambda b: b.started_at)
        kept |= {b.backup_id for b in ranked[max(0, len(ranked) - rules.keep_last) :]}
    keys: dict[str, Callable[[datetime], object]] = {
        "keep_daily": lambda t: t.date(),
        "keep_weekly": lambda t: tuple(t.isocalendar())[:2],
        "keep_monthly": lambda t: (t.year, t.month),
    }
    for rule, key in keys.items():
        count = getattr(rules, rule)
        if count is None:
            continue
        groups: dict[object, RetentionCandidate] = {}
        for b in good:
            k = key(b.started_at)
            if k not in groups or b.started_at > groups[k].started_at:
                groups[k] = b
        latest = sorted(groups.items(), key=lambda item: item[1].started_at)[-count:]
        kept |= {b.backup_id for _, b in latest}
    return kept


histories = st.lists(
    st.builds(
        backup,
        hours_ago=st.floats(min_value=0, max_value=24 * 800, allow_nan=False),
        status=st.sampled_from(STATUSES),
    ),
    max_size=60,
    unique_by=lambda b: b.started_at,
)
counts = st.one_of(st.none(), st.integers(min_value=1, max_value=8))
rule_sets = st.builds(
    RetentionRules,
    retention_days=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    keep_last=counts,
    keep_daily=counts,
    keep_weekly=counts,
    keep_monthly=counts,
)


@settings(max_examples=300, deadline=None)
@given(history=histories, rules=rule_sets)
def test_expired_is_exactly_what_no_rule_keeps(
    history: list[RetentionCandidate], rules: RetentionRules
) -> None:
    expired = expired_backups(history, rules, NOW)
    finished = {b.backup_id for b in history if b.status in FINISHED}
    assert expired <= finished, "only finished backups may be deleted"
    assert expired == finished - oracle_kept(history, rules)


@settings(max_examples=200, deadline=None)
@given(history=histories, rules=rule_sets, extra=rule_sets)
def test_more_rules_never_delete_more(
    history: list[RetentionCandidate], rules: RetentionRules, extra: RetentionRules
) -> None:
    merged = RetentionRules(
        **{
            name: getattr(rules, name) if getattr(rules, name) is not None else value
            for name, value in extra.model_dump().items()
        }
    )
    if not rules.any:
        return
    assert expired_backups(history, merged, NOW) <= expired_backups(history, rules, NOW)


def test_groups_by_utc_day() -> None:
    """Backups either side of UTC midnight are different days, whatever their offset."""
    before = RetentionCandidate(
        backup_id=uuid4(), started_at=datetime(2026, 11, 22, 23, 30, tzinfo=UTC), status="SUCCESS"
    )
    after = RetentionCandidate(
        backup_id=uuid4(), started_at=datetime(2026, 11, 23, 0, 30, tzinfo=UTC), status="SUCCESS"
    )
    assert kept_backups([before, after], RetentionRules(keep_daily=2), NOW) == {
        before.backup_id,
        after.backup_id,
    }
