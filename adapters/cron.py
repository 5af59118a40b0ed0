"""Cron expressions of plans: five fields (minute hour day-of-month month day-of-week),
evaluated in UTC with croniter. Seconds fields and other extensions are refused, so an
expression means the same thing here as in any crontab.

A well-formed expression can still name no date that exists (``0 0 31 2 *``: 31 February).
Such a cron is refused at the API (it would never fire), and one already stored by an older
version has no tick at all: the tick functions answer None for it rather than raise, so a
plan holding one still reads (next run null) and the scheduler passes it by.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter


def check_cron(expression: str) -> str:
    """The expression, stripped, or ValueError saying what is wrong with it."""
    cleaned = " ".join(expression.split())
    if len(cleaned.split(" ")) != 5:
        raise ValueError(
            f"cron must have 5 fields (minute hour day-of-month month day-of-week), "
            f"got {expression!r}"
        )
    if not croniter.is_valid(cleaned):
        raise ValueError(f"cron is not a valid cron expression: {expression!r}")
    if not fires(cleaned):
        raise ValueError(
            f"cron never fires: {expression!r} names no date that exists "
            f"(day of month and month never meet, e.g. 31 February)"
        )
    return cleaned


def fires(expression: str) -> bool:
    """Whether the expression has any tick at all (a date it names exists)."""
    return next_tick(expression, datetime.now(UTC)) is not None


def latest_tick(expression: str, now: datetime) -> datetime | None:
    """The latest tick at or before ``now`` (ticks fall on whole minutes); None when the
    expression never fires."""
    start = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        tick: datetime = croniter(expression, start).get_prev(datetime)
    except CroniterBadDateError:
        return None
    return tick


def next_tick(expression: str, after: datetime) -> datetime | None:
    """The first tick strictly after ``after``; None when the expression never fires."""
    try:
        tick: datetime = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    except CroniterBadDateError:
        return None
    return tick


def due_tick(expression: str, since: datetime, now: datetime) -> datetime | None:
    """The tick to fire now: the latest one in (since, now], or None. However many ticks
    were missed (the scheduler was down), only the latest is returned: one catch-up run."""
    tick = latest_tick(expression, now)
    return tick if tick is not None and tick > since else None
