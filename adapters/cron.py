"""Cron expressions of plans: five fields (minute hour day-of-month month day-of-week),
evaluated in UTC with croniter. Seconds fields and other extensions are refused, so an
expression means the same thing here as in any crontab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter


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
    return cleaned


def latest_tick(expression: str, now: datetime) -> datetime:
    """The latest tick at or before ``now`` (ticks fall on whole minutes)."""
    start = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    tick: datetime = croniter(expression, start).get_prev(datetime)
    return tick


def next_tick(expression: str, after: datetime) -> datetime:
    """The first tick strictly after ``after``."""
    tick: datetime = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    return tick


def due_tick(expression: str, since: datetime, now: datetime) -> datetime | None:
    """The tick to fire now: the latest one in (since, now], or None. However many ticks
    were missed (the scheduler was down), only the latest is returned: one catch-up run."""
    tick = latest_tick(expression, now)
    return tick if tick > since else None
