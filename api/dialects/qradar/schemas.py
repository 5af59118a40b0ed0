"""The QRadar dialect's resources and request parsing (seed 001).

The create body is read field by field, not by a strict model, because the document gives
each problem its own code (1002-1008) and says that "any other set fields will be ignored".
Wrong JSON types the document does not cover answer 400 (2007) naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, RootModel

from api.core.openapi import variant
from api.dialects.qradar.errors import QRadarError, invalid
from api.dialects.qradar.fields import FieldTree
from api.dialects.qradar.ids import host_long_id, long_id
from domain.application import SW_VERSION
from domain.catalogue import BackupKind
from domain.host import Host
from projections.rows import BackupRow

NAME_MAX = 100
DESCRIPTION_MAX = 255
_NAME_CHARS = re.compile(r"^[A-Za-z0-9_.\-]+$")
_RANGE = re.compile(r"^\s*items\s*=\s*([0-9]+)\s*-\s*([0-9]+)\s*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RANGE_CAP = 10**15


def epoch_ms(moment: datetime | None) -> int | None:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


class QRadarBackup(BaseModel):
    """A backup as seed 001 describes it, fields in the document's order."""

    id: int
    configuration_id: int | None
    """The plan it was made from; null for a backup started outside any plan (native API)."""
    host_id: int
    name: str
    description: str | None
    type: str
    version: str
    time_initiated: int
    time_completed: int | None
    """Null until the backup has ended (SUCCESS, FAILED, or stopped)."""
    initiated_by: str
    status: str
    size_on_disk: int
    content_file_path: str | None
    """The backup's manifest in the artifact store, once it has succeeded."""
    is_valid: bool
    is_version_compatible: bool
    has_errors: bool
    """Rewind's addition: the backup is SUCCESS but some calls failed, so what it could not
    read is missing from it (a whole restore of it needs ``allow_partial``). The document's
    statuses have no "completed with some errors" that still restores."""

    @classmethod
    def from_row(cls, row: BackupRow) -> QRadarBackup:
        return cls(
            id=long_id(UUID(row.id)),
            configuration_id=row.plan_id,
            host_id=host_long_id(row.host_id),
            name=row.name,
            description=row.description,
            type=row.kind,
            version=row.sw_version,
            time_initiated=epoch_ms(row.created_at) or 0,
            time_completed=epoch_ms(row.ended_at),
            initiated_by=row.principal,
            status=row.status,
            size_on_disk=row.size_on_disk,
            content_file_path=row.content_path,
            is_valid=row.status == "SUCCESS",
            is_version_compatible=row.sw_version == SW_VERSION,
            has_errors=row.error_calls > 0,
        )


class QRadarHost(BaseModel):
    """Enough of QRadar's hosts API (api/config/deployment/hosts) for a client to find the
    Long ``host_id`` a backup takes, and the flags the create checks."""

    id: int
    hostname: str
    status: str
    """"Active" or "Inactive"."""
    is_console: bool
    stores_data: bool
    data_backups_configured: bool
    rewind_host_id: str
    """The host's id in Rewind's native API."""

    @classmethod
    def from_host(cls, host: Host) -> QRadarHost:
        flags = host.settings
        return cls(
            id=host_long_id(host.host_id),
            hostname=flags.name,
            status="Active" if flags.active else "Inactive",
            is_console=flags.is_console,
            stores_data=flags.stores_data,
            data_backups_configured=flags.data_backups_configured,
            rewind_host_id=host.host_id,
        )


QRadarBackupFields = variant(
    "QRadarBackupFields",
    "A backup with only the fields ``fields`` named.",
    QRadarBackup,
    optional=True,
)
QRadarHostFields = variant(
    "QRadarHostFields", "A host with only the fields ``fields`` named.", QRadarHost, optional=True
)


class QRadarBackupAnswer(RootModel[QRadarBackup | QRadarBackupFields]):  # type: ignore[valid-type]
    """A backup: every field, or those ``fields`` named."""


class QRadarBackupList(RootModel[list[QRadarBackup] | list[QRadarBackupFields]]):  # type: ignore[valid-type]
    """Backups, newest first: every field, or those ``fields`` named."""


class QRadarHostList(RootModel[list[QRadarHost] | list[QRadarHostFields]]):  # type: ignore[valid-type]
    """The registered hosts: every field, or those ``fields`` named."""


def fields_parameter(model: type[BaseModel]) -> Any:
    """The ``fields`` parameter of a flat resource: a comma-separated list of its field
    names (an unknown name is refused with 400)."""
    names = "|".join(model.model_fields)
    return Field(
        default=None,
        pattern=rf"^ *({names}) *(, *({names}) *)*$",
        description="Only these fields of the answer, comma-separated, e.g. ``id,name``.",
    )


class FieldsQuery(BaseModel):
    """``fields`` of a backup as a query parameter (it wins over the header)."""

    fields: str | None = fields_parameter(QRadarBackup)


class FieldsHeader(FieldsQuery):
    """``fields`` of a backup as a header, as seed 001 documents it."""


