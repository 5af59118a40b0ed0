"""schemathesis against a live ``rewind serve --demo``, from the server's own OpenAPI document
(``/api/v1/openapi.json``), authenticated with the admin token: no answer is a 5xx, and every
answer conforms to the document (documented status, Content-Type, headers, body schema).

It runs schemathesis' own command line (``schemathesis run``), the way a user would, with
its three generating phases (the documented examples, the coverage of boundary values, and
random fuzzing), bounded for CI by ``MAX_EXAMPLES`` cases per operation in the fuzzing phase
(the coverage phase generates its boundary values whatever that number), with a fixed seed
so a run repeats. There is no ``--max-time``: under it schemathesis keeps fuzzing until the
budget is spent, so it would set the run's length instead of bounding it. ``TIMEOUT`` is
only a guard against a hung run (a run takes about 45 s on two loaded cores).

schemathesis' cache ("persistent per-project state reused across runs": crashes and replayed
requests) goes to the test's temporary directory, so every run starts from nothing and
nothing lands in the working tree.

Registering hosts (``POST /api/v1/hosts``) is left out: a generated ``base_url`` could name any
address, and the server probes and backs up registered hosts, while tests may only talk to
loopback; tests/e2e/test_native_api.py covers that route. So the only host is the demo
sandbox, on 127.0.0.1.

The event feeds' ``follow`` is held at ``0``: followed, ``/api/v1/events`` stays open for
good (by design), which a request/response fuzzer can only see as a timeout;
tests/e2e/test_operations.py covers the streams.

(schemathesis' pytest plugin is not used: with pytest 9 it fails at collection, ``'Function'
object has no attribute '_nodeid'``.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import serving

TOKEN = "fuzz-e2e-token"
MAX_EXAMPLES = 6
TIMEOUT = 165
SEED = 1
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    with serving(data_dir, TOKEN, "--demo") as base:
        yield base


@pytest.mark.timeout(TIMEOUT + 30)
def test_no_5xx_and_every_answer_conforms_to_the_document(live: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    cache = json.dumps(str(tmp_path / "schemathesis-cache"))
    config.write_text(f'[cache]\ndirectory = {cache}\n\n[parameters]\n"query.follow" = "0"\n')
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{live}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--exclude-operation-id",
        "post_api_v1_hosts",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    summary = output.split("SUMMARY")[-1]
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    tested = re.search(r"Tested: (\d+)", summary)
    generated = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert selected and tested and generated, summary
    assert selected[1] == tested[1] == str(int(selected[2]) - 1), summary  # all but hosts
    assert int(generated[1]) == int(generated[2]) >= 5 * int(tested[1]), summary
