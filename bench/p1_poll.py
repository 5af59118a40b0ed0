"""P1 poll: requests/s of the APIO polling route and the native GET of one backup under
50 concurrent connections, against a bare aiohttp JSON hello handler served the same way in
the same run. The backup polled is pending (served with --no-worker, as a client polls a
backup that is still running). Ratio: the slower of the two routes / hello; target >= 0.6.

The machine's speed drifts during a run (on a shared two-core machine, hello alone was seen
anywhere between 13,700 and 22,000 req/s within one minute). So the run takes turns: hello,
APIO, native, hello, APIO, native, ..., hello; each route's round is set against the mean of
the hello measured just before and just after it, and the ratio is the median over rounds."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.client import start_backup
from bench.common import Options, fresh_dir, report
from bench.load import Load, measure
from bench.processes import TOKEN, free_port, python_module, running, sandbox, serve

CONNECTIONS = 50
ROUNDS = 5


@dataclass(frozen=True)
class Round:
    """One turn: the routes' loads and the hello measured before and after them."""

    hello_before: Load
    apio: Load
    native: Load
    hello_after: Load

    @property
    def hello_rps(self) -> float:
        return (self.hello_before.rps + self.hello_after.rps) / 2

    def ratios(self) -> tuple[float, float]:
        return self.apio.rps / self.hello_rps, self.native.rps / self.hello_rps


def run(options: Options) -> float:
    rounds = 1 if options.quick else ROUNDS
    seconds = 1.0 if options.quick else 2.0
    data_dir = fresh_dir("p1")
    with (
        sandbox("--tenants", "1", "--groups", "1", "--users", "2") as pbx,
        serve(data_dir, pbx, "--no-worker") as (_proc, base),
    ):
        started = start_backup(base, tenant_id="t01", group_id="t01-g01")
        apio = (
            f"{base}/api/v1/tenants/t01/groups/t01-g01/batch/backup/polling/"
            f"{started['reference_id']}/"
        )
        native = f"{base}/api/v1/backups/{started['id']}"
        port = free_port()
        hello_url = f"http://127.0.0.1:{port}/hello"
        with running(python_module("bench.hello", str(port))) as hello_proc:
            hello_proc.wait_for_line("listening on")
            hellos = [measure(hello_url, CONNECTIONS, seconds, None)]
            routes: list[tuple[Load, Load]] = []
            for _ in range(rounds):
                routes.append(
                    (
                        measure(apio, CONNECTIONS, seconds, TOKEN),
                        measure(native, CONNECTIONS, seconds, TOKEN),
                    )
                )
                hellos.append(measure(hello_url, CONNECTIONS, seconds, None))
    turns = [Round(hellos[i], a, n, hellos[i + 1]) for i, (a, n) in enumerate(routes)]
    return _print(turns, seconds)


def _print(turns: list[Round], seconds: float) -> float:
    tool = turns[0].apio.tool
    print(f"load: {tool}, {CONNECTIONS} connections, {len(turns)} rounds of {seconds:.0f}s each")
    print("round  hello req/s  APIO req/s  native req/s  APIO/hello  native/hello")
    for number, turn in enumerate(turns, start=1):
        apio, native = turn.ratios()
        print(
            f"{number:5d}  {turn.hello_rps:11,.0f}  {turn.apio.rps:10,.0f}  "
            f"{turn.native.rps:12,.0f}  {apio:10.3f}  {native:12.3f}"
        )
    errors = turns[-1].hello_after.errors
    errors += sum(t.apio.errors + t.native.errors + t.hello_before.errors for t in turns)
    polling = statistics.median(t.ratios()[0] for t in turns)
    native = statistics.median(t.ratios()[1] for t in turns)
    print(f"errors (non-2xx and timeouts, all loads): {errors}")
    print(f"median ratios: APIO backup/polling/{{ref}} {polling:.3f}, ", end="")
    print(f"GET /api/v1/backups/{{id}} {native:.3f}")
    return report("P1_poll", min(polling, native), ">=0.6")
