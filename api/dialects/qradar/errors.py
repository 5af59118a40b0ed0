"""The QRadar dialect's errors: one body shape, QRadar's own, for every failure of its routes.

    {"http_response": {"code": 409, "message": "Conflict"},
     "code": 1005,
     "message": "The 'name' parameter value must be unique.",
     "description": "the backup name 'nightly' is already used by backup ...",
     "details": {"field": "name"}}

``code`` is the endpoint's unique code and ``message`` its documented wording (seed 001 for
the create, QRadar's backup API for retrieve and delete); ``description`` says what was wrong
with this very request; ``details`` names the field or header when there is one (else {});
``http_response`` repeats the status with its standard reason phrase. Failures the documents
do not list keep Rewind's own codes (2007 for malformed input, 400; see README's error
table) with the same shape. The native error middleware never sees these routes' errors.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.core.errors import BadRequest, answered_here, register_error_shape
from api.dialects.qradar.fields import FieldsError
from domain.errors import DomainError, InvalidRequest

log = structlog.get_logger("rewind.qradar")

Operation = Literal["create", "retrieve", "list", "delete", "hosts"]

DOCUMENTED: dict[int, str] = {
    1001: "The backup does not exist.",
    1002: "The 'name' parameter value cannot be null or empty.",
    1003: "The 'name' parameter value must not exceed 100 characters.",
    1004: "The 'name' parameter must contain only alphanumerics and '_', '-' or '.'.",
    1005: "The 'name' parameter value must be unique.",
    1006: "The 'configuration_id' parameter value cannot be null or empty.",
    1007: "The backup configuration does not exist.",
    1008: "The 'description' parameter value must not exceed 255 characters.",
    1009: "The backup host does not exist.",
    1010: "The provided host_id corresponds to a host that is currently not active. For more "
    "information, see the following Hosts API: api/config/deployment/hosts",
    1011: "An undeployed configuration change has been detected. Deploy staged changes then "
    "try again.",
    1012: "The provided host_id corresponds to a host that is not the console and the backup "
    "type is CONFIG. A config backup can only take place on the console.",
    1013: "Data backups can only be done on hosts that store ariel data. For more information, "
    "see the following Hosts API: api/config/deployment/hosts",
    1014: "The host is not configured for data backups. See the Backup Configuration API for "
    "more information: api/config/backup_and_restore/scheduled_backup_configurations",
    1015: "A backup is already in progress on the host.",
    1016: "A restore is currently in progress. No new backup or restore processes can be "
    "initiated while the current process is running.",
    1017: "Backups can be deleted only in the following states: INITIALIZING, IN_PROGRESS, "
    "FAILED, SUCCESS, MISSING.",
}
"""Each documented unique code and its wording (the message clients match on)."""

UNEXPECTED = 1000
UNEXPECTED_MESSAGES: dict[Operation, str] = {
    "create": "An error occurred during the attempt to create the backup.",
    "retrieve": "An error occurred during the attempt to retrieve the backup.",
    "list": "An error occurred during the attempt to retrieve the backups.",
    "delete": "An error occurred during the attempt to delete the backup.",
    "hosts": "An error occurred during the attempt to retrieve the hosts.",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpResponse(BaseModel):
    """The status again, with its standard reason phrase."""

    code: int
    message: str


class QRadarErrorAnswer(BaseModel):
    """QRadar's error object (seed 001).

    The unique code, its documented message, what was wrong with this very request, and
    the field or header at fault (``details.field``)."""

    http_response: HttpResponse
    code: int
    message: str
    description: str
    details: dict[str, Any]


class QRadarError(Exception):
    """A request the dialect refuses before any command runs (input validation)."""

    def __init__(
        self, status: int, code: int, description: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.details = details or {}


def invalid(description: str, **details: Any) -> QRadarError:
    """Malformed input the documents have no code for: 400 with Rewind's 2007."""
    return QRadarError(400, InvalidRequest.code, description, details)


def error_body(
    status: int, code: int, message: str, description: str, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "http_response": {"code": status, "message": HTTPStatus(status).phrase},
        "code": code,
        "message": message,
        "description": description,
        "details": details,
    }


def error_response(
    status: int, code: int, description: str, details: dict[str, Any] | None = None
) -> web.Response:
    message = DOCUMENTED.get(code, description)
    body = error_body(status, code, message, description, details or {})
    return web.json_response(body, status=status)


def qradar_errors(operation: Operation) -> Callable[[Handler], Handler]:
    """Wrap a QRadar handler so that every failure answers in this dialect's shape; an
    unexpected one answers 500 with code 1000 (and the server log has the traceback). A full
    or read-only storage, a damaged event store and a client gone go on to the front door
    (``api.core.errors.answered_here``: 503 in this dialect's shape, or nothing)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except QRadarError as error:
                return error_response(error.status, error.code, error.description, error.details)
            except DomainError as error:
                details = {"field": error.field} if error.field else {}
                return error_response(error.status, error.code, error.message, details)
            except BadRequest as error:
                return error_response(error.status, InvalidRequest.code, "; ".join(error.messages))
            except FieldsError as error:
                return error_response(400, InvalidRequest.code, str(error), {"field": "fields"})
            except ValidationError as error:
                return error_response(400, InvalidRequest.code, str(error))
            except web.HTTPException:
                raise
            except Exception as error:
                if answered_here(request, error):
                    raise  # the front door answers these as on every route (503, or no one)
                log.exception("unexpected error", operation=operation, path=request.path)
                body = error_body(
                    500,
                    UNEXPECTED,
                    UNEXPECTED_MESSAGES[operation],
                    f"{type(error).__name__}; the server log has the details",
                    {},
                )
                return web.json_response(body, status=500)

        return run

    return wrap


def _middleware_error(status: int, messages: list[str], code: int | None) -> web.Response:
    """Refusals made before a QRadar handler runs (401, 403, 404 of an unknown path, 406,
    413, a bad path parameter) in this dialect's shape: the domain code when there is one,
    2007 for malformed input, else the HTTP status itself."""
    if code is None:
        code = InvalidRequest.code if status == 400 else status
    return error_response(status, code, "; ".join(messages))


def install_error_shape() -> None:
    """Answer refusals made before a handler runs on this dialect's paths in its shape."""
    register_error_shape("/api/backup_and_restore/", _middleware_error)
    register_error_shape("/api/config/deployment/hosts", _middleware_error)
