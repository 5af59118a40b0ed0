"""Native routes that end or check a backup's life: delete and verify.

``DELETE /api/v1/backups/{id}`` (id or reference id) -> 202 ``{id, status}``: DELETING for a
finished backup (SUCCESS, FAILED, MISSING), CANCELLING for a running one (the worker stops it,
then it goes DELETING). The worker then purges the artifacts only this backup uses and the
backup leaves the views (GET -> 404); its events stay (``rewind history ID``, the audit log).
Repeating a delete under way answers 202 again and records nothing. A purged or unknown
backup answers 404; a backup being stopped by a cancel (not a delete) answers 409 (2001):
delete it once it has ended.

``POST /api/v1/backups/{id}/verify`` -> 200 ``{id, status, is_valid, checked, missing,
corrupt, reason}``: re-hashes every blob of the manifest (adapters.verifier.verify_backup).
SUCCESS with anything gone or corrupt becomes MISSING; MISSING with everything intact again
becomes SUCCESS; FAILED is reported, never moved; a running, cancelling or deleting backup
answers 409 (2001).
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from pydantic import BaseModel

from adapters.verifier import verify_backup
from api.core.auth import PRINCIPAL
from api.core.schemas import Accepted
from api.core.services import Services
from api.dialects.native.backups import _json, _services, find_backup_row
from domain.application import RewindApplication
from domain.backup import Backup
from domain.errors import IllegalMove, NotFound

lifecycle_routes = web.RouteTableDef()


class VerifyView(BaseModel):
    """POST /api/v1/backups/{id}/verify."""

    id: str
    status: str
    is_valid: bool
    checked: int
    missing: int
    corrupt: int
    reason: str | None


def _delete(app: RewindApplication, backup_id: UUID, principal: str) -> Backup:
    """Delete; a backup purged since the views last showed it is simply not found."""
    try:
        return app.delete_backup(backup_id, principal)
    except IllegalMove:
        if app.get_backup(backup_id).purged:
            raise NotFound(f"backup {backup_id} not found") from None
        raise


@lifecycle_routes.delete("/api/v1/backups/{backup_id}")
async def delete_backup(request: web.Request) -> web.Response:
    services: Services = _services(request)
    row = await find_backup_row(services, request.match_info["backup_id"])
    backup = await services.run(_delete, services.app, UUID(row.id), request[PRINCIPAL])
    accepted = Accepted(id=str(backup.id), status=backup.status)
    return web.json_response(accepted.model_dump(mode="json", exclude_none=True), status=202)


@lifecycle_routes.post("/api/v1/backups/{backup_id}/verify")
async def verify(request: web.Request) -> web.Response:
    services = _services(request)
    row = await find_backup_row(services, request.match_info["backup_id"])
    result = await services.run(
        verify_backup, services.app, services.artifacts, UUID(row.id), request[PRINCIPAL]
    )
    view = VerifyView(
        id=result.backup_id,
        status=result.status,
        is_valid=result.status == "SUCCESS",
        checked=result.checked,
        missing=result.missing,
        corrupt=result.corrupt,
        reason=result.reason,
    )
    return _json(view)
