"""Native routes of restores and of backup diffs.

``POST /api/v1/restores`` ``{backup_id, target_host_id?, dry_run?, safety_backup?, existing?,
group?, user?, users?}``:

- ``dry_run: true`` -> 200 ``{backup_id, target_host_id, existing, whole_group, diff}``: the
  diff from the backup (old) to the target's content now (new), read live from the target
  (adapters.worker.restore_run.dry_run). Nothing is written to the PBX or to the log.
- otherwise -> 202 ``{id, status, safety_backup_id}``. With ``safety_backup`` (the default) a
  backup of the target scope (every entity, with files) named ``safety-<8 hex>`` is requested
  first and its id recorded on the restore; the worker claims the restore only once that
  backup is SUCCESS, and fails it if the safety backup fails.

Refusals: unknown backup or host 404; a backup that is not SUCCESS 409 (2010); another
restore running on the target host 409 (1016); a backup running on the target scope 409
(1015, from the safety backup).

``GET /api/v1/restores`` (``{total, items}``, ``_page`` / ``_pagesize``, newest first),
``GET /api/v1/restores/{id}``, ``POST /api/v1/restores/{id}/cancel`` -> 202 ``{id, status}``.

``GET /api/v1/backups/{a}/diff/{b}`` -> 200 ``{a, b, diff}``: the diff from backup ``a``'s
content to ``b``'s (entity keys, field paths, media digests); 404 for an unknown id, 409
(2001) for a backup that holds no content (not SUCCESS).
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from aiohttp import web

from adapters.pbx.client import PbxClient, PbxError
from adapters.restore_diff import Skipped, diff_states
from adapters.worker.backup_content import (
    BackupContent,
    ContentUnavailable,
    load_backup_content,
    whole_group,
)
from adapters.worker.restore_plan import TargetReader, dry_run
from api.core.auth import PRINCIPAL, identity
from api.core.errors import BadRequest
from api.core.negotiation import read_json_object
from api.core.request_context import request_id_of
from api.core.schemas import (
    Accepted,
    PageQuery,
    Progress,
    RestoreDetail,
    RestoreRequest,
    RestoreView,
)
from api.core.services import Services
from api.dialects.native.backups import _json, _services, find_backup_row
from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, OutputFormat
from domain.errors import IllegalMove, NotFound
from domain.restore import Restore, RestoreSpec
from domain.scope import Scope
from projections.rows import OutcomeRow, RestoreRow

restore_routes = web.RouteTableDef()


def restore_view(row: RestoreRow) -> RestoreView:
    return RestoreView(
        id=row.id,
        status=row.status,
        backup_id=row.backup_id,
        target_host_id=row.target_host_id,
        tenant_id=row.tenant_id,
        group_id=row.group_id,
        safety_backup_id=row.safety_backup_id,
        existing=row.existing,
        progress=Progress(done=row.done, total=row.total),
        successful_calls=row.successful_calls,
        error_calls=row.error_calls,
        has_errors=row.error_calls > 0,
        start_datetime=row.created_at,
        end_datetime=row.ended_at,
        failure_reason=row.failure_reason,
        initiated_by=row.principal,
    )


def restore_spec(backup: Backup, body: RestoreRequest) -> RestoreSpec:
    """The restore a request asks for: the backup's scope on the target host."""
    scope = backup.scope
    return RestoreSpec(
        backup_id=backup.id,
        target=Scope(
            host_id=body.target_host_id or scope.host_id,
            tenant_id=scope.tenant_id,
            group_id=scope.group_id,
        ),
        group_entities=None if body.group is None else tuple(body.group),
        user_entities=None if body.user is None else tuple(body.user),
        users=None if body.users is None else tuple(body.users),
        existing=body.existing,
        allow_partial=body.allow_partial,
    )


def start_restore(
    app: RewindApplication, spec: RestoreSpec, principal: str, safety_backup: bool
) -> Restore:
    """Request the safety backup (when asked for) and then the restore that waits for it.
    A restore its backup cannot serve (not SUCCESS; a whole-scope restore of an incomplete
    backup without ``allow_partial``) is refused before anything is recorded. Should the
    restore be refused after the safety backup was admitted (a race with another restore),
    the safety backup is cancelled again."""
    app.check_restore(spec)
    if not safety_backup:
        return app.request_restore(spec, principal)
    safety = app.request_backup(
        BackupSpec(
            scope=spec.target,
            group_entities=GROUP_ENTITIES,
            user_entities=USER_ENTITIES,
            formats=(OutputFormat.JSON.value,),
            download_files=True,
            name=f"safety-{uuid.uuid4().hex[:8]}",
            description=f"taken before restoring backup {spec.backup_id}",
            request_id=spec.request_id,
        ),
        principal,
    )
    try:
        return app.request_restore(
            spec.model_copy(update={"safety_backup_id": safety.id}), principal
        )
    except Exception:
        app.cancel(safety.id, principal)
        raise


async def _backup_content(services: Services, backup_id: str) -> tuple[Backup, BackupContent]:
    row = await find_backup_row(services, backup_id)
    backup = await services.query(services.app.get_backup, UUID(row.id))
    try:
        content = await services.query(load_backup_content, services.artifacts, backup)
    except ContentUnavailable as error:
        raise IllegalMove(f"backup {row.id} holds no content ({row.status}): {error}") from None
    return backup, content


