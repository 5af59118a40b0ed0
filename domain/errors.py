"""Domain errors: each carries a stable numeric code, an HTTP status and a message.

Codes 1000-1016 are seed 001's (QRadar) where the meaning coincides, so that dialect can
answer with them unchanged; codes from 2000 up are Rewind's own. A code never changes meaning
once released: clients and scripts match on it.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused. Nothing was recorded."""

    code: int = 2000
    status: int = 409

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class NameTaken(DomainError):
    """Backup names are unique (seed 001, 1005)."""

    code = 1005


class BackupInProgress(DomainError):
    """A backup of an overlapping scope is active (seed 001, 1015)."""

    code = 1015


class RestoreInProgress(DomainError):
    """A restore is active on the host (seed 001, 1016)."""

    code = 1016


class UnknownPlan(DomainError):
    """The backup configuration does not exist (seed 001, 1007)."""

    code = 1007
    status = 422


class UnknownHost(DomainError):
    """The backup host does not exist (seed 001, 1009)."""

    code = 1009
    status = 422


class HostNotActive(DomainError):
    """The host is registered but not active: nothing is backed up from it (seed 001, 1010)."""

    code = 1010
    status = 422


class UndeployedPlanChanges(DomainError):
    """The plan has staged changes not yet deployed: a backup would run a configuration
    nobody has confirmed (seed 001, 1011)."""

    code = 1011


class ConfigBackupNeedsConsole(DomainError):
    """A CONFIG backup runs only on a console host (seed 001, 1012)."""

    code = 1012
    status = 422


class HostStoresNoData(DomainError):
    """A DATA backup needs a host that stores data (recordings) (seed 001, 1013)."""

    code = 1013
    status = 422


class DataBackupsNotConfigured(DomainError):
    """The host stores data but is not configured for data backups (seed 001, 1014)."""

    code = 1014
    status = 422


class IllegalMove(DomainError):
    """The lifecycle table has no row for this move from the job's current status."""

    code = 2001


class EntityAlreadyRecorded(DomainError):
    """Each entity's outcome is recorded once; a resumed job must skip what is done."""

    code = 2002


class LeaseHeld(DomainError):
    """Another worker holds a lease on the job that has not expired."""

    code = 2003


class NotLeaseHolder(DomainError):
    """Only the worker holding the lease records progress; a worker that lost it stops."""

    code = 2004


class HostAlreadyRegistered(DomainError):
    """Host ids are unique."""

    code = 2005


class NotFound(DomainError):
    """No job, host or plan with that id."""

    code = 2006
    status = 404


class InvalidRequest(DomainError):
    """A command's arguments break a domain rule (an unknown entity name, an empty scope)."""

    code = 2007
    status = 400


class WaitingForPredecessor(DomainError):
    """A forced backup is claimed only after the backups it cancelled have stopped."""

    code = 2008


class ConcurrentUpdate(DomainError):
    """The event store kept refusing the write because others wrote the same aggregates."""

    code = 2009


class BackupNotRestorable(DomainError):
    """Only a SUCCESS backup can be restored."""

    code = 2010


class IncompleteBackup(DomainError):
    """The backup could not read part of its scope: a whole-scope restore of it runs only
    when the request accepts that what the backup missed is skipped (``allow_partial``)."""

    code = 2011
