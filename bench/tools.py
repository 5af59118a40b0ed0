"""Outside tools a benchmark may install with apt-get (wrk, restic) when missing and the
benchmark runs as root; without them a benchmark falls back or says what it skipped."""

from __future__ import annotations

import os
import shutil
import subprocess


def ensure(tool: str) -> str | None:
    """The path of ``tool``, installed with apt-get first if needed and possible."""
    found = shutil.which(tool)
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-q", tool],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which(tool)