async def dry_run_answer(services: Services, spec: RestoreSpec) -> dict[str, Any]:
    """A dry run's answer (shared with the General Bots dialect): the diff from the backup
    to the target's content now, read live; 502 when the target cannot be read."""
    _, content = await _backup_content(services, str(spec.backup_id))
    host = await services.query(services.app.get_host, spec.target.host_id)
    credentials = services.host_credentials(host.settings)
    try:
        async with PbxClient(
            host.settings.base_url, attempts=2, timeout_s=5.0, credentials=credentials
        ) as client:
            result = await dry_run(TargetReader(client), content, spec)
    except PbxError as error:
        raise BadRequest(502, f"the target host cannot be read: {error}") from None
    return {
        "backup_id": str(spec.backup_id),
        "target_host_id": spec.target.host_id,
        "existing": spec.existing,
        "whole_group": whole_group(spec),
        "diff": result.diff.model_dump(mode="json"),
        "skipped": [item.model_dump(mode="json") for item in result.skipped],
    }


@restore_routes.post("/api/v1/restores")
async def create_restore(request: web.Request) -> web.Response:
    services = _services(request)
    body = RestoreRequest.model_validate(await read_json_object(request))
    row = await find_backup_row(services, body.backup_id)
    if not identity(request).sees(row.tenant_id):
        raise NotFound(f"backup {body.backup_id[:80]!r} not found")
    backup = await services.query(services.app.get_backup, UUID(row.id))
    spec = restore_spec(backup, body).model_copy(update={"request_id": request_id_of(request)})
    await services.query(services.app.get_host, spec.target.host_id)
    if body.dry_run:
        return web.json_response(await dry_run_answer(services, spec))
    restore = await services.run(
        start_restore, services.app, spec, request[PRINCIPAL], body.safety_backup
    )
    safety = restore.spec.safety_backup_id
    return web.json_response(
        {
            "id": str(restore.id),
            "status": restore.status,
            "safety_backup_id": None if safety is None else str(safety),
        },
        status=202,
    )


async def _find_restore(services: Services, restore_id: str) -> RestoreRow:
    row = await services.query(services.views.view.restore, restore_id)
    if row is None:
        raise NotFound(f"restore {restore_id[:80]!r} not found")
    return row


@restore_routes.get("/api/v1/restores")
async def list_restores(request: web.Request) -> web.Response:
    services = _services(request)
    query = PageQuery.from_request(request)
    rows = await services.query(services.views.view.list_restores)
    principal = identity(request)
    rows = [row for row in rows if principal.sees(row.tenant_id)]
    page = query.slice(rows)
    items = [restore_view(r).model_dump(mode="json") for r in page]
    return web.json_response({"total": len(rows), "items": items})


def skipped_of(outcomes: list[OutcomeRow]) -> list[Skipped]:
    """What a restore left as it was because its backup could not read it (recorded as
    ignored, with the reason), in the order the restore came to them."""
    return [Skipped(key=o.key, reason=o.message or "") for o in outcomes if o.outcome == "ignored"]


@restore_routes.get("/api/v1/restores/{restore_id}")
async def get_restore(request: web.Request) -> web.Response:
    services = _services(request)
    row = await _find_restore(services, request.match_info["restore_id"])
    outcomes = await services.query(services.views.view.outcomes, row.id)
    view = restore_view(row)
    return _json(RestoreDetail(**dict(view), skipped=skipped_of(outcomes)))


@restore_routes.post("/api/v1/restores/{restore_id}/cancel")
async def cancel_restore(request: web.Request) -> web.Response:
    services = _services(request)
    row = await _find_restore(services, request.match_info["restore_id"])
    job = await services.run(services.app.cancel, UUID(row.id), request[PRINCIPAL])
    accepted = Accepted(id=str(job.id), status=job.status)
    return web.json_response(accepted.model_dump(mode="json", exclude_none=True), status=202)


@restore_routes.get("/api/v1/backups/{a}/diff/{b}")
async def diff_backups(request: web.Request) -> web.Response:
    services = _services(request)
    backup_a, a = await _backup_content(services, request.match_info["a"])
    backup_b, b = await _backup_content(services, request.match_info["b"])
    # What either backup could not read is unknown on that side: left out of the comparison
    # (it would show as added or removed) and listed as skipped instead.
    unknown = {
        key: "; ".join(
            f"backup {backup.id}: {content.unknown[key]}"
            for backup, content in ((backup_a, a), (backup_b, b))
            if key in content.unknown
        )
        for key in a.unknown.keys() | b.unknown.keys()
    }
    diff = diff_states(
        {k: v for k, v in a.documents.items() if k not in unknown},
        {k: v for k, v in b.documents.items() if k not in unknown},
        {k: v for k, v in a.files.items() if k not in unknown},
        {k: v for k, v in b.files.items() if k not in unknown},
    )
    skipped = [Skipped(key=k, reason=unknown[k]).model_dump() for k in sorted(unknown)]
    return web.json_response(
        {
            "a": str(backup_a.id),
            "b": str(backup_b.id),
            "diff": diff.model_dump(mode="json"),
            "skipped": skipped,
        }
    )
