"""P6 memory: the peak resident set (VmHWM) of the ``rewind serve`` process (API, worker,
views) while it backs up 20,000 entities (4,000 users x 5 user entities + the group's) and
200 MB of media (4,002 announcement files of 50 KiB). The RATIO value is the peak in MiB
itself; target <= 150."""

from __future__ import annotations

import time

from bench.client import backup_and_wait
from bench.common import Options, dir_bytes, report
from bench.processes import peak_rss_mb
from bench.stack import GROUP, stack


def run(options: Options) -> float:
    users, media_kb = (40, 8) if options.quick else (4000, 50)
    with stack("p6", users, "--media-kb", str(media_kb)) as s:
        idle = peak_rss_mb(s.serve)
        started = time.perf_counter()
        row = backup_and_wait(s.base, **GROUP, download_announcement_files=True)
        wall = time.perf_counter() - started
        peak = peak_rss_mb(s.serve)
        stored = dir_bytes(s.artifacts)
    media = (users + 2) * media_kb / 1024
    print(
        f"{row['progress']['total']:,} entities and {media:,.0f} MiB of media in {wall:.1f}s "
        f"({stored / 2**20:,.0f} MiB stored)"
    )
    print(f"rewind serve peak RSS: {peak:.1f} MiB (idle before the backup: {idle:.1f} MiB)")
    return report("P6_peak_rss_mb", peak, "<=150")
