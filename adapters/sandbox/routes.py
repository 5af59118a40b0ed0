"""The sandbox's route handlers (the URL layout is documented in server.py).

Checks run in the order a client can act on them: ``Accept`` (406), ``Content-Type`` (415),
the scope and entity (404), then the body (400).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from aiohttp import web

from domain.catalogue import GROUP_ENTITIES, MEDIA_ENTITIES, USER_ENTITIES

from .dataset import CHUNK_SIZE, MediaFile, field_types
from .documents import Document
from .protocol import (
    JSON,
    Handler,
    PbxHttpError,
    canonical_json,
    incorrect,
    json_response,
    not_found,
    paged,
    read_json,
    require_accept,
    require_content_type,
)
from .state import SandboxState, StoredFile

AUDIO = "audio/wav"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_GROUP = "/1.0/tenants/{tenant}/groups/{group}"


def add_routes(app: web.Application, state: SandboxState) -> None:
    """Register every PBX route (with and without a trailing slash), most specific first."""
    routes = _Routes(state)

    def add(method: str, path: str, handler: Handler) -> None:
        base = path.rstrip("/")
        app.router.add_route(method, base, handler)
        app.router.add_route(method, f"{base}/", handler)

    add("GET", "/1.0/tenants", routes.tenants)
    add("GET", "/1.0/tenants/{tenant}/groups", routes.groups)
    add("GET", f"{_GROUP}/users", routes.users)
    add("POST", f"{_GROUP}/users", routes.create_user)
    add("GET", f"{_GROUP}/users/{{user}}", routes.user)
    add("DELETE", f"{_GROUP}/users/{{user}}", routes.delete_user)
    for method in ("GET", "PUT", "DELETE"):
        add(method, f"{_GROUP}/users/{{user}}/{{entity}}", routes.user_entity)
    add("GET", f"{_GROUP}/recordings", routes.recordings)
    for method in ("GET", "PUT", "DELETE"):
        add(method, f"{_GROUP}/media/{{file_id}}", routes.media)
    add("GET", f"{_GROUP}/_export", routes.export)
    for method in ("GET", "PUT", "DELETE"):
        add(method, f"{_GROUP}/{{entity}}", routes.group_entity)


def validate_document(
    level: Literal["group", "user"], entity: str, scope_id: str, body: Any
) -> Document:
    """400 unless ``body`` is a JSON object whose known fields have the served types."""
    if not isinstance(body, dict):
        raise incorrect("body (a JSON object is expected)")
    bad = [
        key
        for key, expected in field_types(level, entity).items()
        if key in body and not _has_type(body[key], expected)
    ]
    if entity == "profile" and "id" in body and body["id"] != scope_id:
        bad.append("id")
    if entity in MEDIA_ENTITIES and "files" in body and isinstance(body["files"], list):
        for file in body["files"]:
            if not isinstance(file, dict) or not _ID.fullmatch(str(file.get("id", ""))):
                bad.append("files[].id")
                break
    if bad:
        raise incorrect(*sorted(set(bad)))
    return body


def _has_type(value: Any, expected: type | None) -> bool:
    if expected is None:
        return True
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.dataset = state.dataset

    # -- scope resolution (404s) ----------------------------------------------------------

    def _tenant(self, request: web.Request) -> str:
        tenant = request.match_info["tenant"]
        if not self.dataset.is_tenant(tenant):
            raise not_found(f"tenant {tenant}")
        return tenant

    def _group(self, request: web.Request) -> tuple[str, str]:
        tenant = self._tenant(request)
        group = request.match_info["group"]
        if not self.dataset.is_group(tenant, group):
            raise not_found(f"group {group}")
        return tenant, group

    def _user(self, request: web.Request) -> tuple[str, str]:
        _, group = self._group(request)
        user = request.match_info["user"]
        if not self.state.has_user(group, user):
            raise not_found(f"user {user}")
        return group, user

    @staticmethod
    def _entity(request: web.Request, catalogue: tuple[str, ...]) -> str:
        entity = request.match_info["entity"]
        if entity not in catalogue:
            raise not_found(f"entity {entity}")
        return entity

    # -- lists and users ------------------------------------------------------------------

    async def tenants(self, request: web.Request) -> web.Response:
        require_accept(request)
        items = [{"id": t, "name": f"Tenant {t[1:]}"} for t in self.dataset.tenant_ids()]
        return json_response(paged(request, items))

    async def groups(self, request: web.Request) -> web.Response:
        require_accept(request)
        tenant = self._tenant(request)
        items = []
        for group in self.dataset.group_ids(tenant):
            profile = self.state.group_doc(group, "profile") or {}
            items.append({"id": group, "tenant_id": tenant, "name": profile.get("name", group)})
        return json_response(paged(request, items))

    def _user_item(self, group: str, user: str) -> dict[str, Any]:
        profile = self.state.user_doc(group, user, "profile") or {}
        item = {"id": user}
        item.update({k: profile[k] for k in ("firstname", "lastname", "line") if k in profile})
        return item

    async def users(self, request: web.Request) -> web.Response:
        require_accept(request)
        _, group = self._group(request)
        page = paged(request, self.state.user_ids(group))
        page["items"] = [self._user_item(group, user) for user in page["items"]]
        return json_response(page)

    async def user(self, request: web.Request) -> web.Response:
        require_accept(request)
        group, user = self._user(request)
        return json_response(self._user_item(group, user))

    async def create_user(self, request: web.Request) -> web.Response:
        require_accept(request)
        require_content_type(request, JSON)
        _, group = self._group(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not _ID.fullmatch(str(body.get("id", ""))):
            raise incorrect("id")
        if not isinstance(body["id"], str):
            raise incorrect("id")
        user: str = body["id"]
        profile = validate_document("user", "profile", user, body) if len(body) > 1 else None
        if not self.state.add_user(group, user, profile):
            raise PbxHttpError(400, f"Incorrect parameters sent: id (user {user} exists)")
        location = f"{request.path.rstrip('/')}/{user}"
        return json_response({"id": user}, status=201, headers={"Location": location})

    async def delete_user(self, request: web.Request) -> web.Response:
        require_accept(request)
        group, user = self._user(request)
        self.state.remove_user(group, user)
        return web.Response(status=200)

    # -- entities -------------------------------------------------------------------------

    async def group_entity(self, request: web.Request) -> web.Response:
        require_accept(request)
        if request.method == "PUT":
            require_content_type(request, JSON)
        _, group = self._group(request)
        entity = self._entity(request, GROUP_ENTITIES)
        if request.method == "PUT":
            doc = validate_document("group", entity, group, await read_json(request))
            self.state.put_group_doc(group, entity, doc)
            return json_response(doc)
        if entity in MEDIA_ENTITIES:
            await self.state.warm_digests(self.dataset.group_announcement_ids(group))
        current = self.state.group_doc(group, entity)
        if current is None:
            raise not_found(f"entity {entity}")
        if request.method == "DELETE":
            self.state.put_group_doc(group, entity, None)
            return web.Response(status=200)
        return json_response(current)

    async def user_entity(self, request: web.Request) -> web.Response:
        require_accept(request)
        if request.method == "PUT":
            require_content_type(request, JSON)
        group, user = self._user(request)
        entity = self._entity(request, USER_ENTITIES)
        if request.method == "PUT":
            doc = validate_document("user", entity, user, await read_json(request))
            self.state.put_user_doc(group, user, entity, doc)
            return json_response(doc)
        if entity in MEDIA_ENTITIES:
            await self.state.warm_digests([f"{user}-ann-01"])
        current = self.state.user_doc(group, user, entity)
        if current is None:
            raise not_found(f"entity {entity} of user {user}")
        if request.method == "DELETE":
            self.state.put_user_doc(group, user, entity, None)
            return web.Response(status=200)
        return json_response(current)

    # -- media ----------------------------------------------------------------------------

    async def recordings(self, request: web.Request) -> web.Response:
        require_accept(request)
        _, group = self._group(request)
        ids = [f for f in self.state.media_ids(group) if f.startswith(f"{group}-rec-")]
        page = paged(request, ids)
        items = []
        for file_id in page["items"]:
            file = self.state.media(group, file_id)
            if file is None:
                continue
            generated = isinstance(file, MediaFile)
            item = self.dataset.recording(file_id) if generated else {"id": file_id}
            item.setdefault("filename", f"{file_id}.wav")
            digest = await self.state.media_digest(file)
            item.update(size=file.size, sha256=digest, content_type=AUDIO)
            items.append(item)
        page["items"] = items
        return json_response(page)

    async def media(self, request: web.Request) -> web.StreamResponse:
        require_accept(request, JSON if request.method != "GET" else AUDIO)
        if request.method == "PUT":
            require_content_type(request, "audio/*", "application/octet-stream")
        _, group = self._group(request)
        file_id = request.match_info["file_id"]
        if request.method == "PUT":
            if not _ID.fullmatch(file_id):
                raise incorrect("file_id")
            chunks = request.content.iter_chunked(CHUNK_SIZE)
            stored = await self.state.store_media(group, file_id, chunks)
            return json_response({"id": file_id, "size": stored.size, "sha256": stored.sha256})
        file = self.state.media(group, file_id)
        if file is None:
            raise not_found(f"media file {file_id}")
        if request.method == "DELETE":
            self.state.delete_media(group, file_id)
            return web.Response(status=200)
        response = web.StreamResponse(headers={"Content-Type": AUDIO})
        response.content_length = file.size
        await response.prepare(request)
        if isinstance(file, StoredFile):
            async for chunk in _read_stored(file):
                await response.write(chunk)
        else:
            for block in self.dataset.audio_chunks(file.file_id):
                await response.write(block)
        await response.write_eof()
        return response

    async def export(self, request: web.Request) -> web.Response:
        require_accept(request)
        tenant, group = self._group(request)
        body = canonical_json(await self.state.export(tenant, group))
        return web.Response(body=body, content_type=JSON, charset="utf-8")


async def _read_stored(file: StoredFile) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(file.path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
            yield chunk
    finally:
        handle.close()
