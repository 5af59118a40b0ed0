"""P4 replay: ``rewind replay`` (every view rebuilt from the log into fresh storage) over
1,000,000 events, in events/s, against a raw read-and-decode of the same log in the same run
(pages of stored events read from the recorder and decoded into domain events by the same
mapper, nothing written). Target >= 0.8. ``--events N`` scales the log down."""

from __future__ import annotations

import re
import subprocess
import time

from adapters.event_store import open_application
from adapters.settings import Settings
from bench.common import Options, bench_root, report
from bench.eventlog import cached_log
from bench.processes import REWIND

DEFAULT_EVENTS = 1_000_000
PAGE = 1000


def raw_read_decode(settings: Settings) -> tuple[int, float]:
    """Events read and decoded, and the seconds it took."""
    app = open_application(settings)
    try:
        started = time.perf_counter()
        position, count = 0, 0
        while True:
            records = app.recorder.select_notifications(
                start=position, limit=PAGE, inclusive_of_start=False
            )
            for record in records:
                app.mapper.to_domain_event(record)
            count += len(records)
            if len(records) < PAGE:
                return count, time.perf_counter() - started
            position = records[-1].id
    finally:
        app.close()


def run(options: Options) -> float:
    events = options.events or (2_000 if options.quick else DEFAULT_EVENTS)
    data_dir, wrote = cached_log(bench_root(), events)
    print(
        f"log of N={events:,} events at {data_dir}"
        + (f" (written in {wrote:.1f}s)" if wrote is not None else " (cached)")
    )
    out = subprocess.run(
        [REWIND, "replay", "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"replayed (\d+) events .* in ([\d.]+)s", out)
    if match is None:
        raise RuntimeError(f"unexpected rewind replay output: {out}")
    replayed, seconds = int(match[1]), float(match[2])
    count, raw_seconds = raw_read_decode(Settings(data_dir=data_dir))
    replay_rate, raw_rate = replayed / seconds, count / raw_seconds
    print(f"rewind replay:        {replayed:,} events in {seconds:.2f}s = {replay_rate:,.0f} ev/s")
    print(f"raw read-and-decode:  {count:,} events in {raw_seconds:.2f}s = {raw_rate:,.0f} ev/s")
    return report("P4_replay", replay_rate / raw_rate, ">=0.8")
