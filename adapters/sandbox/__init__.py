"""The sandbox PBX: a real HTTP server speaking seed 003's conventions over generated data.

``start_sandbox`` embeds one in the running loop (tests, ``rewind serve --demo``);
``serve_sandbox`` runs one until cancelled (``rewind sandbox``). See server.py for the URL
layout and the ``_export`` shape, faults.py for fault injection and ``_stats``.
"""

from __future__ import annotations

from .config import SandboxConfig
from .dataset import Dataset
from .server import build_sandbox_app, serve_sandbox, start_sandbox

__all__ = ["Dataset", "SandboxConfig", "build_sandbox_app", "serve_sandbox", "start_sandbox"]
