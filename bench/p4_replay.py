"""P4 replay: ``rewind replay`` (every view rebuilt from the log into fresh storage) over
1,000,000 events, in events/s, against a raw read-and-decode of the same log in the same run
(pages of stored events read from the recorder and decoded into domain events by the same
mapper, nothing written). Target >= 0.8. ``--events N`` scales the log down.

The machine's speed drifts during a run (on a shared two-core machine, the same code gave
0.45 and 0.95 in two runs a minute apart, the baseline alone 59,000 to 100,000 events/s).
So the run takes turns, as P1 does: baseline, replay, baseline, replay, ..., baseline; each
replay is set against the mean of the baselines just before and just after it, and the
ratio is the median over rounds."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from pathlib import Path

from adapters.event_store import open_application
from adapters.settings import Settings
from bench.common import Options, bench_root, report
from bench.eventlog import cached_log
from bench.processes import REWIND

DEFAULT_EVENTS = 1_000_000
PAGE = 1000
ROUNDS = 3


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


def replay(data_dir: Path) -> tuple[int, float]:
    """Events ``rewind replay`` applied, and the seconds it reported."""
    out = subprocess.run(
        [REWIND, "replay", "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"replayed (\d+) events .* in ([\d.]+)s", out)
    if match is None:
        raise RuntimeError(f"unexpected rewind replay output: {out}")
    return int(match[1]), float(match[2])


def run(options: Options) -> float:
    events = options.events or (2_000 if options.quick else DEFAULT_EVENTS)
    rounds = 1 if options.quick else ROUNDS
    data_dir, wrote = cached_log(bench_root(), events)
    print(
        f"log of N={events:,} events at {data_dir}"
        + (f" (written in {wrote:.1f}s)" if wrote is not None else " (cached)")
    )
    settings = Settings(data_dir=data_dir)
    count, seconds = raw_read_decode(settings)
    baselines = [count / seconds]
    print(f"raw read-and-decode:  {count:,} events in {seconds:.2f}s = {baselines[-1]:,.0f} ev/s")
    ratios: list[float] = []
    for turn in range(1, rounds + 1):
        replayed, seconds = replay(data_dir)
        rate = replayed / seconds
        print(f"rewind replay:        {replayed:,} events in {seconds:.2f}s = {rate:,.0f} ev/s")
        count, seconds = raw_read_decode(settings)
        baselines.append(count / seconds)
        print(
            f"raw read-and-decode:  {count:,} events in {seconds:.2f}s = {baselines[-1]:,.0f} ev/s"
        )
        ratios.append(rate / statistics.mean(baselines[-2:]))
        print(f"round {turn}: replay / mean of the baselines around it = {ratios[-1]:.3f}")
    print(f"median over {rounds} round(s): {statistics.median(ratios):.3f}")
    return report("P4_replay", statistics.median(ratios), ">=0.8")
