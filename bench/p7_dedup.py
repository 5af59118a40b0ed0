"""P7 dedup: the bytes a second backup of unchanged data adds to the artifact store, as a
share of what the first one stored (a group of 500 users, every entity, announcements
downloaded). Target <= 1% (the RATIO value is the share, 0.01 = 1%)."""

from __future__ import annotations

from bench.client import backup_and_wait
from bench.common import Options, dir_bytes, report
from bench.stack import GROUP, stack


def run(options: Options) -> float:
    users = 10 if options.quick else 500
    with stack("p7", users, "--media-kb", "64") as s:
        backup_and_wait(s.base, **GROUP, download_announcement_files=True)
        first = dir_bytes(s.artifacts)
        backup_and_wait(s.base, **GROUP, download_announcement_files=True)
        second = dir_bytes(s.artifacts) - first
    print(
        f"{users} users: first backup stored {first:,} bytes, the second added {second:,} "
        f"({100 * second / first:.2f}%)"
    )
    return report("P7_dedup_share", second / first, "<=0.01")
