"""The stack most benchmarks back up with: a ``rewind sandbox`` process (the PBX) and a
``rewind serve --pbx`` process on a fresh data directory under the bench root."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import call
from bench.common import fresh_dir
from bench.processes import Running, sandbox, serve

GROUP = {"tenant_id": "t01", "group_id": "t01-g01"}
"""The one group the backup benchmarks' sandboxes hold."""


@dataclass(frozen=True)
class Stack:
    serve: Running
    base: str
    """rewind serve's URL."""
    pbx: str
    """The sandbox's URL."""
    data_dir: Path

    @property
    def artifacts(self) -> Path:
        return self.data_dir / "artifacts"

    def pbx_requests(self) -> int:
        """Requests the sandbox has counted so far (every PBX call a backup made)."""
        _status, stats = call("GET", f"{self.pbx}/1.0/_stats")
        count: int = stats["requests"]
        return count


@contextlib.contextmanager
def stack(
    name: str, users: int, *sandbox_flags: str, env: dict[str, Any] | None = None
) -> Iterator[Stack]:
    """One tenant, one group of ``users`` users (plus ``sandbox_flags``), served by rewind."""
    root = fresh_dir(name)
    flags = ("--tenants", "1", "--groups", "1", "--users", str(users), *sandbox_flags)
    with sandbox(*flags) as pbx, serve(root / "rewind", pbx, env=env) as (proc, base):
        yield Stack(serve=proc, base=base, pbx=pbx, data_dir=root / "rewind")