class HostFieldsQuery(BaseModel):
    """``fields`` of a host as a query parameter (it wins over the header)."""

    fields: str | None = fields_parameter(QRadarHost)


class HostFieldsHeader(HostFieldsQuery):
    """``fields`` of a host as a header."""


class CreateHeaders(FieldsHeader):
    """The create's headers: ``backup_type`` is required."""

    backup_type: Literal["CONFIG", "DATA"] = Field(
        description="The kind of backup: CONFIG or DATA (any case)."
    )


class ListHeaders(FieldsHeader):
    """QRadar's ``Range: items=FIRST-LAST`` pages the list (answered with Content-Range)."""

    range: str | None = Field(
        default=None,
        alias="Range",
        pattern=r"^items=[0-9]+-[0-9]+$",
        description="items=FIRST-LAST, both inclusive, from 0 (e.g. items=0-49).",
    )


class CreateBody(BaseModel):
    """The create's body as seed 001 documents it (read field by field by ``parse_create``,
    each problem with its own code); any other field is ignored."""

    name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=_NAME_CHARS.pattern, description="Unique."
    )
    configuration_id: int = Field(description="A deployed plan (backup configuration).")
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    host_id: int | None = Field(default=None, description="Default: the console.")


class IdPath(BaseModel):
    """A backup's Long id (anything else answers 404, 1001)."""

    id: int = Field(ge=0)


def shape_of(model: type[BaseModel]) -> FieldTree:
    """The ``fields`` a flat resource offers."""
    return dict.fromkeys(model.model_fields)


BACKUP_SHAPE = shape_of(QRadarBackup)
HOST_SHAPE = shape_of(QRadarHost)


class CreateBackup(BaseModel):
    """A valid create body."""

    name: str
    configuration_id: int
    description: str | None
    host_id: int | None


def _name(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise QRadarError(422, 1002, "name is missing or empty", {"field": "name"})
    if not isinstance(value, str):
        raise invalid(f"name must be a string, got {type(value).__name__}", field="name")
    if len(value) > NAME_MAX:
        raise QRadarError(
            422, 1003, f"name has {len(value)} characters; at most {NAME_MAX}", {"field": "name"}
        )
    if not _NAME_CHARS.fullmatch(value):
        bad = sorted({c for c in value if not _NAME_CHARS.fullmatch(c)})
        raise QRadarError(422, 1004, f"name contains {''.join(bad)!r}", {"field": "name"})
    return value


def is_long(text: str) -> bool:
    """ASCII digits that fit a Long (int() takes other digits too, and huge numbers fail)."""
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit()


def _long(value: Any, field: str) -> int:
    """A Long given as a JSON integer or a string of digits (as some clients send ids)."""
    if isinstance(value, bool):
        raise invalid(f"{field} must be an integer, got a boolean", field=field)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and is_long(value.strip()):
        return int(value.strip())
    raise invalid(f"{field} must be an integer, got {value!r:.40}", field=field)


def _configuration_id(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise QRadarError(
            422, 1006, "configuration_id is missing or empty", {"field": "configuration_id"}
        )
    return _long(value, "configuration_id")


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(
            f"description must be a string, got {type(value).__name__}", field="description"
        )
    if len(value) > DESCRIPTION_MAX:
        raise QRadarError(
            422,
            1008,
            f"description has {len(value)} characters; at most {DESCRIPTION_MAX}",
            {"field": "description"},
        )
    return value


def parse_create(body: dict[str, Any]) -> CreateBackup:
    """The four modifiable fields, checked in the document's order; others are ignored."""
    name = _name(body.get("name"))
    configuration_id = _configuration_id(body.get("configuration_id"))
    description = _description(body.get("description"))
    raw_host = body.get("host_id")
    host_id = None if raw_host is None else _long(raw_host, "host_id")
    return CreateBackup(
        name=name, configuration_id=configuration_id, description=description, host_id=host_id
    )


def parse_backup_type(header: str | None) -> BackupKind:
    """The required ``backup_type`` header: CONFIG or DATA (any case)."""
    if header is None or not header.strip():
        raise invalid("the backup_type header is required: CONFIG or DATA", field="backup_type")
    try:
        return BackupKind(header.strip().upper())
    except ValueError:
        raise invalid(
            f"the backup_type header must be CONFIG or DATA, got {header!r:.40}",
            field="backup_type",
        ) from None


def parse_range(header: str | None) -> tuple[int, int] | None:
    """QRadar's ``Range: items=FIRST-LAST`` (both inclusive, from 0); None when absent."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        raise invalid(f"Range must look like items=0-49, got {header!r:.40}", field="Range")
    first, last = _position(match.group(1)), _position(match.group(2))
    if last < first:
        raise invalid(f"Range: {last} is before {first}", field="Range")
    return first, last


def _position(digits: str) -> int:
    """A Range position, at most RANGE_CAP: no list is that long, so a window reaching past
    it ends there (the database's integers, and int(), would fail on the numbers sent)."""
    return RANGE_CAP if len(digits) > len(str(RANGE_CAP)) else min(int(digits), RANGE_CAP)
