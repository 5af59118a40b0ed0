"""The HTTP side of the ``rewind`` client commands: where the server is, how to ask it, and
what its answers mean for the exit code.

Connection settings come from, in order: ``--url`` / ``--token`` flags, ``REWIND_URL`` /
``REWIND_TOKEN`` (``REWIND_ADMIN_TOKEN`` too, as the server is started with it), then the
config file ``$REWIND_CLIENT_CONFIG`` or ``~/.config/rewind/client.toml``::

    url = "http://127.0.0.1:8080"
    token = "..."

The standard library's urllib is enough (one request at a time, plus one long-lived stream
for ``--follow``); the token only ever goes into the Authorization header.
"""

from __future__ import annotations

import http.client
import json
import os
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_URL = "http://127.0.0.1:8080"

EXIT_OK = 0
EXIT_JOB_FAILED = 1
"""The job ended otherwise than SUCCESS (FAILED, cancelled, MISSING)."""
EXIT_USAGE = 2
"""Bad command line (argparse's own code) or no usable connection settings."""
EXIT_REFUSED = 3
"""The server refused the request (a 4xx: bad input, unknown id, conflict, bad token)."""
EXIT_UNAVAILABLE = 4
"""The server could not be reached or failed (5xx, connection refused, timeout)."""


class ClientError(Exception):
    """A request that did not get the answer it wanted, with the exit code it means."""

    def __init__(self, exit_code: int, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message
        self.status = status


def config_path() -> Path:
    given = os.environ.get("REWIND_CLIENT_CONFIG")
    if given:
        return Path(given)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "rewind" / "client.toml"


def _config_file() -> dict[str, Any]:
    path = config_path()
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ClientError(EXIT_USAGE, f"cannot read {path}: {error}") from None


@dataclass(frozen=True)
class Connection:
    url: str
    token: str | None

    def __repr__(self) -> str:  # never show the token
        return f"Connection(url={self.url!r}, token={'***' if self.token else None})"


def resolve_connection(url: str | None, token: str | None) -> Connection:
    """Flags first, then the environment, then the config file, then the default URL."""
    env = os.environ
    url = url or env.get("REWIND_URL")
    token = token or env.get("REWIND_TOKEN") or env.get("REWIND_ADMIN_TOKEN")
    file = _config_file() if url is None or token is None else {}
    final_url = url or file.get("url") or DEFAULT_URL
    final_token = token or file.get("token")
    if not str(final_url).startswith(("http://", "https://")):
        raise ClientError(EXIT_USAGE, f"--url: expected http(s)://HOST:PORT, got {final_url!r}")
    return Connection(str(final_url).rstrip("/"), None if final_token is None else str(final_token))


def _messages(raw: bytes) -> str:
    """The server's error answer (a JSON list of messages, seed 003) as one line."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:300]
    if isinstance(data, list):
        return "; ".join(str(m) for m in data)
    return json.dumps(data)


class RewindClient:
    def __init__(self, connection: Connection, timeout: float = 30.0) -> None:
        self.connection = connection
        self.timeout = timeout

    def _open(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        url = self.connection.url + path
        if query:
            pairs = [
                (k, str(item))
                for k, v in query.items()
                if v is not None
                for item in (v if isinstance(v, list) else [v])
            ]
            url += "?" + urllib.parse.urlencode(pairs)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.connection.token:
            request.add_header("Authorization", f"Bearer {self.connection.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as error:
            detail = _messages(error.read())
            code = EXIT_REFUSED if error.code < 500 else EXIT_UNAVAILABLE
            raise ClientError(code, f"HTTP {error.code}: {detail}", error.code) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ClientError(
                EXIT_UNAVAILABLE, f"cannot reach {self.connection.url}: {reason}"
            ) from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._open(method, path, **kwargs) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def get(self, path: str, **query: Any) -> Any:
        return self.json("GET", path, query=query or None)

    def post(self, path: str, body: Any) -> Any:
        return self.json("POST", path, body=body)

    def download(self, path: str, out: BinaryIO, chunk: int = 1 << 16) -> int:
        """Copy a streamed answer into ``out``; the number of bytes written. An answer the
        server broke off (it found damaged content while streaming) is a ClientError."""
        written = 0
        with self._open("GET", path, accept="application/x-tar", timeout=300) as response:
            try:
                while block := response.read(chunk):
                    out.write(block)
                    written += len(block)
            except (http.client.HTTPException, ConnectionError, TimeoutError) as error:
                raise ClientError(
                    EXIT_UNAVAILABLE,
                    f"the download broke off after {written:,} bytes "
                    f"({type(error).__name__}); a backup whose content turned out damaged "
                    "is now MISSING, its failure_reason says why",
                ) from None
        return written

    def events(self, path: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Server-sent events of ``path``, each message's JSON data, until the server ends
        the stream (a followed stream never ends by itself: interrupt it)."""
        with self._open(
            "GET", path, query=query, accept="text/event-stream", timeout=3600
        ) as response:
            data: list[str] = []
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []
