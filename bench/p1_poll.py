"""P1 poll: requests/s of the APIO polling route and of the native GET of one backup under
50 concurrent connections, against a bare aiohttp JSON hello handler served the same way in
the same run. The backup polled is pending (served with --no-worker, as a client polls a
backup that is still running). Ratio: the slower of the two routes / hello; target >= 0.6."""

from __future__ import annotations

from bench.client import start_backup
from bench.common import Options, fresh_dir, report
from bench.load import Load, measure
from bench.processes import TOKEN, free_port, python_module, running, sandbox, serve

CONNECTIONS = 50


def run(options: Options) -> float:
    seconds = 1.0 if options.quick else 5.0
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
            # Hello before and after the routes: the machine's load drifts during a run.
            before = measure(hello_url, CONNECTIONS, seconds, None)
            polled = measure(apio, CONNECTIONS, seconds, TOKEN)
            got = measure(native, CONNECTIONS, seconds, TOKEN)
            after = measure(hello_url, CONNECTIONS, seconds, None)
    hello = Load(
        rps=(before.rps + after.rps) / 2, errors=before.errors + after.errors, tool=before.tool
    )
    print(f"hello before the routes {before.rps:,.0f} req/s, after {after.rps:,.0f} req/s")
    print(f"load: {hello.tool}, {CONNECTIONS} connections, {seconds:.0f}s per route")
    print(f"hello (bare aiohttp)        {hello.rps:10,.0f} req/s  errors {hello.errors}")
    print(f"APIO backup/polling/{{ref}}   {polled.rps:10,.0f} req/s  errors {polled.errors}")
    print(f"GET /api/v1/backups/{{id}}    {got.rps:10,.0f} req/s  errors {got.errors}")
    print(f"ratios: polling {polled.rps / hello.rps:.3f}, native {got.rps / hello.rps:.3f}")
    return report("P1_poll", min(polled.rps, got.rps) / hello.rps, ">=0.6")
