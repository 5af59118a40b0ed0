"""QRadar's ids are Longs; Rewind's are UUIDs. The mapping is a pure function of the UUID,
so it holds in every process and after every restart, with nothing stored.

``long_id`` keeps 52 of the UUID's random bits: its first 12 hex digits and the 14th (the
13th is the UUID's version digit, the same for every id, so it carries no information).
52 bits stay below 2**53, so JavaScript clients read the number exactly. Going back,
``uuid_like_pattern`` turns a Long into a SQL LIKE pattern that matches exactly the UUIDs
with those bits (``_`` stands for the version digit). Two backups share a Long only when
their UUIDs agree on those 52 random bits: with n backups the chance is about n²/2**53
(one in nine billion for a thousand backups).

Hosts get the same treatment through their aggregate id (``host_uuid``, a uuid5 of the
host's short id), so a host's Long is fixed by its name in Rewind.
"""

from __future__ import annotations

from uuid import UUID

from domain.host import host_uuid

MAX_LONG_ID = (1 << 52) - 1


def long_id(value: UUID) -> int:
    """The QRadar Long of a Rewind UUID."""
    digits = value.hex
    return int(digits[:12] + digits[13], 16)


def host_long_id(host_id: str) -> int:
    """The QRadar Long of a Rewind host (``default`` and every registered host)."""
    return long_id(host_uuid(host_id))


def uuid_like_pattern(number: int) -> str | None:
    """A LIKE pattern matching the canonical text of every UUID whose Long is ``number``;
    None when no UUID can have it."""
    if not 0 <= number <= MAX_LONG_ID:
        return None
    digits = f"{number:013x}"
    return f"{digits[:8]}-{digits[8:12]}-_{digits[12]}%"
