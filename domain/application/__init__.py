"""The application service: every command and query of Rewind's core, over ONE event store.

``RewindApplication`` is one eventsourcing Application composed of a mixin per concern:
hosts, plans, backups (admission and lineage), restores, jobs (the one command surface
for running jobs, and JobHandle), tokens and log queries, over a small base holding the
store, the retrying of lost write races and the reads by id. Mixins rather than service
objects because every concern must share the one repository, the one command lock and the
one admission queue, and callers keep a single object with every command on it. A mixin
that needs another's commands derives from it (plans and jobs from backups); the others
derive from the base only.

The persistence (SQLite or PostgreSQL, the mapper and transcoder) is chosen by the ``env``
the adapters pass in; this package does no I/O of its own.
"""

from __future__ import annotations

from domain.application.base import MAX_ATTEMPTS, SW_VERSION
from domain.application.hosts import HostCommands
from domain.application.jobs import JobCommands, JobHandle
from domain.application.log import LogQueries
from domain.application.plans import PlanCommands
from domain.application.restores import RestoreCommands
from domain.application.tokens import TokenCommands
from domain.errors import IllegalMove


class RewindApplication(
    HostCommands, PlanCommands, JobCommands, RestoreCommands, TokenCommands, LogQueries
):
    """Commands and queries over backups, restores, hosts, plans and tokens."""

    name = "rewind"


__all__ = ["MAX_ATTEMPTS", "SW_VERSION", "IllegalMove", "JobHandle", "RewindApplication"]
