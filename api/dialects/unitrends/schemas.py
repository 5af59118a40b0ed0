"""The Unitrends dialect's request and answer (seed 004, ``POST /api/backups``).

Filters, all optional and combined with AND: ``system_id``, ``client_id``, ``instance_id``
(numbers of a host, a tenant, a group: see the routes module),
``type`` (backup types, by
their pretty name, case-insensitive), ``start_time`` / ``end_time`` (epoch seconds bounding
the start), ``start_day`` / ``end_day`` (``mm/dd/yyyy``, UTC, whole days: the same day twice
is that one day), ``finish_interval_start`` / ``finish_interval_end`` (epoch seconds bounding
the end), ``start_hours`` (started within the past N hours), ``end_hours`` (finished within
the past N hours) and ``backup_ids``.

Each backup answers the seed's fields in the seed's formats; those Rewind has no source for
are constants, documented on the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.catalogue import BackupType

DAY_FORMAT = "%m/%d/%Y"
DAY_PATTERN = r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])/(19|20|21)\d{2}$"
"""mm/dd/yyyy (a day the calendar lacks, 02/30, passes the pattern and is refused)."""
MAX_EPOCH = 253402300799
"""9999-12-31T23:59:59Z: the last second a datetime can hold."""
MAX_HOURS = 24 * 365 * 100

Epoch = Annotated[int, Field(ge=0, le=MAX_EPOCH)]
Hours = Annotated[int, Field(ge=0, le=MAX_HOURS)]
Number = Annotated[int, Field(ge=0, le=2**63 - 1)]

PRETTY_TYPES = {t.value: t.value.capitalize() for t in BackupType}
"""Seed 004's "pretty-printed backup type" of each of Rewind's types."""

Status = Literal["None", "Success", "Warning", "Failure"]
ReplicationStatus = Literal["Not Applicable", "Needed", "Completed", "In Progress", "Waiting"]
VerifyStatus = Literal["Not Applicable", "Successful", "Failed"]


def parse_day(value: str, field: str) -> date:
    try:
        return datetime.strptime(value, DAY_FORMAT).replace(tzinfo=UTC).date()
    except ValueError:
        raise ValueError(f"{field}: expected mm/dd/yyyy, got {value[:40]!r}") from None


def always_false(why: str) -> Any:
    """A field Rewind has no source for: the constant false, and why."""
    return Field(default=False, description=f"always false: {why}")


class BackupsQuery(BaseModel):
    """``POST /api/backups``'s body."""

    model_config = ConfigDict(extra="forbid")

    system_id: Number | None = None
    client_id: Number | None = None
    instance_id: Number | None = None
    type: list[str] | None = Field(
        default=None,
        max_length=16,
        json_schema_extra={"items": {"enum": [*PRETTY_TYPES.values(), *PRETTY_TYPES]}},
    )
    start_time: Epoch | None = None
    end_time: Epoch | None = None
    start_day: str | None = Field(default=None, pattern=DAY_PATTERN)
    end_day: str | None = Field(default=None, pattern=DAY_PATTERN)
    finish_interval_start: Epoch | None = None
    finish_interval_end: Epoch | None = None
    start_hours: Hours | None = None
    end_hours: Hours | None = None
    backup_ids: list[Number] | None = Field(default=None, max_length=1000)

    @field_validator("type")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        known = {pretty.lower(): name for name, pretty in PRETTY_TYPES.items()}
        unknown = [v for v in value if v.lower() not in known]
        if unknown:
            allowed = ", ".join(PRETTY_TYPES.values())
            raise ValueError(f"type: unknown backup types {unknown}; allowed: {allowed}")
        return sorted({known[v.lower()] for v in value})

    @field_validator("start_day", "end_day")
    @classmethod
    def _day(cls, value: str | None, info: object) -> str | None:
        if value is not None:
            parse_day(value, getattr(info, "field_name", "day"))
        return value


class UnitrendsBackup(BaseModel):
    """One backup as seed 004 returns it. Fields the seed returns only "for" kinds of
    backups Rewind does not make (sync, Hyper-V, VMware, SQL Server, virtual restores) are
    left out."""

    id: int = Field(description="the backup's number (the log position of its first event)")
    client_id: int = Field(description="number of the tenant (of the host, for a host backup)")
    client_name: str = Field(description="the tenant id (the host id, for a host backup)")
    instance_id: int | None = Field(default=None, description="number of the group")
    instance_name: str | None = Field(default=None, description="the group id")
    type: str = Field(description="Full, Incremental or Differential")
    start_date_time: str = Field(description='UTC, "mm/dd/yyyy hh:mm am"')
    duration: str = Field(description='"hh:mm:ss" from start to end (to now while running)')
    complete: bool = Field(description="it has ended (SUCCESS, FAILED or MISSING)")
    status: Status = Field(
        description="None while running, Success, Warning (SUCCESS with errors), Failure "
        "(FAILED, or MISSING: its artifacts are gone or corrupt)"
    )
    size: int = Field(description="size on disk in MB (MiB), rounded up")
    files: int = Field(description="entities stored")
    encrypted: Literal[False] = always_false("artifacts are compressed, not encrypted")
    replication_status: ReplicationStatus = Field(
        default="Not Applicable", description="always Not Applicable: Rewind does not replicate"
    )
    verified: bool = Field(description="its artifacts were hashed and checked (SUCCESS, MISSING)")
    verify_status: VerifyStatus = Field(
        description="Successful (SUCCESS), Failed (MISSING), Not Applicable otherwise"
    )
    synthesized: Literal[False] = always_false("every backup is a real run")
    synth_capable: Literal[False] = always_false("no synthesis groups")
    disk_metadata: Literal[False] = always_false("no disk images")
    client_config: Literal[False] = always_false("no virtual clients")
    replicated: Literal[False] = always_false("nothing comes from another system")
    vmware_template: Literal[False] = always_false("no virtual machines")
    certified: Literal[False] = always_false("no recovery assurance runs")
    storage: str = Field(description='"artifacts" (the local artifact store); "" if none')
    output: str = Field(description="the outcome: entities and calls, or the failure reason")
    purgeable: bool = Field(description="it has ended and is not `last`")
    last: bool = Field(description="the newest SUCCESS backup of its scope")
    legalhold: Literal[False] = always_false("no legal holds")
    gfs_rp_type: Literal[""] = Field(default="", description='always "": no GFS retention')


class BackupsAnswer(BaseModel):
    backups: list[UnitrendsBackup]
