"""``python -m bench P1`` (P1..P8) or ``python -m bench all``: run benchmarks, print their
figures, each ending with ``RATIO name value target``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from bench.common import Options, machine

BENCHMARKS = {
    "P1": "bench.p1_poll",
    "P2": "bench.p2_commands",
    "P3": "bench.p3_read_your_writes",
    "P4": "bench.p4_replay",
    "P5": "bench.p5_engine",
    "P6": "bench.p6_memory",
    "P7": "bench.p7_dedup",
    "P8": "bench.p8_storage",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", choices=[*BENCHMARKS, "ALL"], type=str.upper, help="P1..P8 or all")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--events", type=int, default=None, help="P4: events in the log")
    args = parser.parse_args(argv)
    options = Options(quick=args.quick, events=args.events)
    names = list(BENCHMARKS) if args.which == "ALL" else [args.which]
    print(f"machine: {machine()}; python {sys.version.split()[0]}", flush=True)
    for name in names:
        print(f"== {name} {'(quick)' if options.quick else ''}".rstrip(), flush=True)
        started = time.perf_counter()
        module = importlib.import_module(BENCHMARKS[name])
        module.run(options)
        print(f"({name} took {time.perf_counter() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
