"""The PBX REST client: seed 003 conventions, bounded concurrency, retries, exact call counting.

Counting (what APIO's ``successful_calls`` / ``error_calls`` mean in Rewind):

- A *logical call* is one method call (``get_json``, ``put_json``, ``post_json``, ``delete``,
  ``stream``, ``upload``; each page of ``list_all`` is its own logical call). It makes one or
  more HTTP *attempts*.
- A logical call that succeeds, after any number of retries, is ONE successful call.
- A logical call whose every attempt failed (5xx, timeout, connection error) is ONE error call
  and raises :class:`PbxCallFailed`.
- A 404 raises :class:`PbxNotFound`, is not retried and is NEITHER successful nor an error: the
  entity does not exist on that PBX, and the worker records it as ignored.
- Any other 4xx raises :class:`PbxRejected`, is not retried (asking again gets the same answer)
  and is ONE error call. So is a 2xx whose body is not what the call expects (no retry either).
- ``retries`` counts the extra attempts (attempts beyond the first), whatever their outcome.

The client keeps these totals for its whole life (:attr:`PbxClient.stats`); a caller that needs
them per backup counts the same way from outcomes: a return is a success, ``PbxCallFailed`` and
``PbxRejected`` are errors, ``PbxNotFound`` is an ignored entity.

Retries use exponential backoff with full jitter (a uniform draw in ``[0, min(max, base *
2**n)]``) so that many workers hitting a struggling PBX spread out instead of retrying in
lockstep. The semaphore is held per attempt, not during backoff, so a sleeping retry does not
block other calls.

Credentials go in the ``Authorization`` header and nowhere else: not in ``repr``, not in
exception messages, not in logs. ``"user:password"`` is sent as HTTP Basic, a value that already
names a scheme (``"Bearer abc"``, ``"Basic ..."``) verbatim, anything else as a Bearer token.
User info in ``base_url`` (``http://user:pw@host``) is moved to the header the same way.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from adapters.url_credentials import split_user_info
from domain.ports.pbx import PbxCallFailed, PbxError, PbxNotFound, PbxRejected

__all__ = [
    "PbxCallFailed",
    "PbxCallStats",
    "PbxClient",
    "PbxError",
    "PbxNotFound",
    "PbxRejected",
    "authorization_header",
]

CHUNK_SIZE = 64 * 1024
"""Size of the chunks :meth:`PbxClient.stream` yields."""

JSON = "application/json"

_RETRYABLE = (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
"""Failures worth another attempt: the PBX may answer next time."""


@dataclass(frozen=True)
class PbxCallStats:
    """Client-wide totals (see the module docstring for what each counts)."""

    successful_calls: int = 0
    error_calls: int = 0
    retries: int = 0
    not_found: int = 0


@dataclass
class _Failure:
    """Why the last attempt failed, kept for the PbxCallFailed of a call that gives up."""

    status: int | None
    message: str


def authorization_header(credentials: str) -> str:
    """The ``Authorization`` value for ``credentials`` (rules in the module docstring)."""
    if " " in credentials.strip():
        return credentials.strip()
    if ":" in credentials:
        return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return f"Bearer {credentials}"


def error_messages(raw: bytes) -> list[str]:
    """The messages of an error body: seed 003's JSON list, or the text itself, shortened."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw[:300].decode("utf-8", errors="replace").strip()
        return [text] if text else []
    if isinstance(body, list):
        return [str(message) for message in body]
    if isinstance(body, dict) and "message" in body:
        return [str(body["message"])]
    return [str(body)[:300]]


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class PbxClient:
    """One PBX's REST API over one aiohttp session (use ``async with`` or call ``close()``)."""

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int = 16,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_base_s: float = 0.05,
        backoff_max_s: float = 2.0,
        credentials: str | None = None,
    ) -> None:
        if concurrency < 1 or attempts < 1 or timeout_s <= 0:
            raise ValueError("concurrency and attempts must be >= 1, timeout_s > 0")
        base_url, in_url = split_user_info(base_url)
        if credentials is None:
            credentials = in_url
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._authorization = None if credentials is None else authorization_header(credentials)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._rng = random.Random()
        self._successful = 0
        self._errors = 0
        self._retries = 0
        self._not_found = 0
        # A whole call (JSON documents are small); streams only bound connect and read gaps.
        self._call_timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout_s, sock_read=timeout_s
        )

    def __repr__(self) -> str:
        credentials = "<hidden>" if self._authorization is not None else None
        return (
            f"PbxClient(base_url={self.base_url!r}, concurrency={self.concurrency}, "
            f"timeout_s={self.timeout_s}, attempts={self.attempts}, credentials={credentials})"
        )

    @property
    def stats(self) -> PbxCallStats:
        """A snapshot of the client-wide totals."""
        return PbxCallStats(self._successful, self._errors, self._retries, self._not_found)

    # -- life cycle -----------------------------------------------------------------------

    async def __aenter__(self) -> PbxClient:
        self._ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session (idempotent; a later call opens a new one)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {} if self._authorization is None else {"Authorization": self._authorization}
            self._session = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                raise_for_status=False,
            )
        return self._session

    # -- JSON calls -----------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET a JSON document."""
        return await self._call("GET", path, params=params)

    async def list_all(self, path: str, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every item of a ``{total, items}`` list, page by page (each page is a logical call).

        Stops when ``total`` items have arrived, on an empty page, or (when the PBX leaves out
        the optional ``total``) on a short page.
        """
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self._call(
                "GET",
                path,
                params={"_page": page, "_pagesize": page_size},
                expect=_check_list_page,
            )
            page_items: list[dict[str, Any]] = body["items"]
            items.extend(page_items)
            total = body.get("total")
            if not page_items:
                break
            if isinstance(total, int) and len(items) >= total:
                break
            if not isinstance(total, int) and len(page_items) < page_size:
                break
            page += 1
        return items

    async def put_json(self, path: str, body: Any) -> Any:
        """PUT a JSON document (idempotent, so retried like a GET); returns the answer or None."""
        return await self._call("PUT", path, body=body)

    async def post_json(self, path: str, body: Any, *, retry: bool = True) -> Any:
        """POST a JSON document; returns the answer or None.

        A POST is not idempotent: after a timeout the PBX may have created the resource, so a
        retry can be rejected as a duplicate. ``retry=False`` makes one attempt only.
        """
        return await self._call("POST", path, body=body, retry=retry)

    async def delete(self, path: str) -> Any:
        """DELETE a resource; returns the answer or None."""
        return await self._call("DELETE", path)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        retry: bool = True,
        expect: Callable[[Any], str | None] | None = None,
    ) -> Any:
        url = self.base_url + path
        headers = {"Accept": JSON}
        data = None
        if body is not None:
            headers["Content-Type"] = JSON
            data = orjson.dumps(body)
        attempts = self.attempts if retry else 1
        failure = _Failure(None, "no attempt made")
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await self._backoff(attempt - 1)
            try:
                async with self._semaphore:
                    session = self._ensure_session()
                    async with session.request(
                        method,
                        url,
                        params=params,
                        data=data,
                        headers=headers,
                        timeout=self._call_timeout,
                    ) as response:
                        status = response.status
                        raw = await response.read()
            except _RETRYABLE as error:
                failure = _Failure(None, _describe(error))
                continue
            if status >= 500:
                failure = _Failure(status, "; ".join(error_messages(raw)) or f"HTTP {status}")
                continue
            self._raise_for_client_error(path, status, raw)
            return self._accept(method, path, attempt, status, raw, expect)
        self._errors += 1
        raise PbxCallFailed(path, attempts, failure.status, failure.message, method)

    def _raise_for_client_error(self, path: str, status: int, raw: bytes) -> None:
        """404 -> PbxNotFound (not counted); other non-2xx below 500 -> PbxRejected (error)."""
        if status == 404:
            self._not_found += 1
            raise PbxNotFound(path)
        if not 200 <= status < 300:
            self._errors += 1
            raise PbxRejected(path, status, error_messages(raw))

    def _accept(
        self,
        method: str,
        path: str,
        attempt: int,
        status: int,
        raw: bytes,
        expect: Callable[[Any], str | None] | None,
    ) -> Any:
        """Decode a 2xx body and count the call: a success, or an error if it is unusable."""
        try:
            value = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            self._errors += 1
            message = "the answer is not valid JSON"
            raise PbxCallFailed(path, attempt, status, message, method) from None
        problem = expect(value) if expect is not None else None
        if problem is not None:
            self._errors += 1
            raise PbxCallFailed(path, attempt, status, problem, method)
        self._successful += 1
        return value

    async def _backoff(self, retry: int) -> None:
        """Sleep before retry number ``retry`` (1-based): full jitter, capped."""
        self._retries += 1
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (retry - 1))
        await asyncio.sleep(self._rng.uniform(0, ceiling))

    # -- media ----------------------------------------------------------------------------

    async def stream(
        self, path: str, *, chunk_size: int = CHUNK_SIZE
    ) -> AsyncGenerator[bytes, None]:
        """Yield a (media) body in chunks of at most ``chunk_size``, never holding all of it.

        A failure before the first chunk is retried like any call; after it, the bytes already
        handed out cannot be taken back, so the call fails (one error call). The call counts
        as successful once the last chunk is out; a consumer that stops early counts nothing.
        Use ``contextlib.aclosing`` so that an early stop releases the connection at once.
        The stream holds one of the ``concurrency`` slots until it ends: do not make other
        calls on the same client from inside the loop when ``concurrency`` is 1.
        """
        url = self.base_url + path
        failure = _Failure(None, "no attempt made")
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                await self._backoff(attempt - 1)
            async with self._semaphore:
                try:
                    response = await self._ensure_session().get(
                        url, headers={"Accept": "*/*"}, timeout=self._stream_timeout
                    )
                except _RETRYABLE as error:
                    failure = _Failure(None, _describe(error))
                    continue
                sent = 0
                try:
                    if response.status >= 500:
                        failure = _Failure(response.status, f"HTTP {response.status}")
                        continue
                    if not 200 <= response.status < 300:
                        raw = await response.content.read(64 * 1024)
                        self._raise_for_client_error(path, response.status, raw)
                    try:
                        async for chunk in response.content.iter_chunked(chunk_size):
                            sent += len(chunk)
                            yield chunk
                    except _RETRYABLE as error:
                        if sent == 0:
                            failure = _Failure(response.status, _describe(error))
                            continue
                        self._errors += 1
                        message = f"interrupted after {sent} bytes: {_describe(error)}"
                        raise PbxCallFailed(path, attempt, response.status, message) from None
                finally:
                    # A body read to the end goes back to the pool; anything else is dropped.
                    if response.content.is_eof():
                        response.release()
                    else:
                        response.close()
            self._successful += 1
            return
        self._errors += 1
        raise PbxCallFailed(path, self.attempts, failure.status, failure.message)

    async def upload(
        self,
        path: str,
        chunks: AsyncIterable[bytes] | Callable[[], AsyncIterable[bytes]],
        size: int | None = None,
        *,
        content_type: str = "application/octet-stream",
    ) -> Any:
        """PUT a body streamed from ``chunks``; returns the answer (JSON) or None.

        ``size`` sets Content-Length (else the body is sent chunked). An iterable can be read
        once: the call is retried only if the failure came before its first chunk was taken.
        Pass a zero-argument factory returning a fresh iterable to make every failure retryable.
        """
        url = self.base_url + path
        headers = {"Accept": JSON, "Content-Type": content_type}
        if size is not None:
            headers["Content-Length"] = str(size)
        failure = _Failure(None, "no attempt made")
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                await self._backoff(attempt - 1)
            source = chunks() if callable(chunks) else chunks
            started = False

            async def body(source: AsyncIterable[bytes] = source) -> AsyncIterator[bytes]:
                nonlocal started
                async for chunk in source:
                    started = True
                    yield chunk

            try:
                async with (
                    self._semaphore,
                    self._ensure_session().put(
                        url, data=body(), headers=headers, timeout=self._stream_timeout
                    ) as response,
                ):
                    status = response.status
                    raw = await response.read()
            except _RETRYABLE as error:
                failure = _Failure(None, _describe(error))
                if started and not callable(chunks):
                    self._errors += 1
                    message = (
                        f"upload interrupted, the body cannot be sent again: {failure.message}"
                    )
                    raise PbxCallFailed(path, attempt, None, message, "PUT") from None
                continue
            if status >= 500:
                failure = _Failure(status, "; ".join(error_messages(raw)) or f"HTTP {status}")
                if started and not callable(chunks):
                    self._errors += 1
                    raise PbxCallFailed(path, attempt, status, failure.message, "PUT")
                continue
            self._raise_for_client_error(path, status, raw)
            return self._accept("PUT", path, attempt, status, raw, None)
        self._errors += 1
        raise PbxCallFailed(path, self.attempts, failure.status, failure.message, "PUT")


def _check_list_page(body: Any) -> str | None:
    """Why ``body`` is not a seed 003 list page, or None when it is one."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return "the answer is not a {total, items} list"
    if not all(isinstance(item, dict) for item in body["items"]):
        return "the list items are not objects"
    return None
