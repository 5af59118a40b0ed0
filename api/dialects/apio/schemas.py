"""Requests of the APIO dialect (seed 000): parsed from the query string and the JSON body.

APIO clients send their parameters as a JSON body, even on GET (the seed's examples do), or
as query parameters (``?force_backup=true&formats=xml&formats=json&group=profile``). Both
are read and merged, the body winning field by field. Query lists repeat the parameter or
separate values with commas; query booleans are ``true``/``false``/``1``/``0``.

Unknown fields are refused (400 naming them), like the native dialect. Entity names are
checked against a charset only, not the catalogue: APIO passes names the host cannot back up
through to the worker, which reports them in ``ignored_entities``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from api.core.negotiation import JSON, read_json_object
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES

EntityName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
Format = Literal["json", "xml"]
ReportType = Literal["report", "full"]
M = TypeVar("M", bound=BaseModel)

MAX_ENTITIES = 64
LIST_FIELDS = frozenset({"group", "user", "formats"})
BOOL_FIELDS = frozenset(
    {"download_announcement_files", "dowload_announcement_files", "force_backup", "latest"}
)
_BOOLS = {"true": True, "1": True, "false": False, "0": False}

BODY_TYPES = frozenset(
    {JSON, "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"}
)
"""Body types read as JSON: APIO's examples send no Content-Type, and ``curl -d`` labels its
body form-encoded; anything else explicitly labelled is refused with 415."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_many(value: Any) -> Any:
    """``"xml"`` means ``["xml"]``."""
    return [value] if isinstance(value, str) else value


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class StartRequest(_Strict):
    """``backup/start/``. Absent lists mean the whole catalogue; an empty list means none."""

    group: list[EntityName] | None = Field(default=None, max_length=MAX_ENTITIES)
    user: list[EntityName] | None = Field(default=None, max_length=MAX_ENTITIES)
    formats: list[Format] | None = Field(
        default=None, max_length=8, json_schema_extra={"minItems": 1}
    )
    download_announcement_files: StrictBool | None = None
    dowload_announcement_files: StrictBool | None = None
    """The seed's own spelling, accepted as a synonym."""
    force_backup: StrictBool = False

    _lists = field_validator("group", "user", "formats", mode="before")(_one_or_many)

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: list[Format] | None) -> list[Format] | None:
        if value is not None and not value:
            raise ValueError("formats: at least one of json, xml")
        return value

    @property
    def group_entities(self) -> tuple[str, ...]:
        return GROUP_ENTITIES if self.group is None else _unique(self.group)

    @property
    def user_entities(self) -> tuple[str, ...]:
        return USER_ENTITIES if self.user is None else _unique(self.user)

    @property
    def build_formats(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.formats or ["json"])))

    @property
    def download_files(self) -> bool:
        if self.download_announcement_files is not None:
            return self.download_announcement_files
        return bool(self.dowload_announcement_files)


class ReadRequest(_Strict):
    """``backup/polling/{name}/`` and ``backups/{name}/``: which data, in which build."""

    formats: list[Format] | None = Field(default=None, max_length=8)
    type: ReportType = "full"

    _lists = field_validator("formats", mode="before")(_one_or_many)

    @property
    def full(self) -> bool:
        return self.type == "full"

    @property
    def only_xml(self) -> bool:
        """The client asked for the XML build alone."""
        return bool(self.formats) and set(self.formats or ()) == {"xml"}


class ListRequest(ReadRequest):
    """``backups/``: the list, or with ``latest`` the latest finished backup's data."""

    latest: StrictBool = False


class EmptyRequest(_Strict):
    """``backup/stop/{name}/`` takes no parameters."""


def query_fields(request: web.Request) -> dict[str, Any]:
    """The query string as request fields (see the module docstring for the conventions)."""
    fields: dict[str, Any] = {}
    for key in dict.fromkeys(request.query.keys()):
        values = request.query.getall(key)
        if key in LIST_FIELDS:
            fields[key] = [item for v in values for item in v.split(",") if item]
        elif key in BOOL_FIELDS:
            raw = values[-1]
            fields[key] = _BOOLS.get(raw.strip().lower(), raw)
        else:
            fields[key] = values[-1]
    return fields


async def body_fields(request: web.Request) -> dict[str, Any]:
    """The JSON body as request fields; an empty body is no fields. APIO clients send JSON
    with whatever Content-Type their tool defaults to (curl -d: form-urlencoded)."""
    return await read_json_object(request, BODY_TYPES)


_DEFAULTS: dict[type[BaseModel], BaseModel] = {}


def _defaults(model: type[M]) -> M:
    """A request that sent no fields: validated once per model (the models are frozen)."""
    found = _DEFAULTS.get(model)
    if not isinstance(found, model):
        found = _DEFAULTS[model] = model.model_validate({})
    return found


async def read_request(request: web.Request, model: type[M]) -> M:
    """Query and body merged (the body wins) and validated as ``model``."""
    if not request.query and not request.body_exists:
        return _defaults(model)  # the common poll: nothing to read, merge or validate
    merged = {**query_fields(request), **(await body_fields(request))}
    return model.model_validate(merged)
