"""End to end: the ``rewind`` client commands run as real processes against a real
``rewind serve`` (with real sandbox PBXs), as an operator or a script would run them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call, wait_for
from tests.support.processes import REWIND, Running, start, start_sandbox, start_serve

TOKEN = "cli-e2e-token"


@dataclass
class Env:
    base: str
    tmp: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("cli")
    good, good_url = start_sandbox(
        "--tenants", "1", "--groups", "2", "--users", "3", "--media-kb", "4"
    )
    bad, bad_url = start_sandbox(
        "--tenants", "1", "--groups", "1", "--users", "2", "--error-rate", "1.0"
    )
    serve, base = start_serve(tmp / "data", TOKEN, "--pbx", good_url)
    try:
        broken = {"id": "broken", "name": "broken", "base_url": bad_url}
        assert call("POST", f"{base}/api/v1/hosts", TOKEN, broken)[0] == 201
        yield Env(base, tmp)
    finally:
        serve.stop()
        good.stop()
        bad.stop()


def rewind(
    env: Env, *args: str, url: str | None = None, token: str | None = TOKEN, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run ``rewind ARGS`` with the connection in the environment, as a script would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REWIND_")}
    environ["REWIND_URL"] = url or env.base
    environ["REWIND_CLIENT_CONFIG"] = str(env.tmp / "no-config.toml")
    if token is not None:
        environ["REWIND_TOKEN"] = token
    return subprocess.run(
        [REWIND, *args], capture_output=True, text=True, env=environ, timeout=timeout, check=False
    )


def started_json(env: Env, *flags: str) -> dict[str, Any]:
    done = rewind(env, "backup", "start", "--tenant", "t01", "--group", "t01-g01", "--json", *flags)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_start_watch_ends_with_the_outcome_and_exit_0(env: Env) -> None:
    done = rewind(
        env,
        "backup",
        "start",
        "--tenant",
        "t01",
        "--group",
        "t01-g02",
        "--download-files",
        "--watch",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert "SUCCESS" in last and "0 errors" in last
    backup_id = last.split()[1]
    _, view, _ = call("GET", f"{env.base}/api/v1/backups/{backup_id}", TOKEN)
    assert view["status"] == "SUCCESS"
    total = view["progress"]["total"]
    assert f"{total}/{total} entities" in last


def test_json_output_parses_on_every_read_command(env: Env) -> None:
    accepted = started_json(env, "--watch")
    assert accepted["status"] == "SUCCESS"
    backup_id = accepted["id"]
    shown = json.loads(rewind(env, "backup", "show", backup_id, "--json").stdout)
    assert shown["id"] == backup_id and shown["status"] == "SUCCESS"
    listed = json.loads(rewind(env, "backup", "list", "--json", "--group", "t01-g01").stdout)
    assert backup_id in [item["id"] for item in listed["items"]]
    report = json.loads(rewind(env, "backup", "report", backup_id, "--json").stdout)
    _, served, _ = call("GET", f"{env.base}/api/v1/backups/{backup_id}/report", TOKEN)
    assert report == served
    history = [
        json.loads(line) for line in rewind(env, "history", backup_id, "--json").stdout.splitlines()
    ]
    assert history[0]["type"] == "Backup.Requested" and history[-1]["type"] == "Job.Completed"
    second = started_json(env, "--watch")
    diff = json.loads(rewind(env, "backup", "diff", backup_id, second["id"], "--json").stdout)
    assert diff["a"] == backup_id and diff["diff"]["changed"] == []


def test_a_failed_job_gives_exit_1_with_its_reason(env: Env) -> None:
    done = rewind(
        env,
        "backup",
        "start",
        "--host",
        "broken",
        "--tenant",
        "t01",
        "--group",
        "t01-g01",
        "--watch",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout.strip().splitlines()[-1]


def test_refused_and_unreachable_requests_have_their_own_exit_codes(env: Env) -> None:
    unknown = rewind(env, "backup", "start", "--tenant", "t01", "--group", "t01-g99")
    assert unknown.returncode == 3
    assert "t01-g99" in unknown.stderr and "Traceback" not in unknown.stderr
    assert rewind(env, "backup", "list", token="wrong").returncode == 3
    assert rewind(env, "backup", "show", "no-such-backup").returncode == 3
    gone = rewind(env, "backup", "list", url="http://127.0.0.1:9")
    assert gone.returncode == 4 and "cannot reach" in gone.stderr
    assert TOKEN not in unknown.stderr + gone.stderr


def test_events_follow_prints_a_line_per_event_as_it_happens(env: Env) -> None:
    environ = {
        "REWIND_URL": env.base,
        "REWIND_TOKEN": TOKEN,
        "REWIND_CLIENT_CONFIG": str(env.tmp / "no-config.toml"),
    }
    follower: Running = start(["events", "--follow", "--type", "Job.Completed"], env=environ)
    try:
        accepted = started_json(env)
        wait_for(lambda: any(accepted["id"] in out for out in follower.lines), timeout=60)
        assert follower.proc.poll() is None  # still following
        completed = [out for out in follower.lines if accepted["id"] in out]
        assert "Job.Completed" in completed[0]
    finally:
        follower.stop()


def test_download_holds_every_entity_and_the_xml_report_parses(env: Env) -> None:
    accepted = started_json(env, "--watch", "--download-files")
    target = env.tmp / "backup.tar"
    done = rewind(env, "backup", "download", accepted["id"], "-o", str(target), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes"] == target.stat().st_size
    with tarfile.open(target) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        for key in list(manifest["entities"])[:5]:
            member = tar.extractfile(f"entities/{key}.json")
            assert member is not None and json.load(io.BytesIO(member.read())) is not None
    assert len(names) == 1 + len(manifest["entities"]) + len(manifest["files"])
    assert manifest["files"], "announcement files were asked for"
    xml = rewind(env, "backup", "report", accepted["id"], "--format", "xml")
    assert ET.fromstring(xml.stdout).tag == "report"


def test_config_file_supplies_url_and_token(env: Env) -> None:
    config = env.tmp / "client.toml"
    config.write_text(f'url = "{env.base}"\ntoken = "{TOKEN}"\n')
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REWIND_")}
    environ["REWIND_CLIENT_CONFIG"] = str(config)
    done = subprocess.run(
        [REWIND, "backup", "list", "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] >= 1


def test_restore_dry_run_and_watched_restore(env: Env) -> None:
    accepted = started_json(env, "--watch", "--download-files")
    dry = rewind(env, "restore", "start", accepted["id"], "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["backup_id"] == accepted["id"]
    done = rewind(env, "restore", "start", accepted["id"], "--watch", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "SUCCESS"
