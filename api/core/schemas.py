"""Request and response bodies of the native API (pydantic: validated in, documented out).

Unknown fields are refused (400 naming them), entity names must be in the catalogue for the
list they are in, and ids follow domain.scope's charset, so nothing odd reaches a command.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from aiohttp import web
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.restore_diff import Skipped
from adapters.url_credentials import split_user_info
from domain.catalogue import (
    DATA_ENTITIES,
    GROUP_ENTITIES,
    USER_ENTITIES,
    BackupKind,
    BackupType,
    OutputFormat,
)
from domain.scope import NAME_PATTERN, check_name
from projections.views import BackupFilters

ID_SCHEMA: dict[str, Any] = {"pattern": NAME_PATTERN.pattern}
"""The OpenAPI schema of an id that ``check_name`` accepts (validation stays check_name's)."""


def one_of(names: tuple[str, ...]) -> dict[str, Any]:
    """The OpenAPI schema of an entity list checked against the catalogue: distinct names."""
    return {"items": {"enum": list(names)}, "uniqueItems": True}


T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_entities(values: list[str], allowed: tuple[str, ...], field: str) -> list[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        msg = f"{field}: unknown entities {unknown}; allowed: {', '.join(allowed)}"
        raise ValueError(msg)
    if len(set(values)) != len(values):
        raise ValueError(f"{field}: an entity is listed twice")
    return values


def check_backup_name(value: str | None) -> str | None:
    """Backup names appear in reference ids and file names: a safe charset only."""
    if value is not None and not all(c.isalnum() or c in "_-." for c in value):
        raise ValueError("name must contain only alphanumerics and '_', '-' or '.'")
    return value


class BackupRequest(Strict):
    """POST /api/v1/backups."""

    tenant_id: str | None = Field(default=None, json_schema_extra=ID_SCHEMA)
    group_id: str | None = Field(default=None, json_schema_extra=ID_SCHEMA)
    host_id: str = Field(default="default", json_schema_extra=ID_SCHEMA)
    group: list[str] = Field(
        default_factory=lambda: list(GROUP_ENTITIES), json_schema_extra=one_of(GROUP_ENTITIES)
    )
    user: list[str] = Field(
        default_factory=lambda: list(USER_ENTITIES), json_schema_extra=one_of(USER_ENTITIES)
    )
    formats: list[OutputFormat] = Field(
        default_factory=lambda: [OutputFormat.JSON], json_schema_extra={"minItems": 1}
    )
    download_announcement_files: bool = False
    force_backup: bool = False
    name: str | None = Field(
        default=None, min_length=1, max_length=100, json_schema_extra={"pattern": r"^[\w.-]+$"}
    )
    description: str | None = Field(default=None, max_length=255)
    type: BackupType = Field(
        default=BackupType.FULL,
        # ``backup_type`` is accepted too (seed 002's name for it); giving both is refused.
        validation_alias=AliasChoices("type", "backup_type"),
    )
    kind: BackupKind = BackupKind.CONFIG

    @field_validator("tenant_id", "group_id", "host_id")
    @classmethod
    def _ids(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else check_name(value, info.field_name)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_backup_name(value)

    @field_validator("group")
    @classmethod
    def _group(cls, value: list[str]) -> list[str]:
        return _check_entities(value, GROUP_ENTITIES, "group")

    @field_validator("user")
    @classmethod
    def _user(cls, value: list[str]) -> list[str]:
        return _check_entities(value, USER_ENTITIES, "user")

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: list[OutputFormat]) -> list[OutputFormat]:
        if not value:
            raise ValueError("formats: at least one of json, xml")
        return sorted(set(value))


class Accepted(BaseModel):
    id: str
    reference_id: str | None = None
    status: str


class Progress(BaseModel):
    done: int
    total: int | None


class BackupView(BaseModel):
    """GET /api/v1/backups/{id}."""

    id: str
    reference_id: str
    name: str
    description: str | None
    status: str
    tenant_id: str | None
    group_id: str | None
    host_id: str
    type: str
    kind: str
    progress: Progress
    successful_calls: int
    error_calls: int
    has_errors: bool
    start_datetime: datetime
    end_datetime: datetime | None
    failure_reason: str | None
    is_valid: bool
    is_version_compatible: bool
    size_on_disk: int
    initiated_by: str
    backup_type: str
    """What it runs as: the requested ``type`` until the worker starts it; ``full`` when an
    incremental or differential found no base (domain.lineage)."""
    base_backup_id: str | None
    unchanged_entities: int
    """Entities whose content equals the base's (stored by it, not written again)."""


class HostRequest(Strict):
    """POST /api/v1/hosts. ``credentials`` are sealed at once and never returned.

    User info in ``base_url`` (``http://user:password@pbx``) is a credential too: it is
    moved into ``credentials`` and the URL kept without it, so that the password is neither
    recorded in the host's event nor echoed. When ``credentials`` are given as well they
    must be the same (400 naming ``credentials`` otherwise): which of two secrets was meant
    is not for the server to guess."""

    id: str | None = Field(default=None, json_schema_extra=ID_SCHEMA)
    name: str = Field(min_length=1, max_length=100)
    base_url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    credentials: str | None = Field(default=None, max_length=4096)
    active: bool = True
    is_console: bool = True
    stores_data: bool = True
    data_backups_configured: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "id")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            split_user_info(value)
        except ValueError:
            # The parser's message may quote part of the URL: say it in our words.
            raise ValueError("base_url: not a valid URL") from None
        return value

    @field_validator("credentials")
    @classmethod
    def _one_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        url = info.data.get("base_url")
        if value is not None and url is not None:
            in_url = split_user_info(url)[1]
            if in_url is not None and in_url != value:
                raise ValueError(
                    "credentials: differ from the user info in base_url; send them once"
                )
        return value

    @model_validator(mode="after")
    def _credentials_out_of_the_url(self) -> HostRequest:
        self.base_url, in_url = split_user_info(self.base_url)
        if self.credentials is None:
            self.credentials = in_url
        return self


class HostView(BaseModel):
    id: str
    name: str
    base_url: str
    has_credentials: bool
    active: bool
    is_console: bool
    stores_data: bool
    data_backups_configured: bool


class ListOf(BaseModel):
    """Seed 003's list shape."""

    total: int
    items: list[Any]


Health = Literal["ok"]


class QueryParams(Strict):
    """A route's query parameters: an unknown one is refused (400 naming it), like an
    unknown body field. A repeated parameter arrives as a list (refused where one value is
    expected); ``list_params`` arrive as lists even when sent once."""

    list_params: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_request(cls, request: web.Request) -> Any:
        data: dict[str, Any] = {}
        for key in request.query:
            values = request.query.getall(key)
            data[key] = values if len(values) > 1 or key in cls.list_params else values[0]
        return cls.model_validate(data)


class PageQuery(QueryParams):
    """Seed 003's paging: ``_page`` counts from 1; ``_pagesize`` defaults to 100 (max 1000)."""

    page: int = Field(default=1, ge=1, le=1_000_000, alias="_page")
    pagesize: int = Field(default=100, ge=1, le=1000, alias="_pagesize")

    def offset(self) -> int:
        return (self.page - 1) * self.pagesize

    def slice(self, items: Sequence[T]) -> Sequence[T]:
        """This page of a list held in memory."""
        return items[self.offset() : self.offset() + self.pagesize]


class ListQuery(PageQuery):
    """GET /api/v1/backups filters; ``status`` and ``type`` may repeat or be comma-separated."""

    list_params: ClassVar[frozenset[str]] = frozenset({"status", "type"})

    tenant_id: str | None = None
    group_id: str | None = None
    host_id: str | None = None
    status: list[str] | None = None
    type: list[str] | None = None
    kind: BackupKind | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    ended_after: datetime | None = None
    ended_before: datetime | None = None

    @field_validator("status", "type", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [part for item in value for part in str(item).split(",") if part]
        return value

    def filters(self) -> BackupFilters:
        return BackupFilters(
            tenant_id=self.tenant_id,
            group_id=self.group_id,
            host_id=self.host_id,
            status=[s.upper() for s in self.status] if self.status else None,
            type=self.type,
            kind=self.kind.value if self.kind else None,
            started_after=self.started_after,
            started_before=self.started_before,
            ended_after=self.ended_after,
            ended_before=self.ended_before,
        )


class ReportQuery(PageQuery):
    """GET /api/v1/backups/{id}/report: ``type`` report (summary) or full (with config)."""

    type: Literal["report", "full"] = "report"


class RestoreRequest(Strict):
    """POST /api/v1/restores. ``target_host_id`` defaults to the backup's host; ``group`` /
    ``user`` / ``users`` restrict what is restored (absent: everything the backup holds)."""

    backup_id: str = Field(min_length=1, max_length=100)
    target_host_id: str | None = Field(default=None, json_schema_extra=ID_SCHEMA)
    dry_run: bool = False
    safety_backup: bool = True
    existing: Literal["update", "skip"] = "update"
    allow_partial: bool = Field(
        default=False,
        description="Restore a backup that could not read part of its scope: what it read is"
        " restored, what it could not read is left as it is (skipped). A whole-scope restore"
        " of such a backup is refused (409, 2011) without it.",
    )
    group: list[str] | None = Field(
        default=None, json_schema_extra=one_of((*GROUP_ENTITIES, *DATA_ENTITIES))
    )
    user: list[str] | None = Field(default=None, json_schema_extra=one_of(USER_ENTITIES))
    users: list[str] | None = Field(default=None, json_schema_extra={"items": ID_SCHEMA})

    @field_validator("target_host_id")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "target_host_id")

    @field_validator("group")
    @classmethod
    def _group(cls, value: list[str] | None) -> list[str] | None:
        allowed = (*GROUP_ENTITIES, *DATA_ENTITIES)
        return None if value is None else _check_entities(value, allowed, "group")

    @field_validator("user")
    @classmethod
    def _user(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_entities(value, USER_ENTITIES, "user")

    @field_validator("users")
    @classmethod
    def _users(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for user in value:
                check_name(user, "users")
        return value


class RestoreView(BaseModel):
    """GET /api/v1/restores/{id}."""

    id: str
    status: str
    backup_id: str
    target_host_id: str
    tenant_id: str | None
    group_id: str | None
    safety_backup_id: str | None
    existing: str
    progress: Progress
    successful_calls: int
    error_calls: int
    has_errors: bool
    start_datetime: datetime
    end_datetime: datetime | None
    failure_reason: str | None
    initiated_by: str


class RestoreDetail(RestoreView):
    """GET /api/v1/restores/{id}: the list's fields plus ``skipped``, what the restore left
    as it was because its backup could not read it (key and reason)."""

    skipped: list[Skipped]


class FollowQuery(PageQuery):
    """A page of a backup's events; ``follow`` (1, true, yes) streams them instead (server-sent
    events, api.dialects.native.events), so the page's URL may carry it switched off."""

    follow: Literal["0", "1", "true", "false", "yes", "no"] | None = None
