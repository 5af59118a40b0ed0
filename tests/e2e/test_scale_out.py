"""Scale-out on PostgreSQL, end to end: two ``rewind serve --no-worker`` API processes and two
``rewind worker`` processes share one database schema and one artifact directory, with a
sandbox PBX. 200 backup requests over 20 groups go through both API processes (forced ones
and cancels among them) while one worker is SIGKILLed mid-run. Then:

- every backup ends in a terminal state;
- the event log never shows two backups of one group admitted-and-not-cancelled at once, nor
  two running (claimed and not ended) at once;
- every successful backup's report matches the sandbox's content, digest by digest;
- both API processes' views agree;
- the jobs the killed worker held were taken over by the other worker once their lease
  expired (a short lease here), and finished.

When to kill is decided from the event store itself, not from an API process's views (they
lag behind the log under load): the test follows the log, and once w1 holds a last-round job
with most of its work ahead it stops w1 (SIGSTOP: w1 writes nothing more), reads the log
again, and SIGKILLs w1 only if it still holds an unfinished last-round job; otherwise it
lets w1 go on (SIGCONT) and chooses again. The sandbox's latency makes each last-round
backup run for seconds, so the first choice almost always holds.

PostgreSQL is mandatory under CI=true; elsewhere the test is skipped when it is unreachable
(see tests/conftest.py: start it, or set REWIND_TEST_DATABASE_URL).
"""

from __future__ import annotations

import hashlib
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.event_store import open_application
from adapters.renderers import render_json
from adapters.settings import Settings
from domain.application import RewindApplication
from tests.conftest import require_postgres
from tests.support.http import call, wait_for
from tests.support.processes import Running, free_port, start, start_sandbox
from tests.support.stores import PG_URL, drop_pg_schema, make_pg_schema

TOKEN = "scale-out-token"
GROUPS = [(f"t0{t}", f"t0{t}-g{g:02d}") for t in (1, 2) for g in range(1, 11)]
GROUP_ENTITIES = ["profile", "ivr", "announcements"]
USER_ENTITIES = ["profile", "voice_mail"]
REQUESTS = 200
LEASE_SECONDS = "3"
PBX_LATENCY_MS = "300"
"""Every sandbox call takes this long: a last-round backup (23 entities, sharing its worker's
16 PBX connections with up to 3 other jobs) then runs for seconds, long enough that the job
w1 is caught running is still running when the kill lands."""
ENDING = {"Job.Completed", "Job.Failed", "Job.CancelAcknowledged", "Backup.DeleteAcknowledged"}
PROGRESS = {"Job.EntitySucceeded", "Job.EntityFailed", "Job.EntityIgnored"}
SETTLE_SECONDS = 0.3
"""After SIGSTOP, time for a commit w1 had already sent to land before the log is read."""
TERMINAL = {"SUCCESS", "FAILED"}


@dataclass
class Cluster:
    apis: list[str]
    workers: dict[str, Running]
    pbx: str
    store: RewindApplication
    """The shared event store, opened by the test itself (to read the log without a view)."""
    processes: list[Running] = field(default_factory=list)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    require_postgres()
    schema = f"scale_{uuid.uuid4().hex[:12]}"
    make_pg_schema(schema)
    sep = "&" if "?" in PG_URL else "?"
    env = {
        "REWIND_DATABASE_URL": f"{PG_URL}{sep}schema={schema}",
        "REWIND_ADMIN_TOKEN": TOKEN,
        "REWIND_LEASE_SECONDS": LEASE_SECONDS,
        "REWIND_LOG_FORMAT": "json",
        "REWIND_VERIFY_SAMPLE_SHARE": "0",
        # PostgreSQL's max_connections is shared with every other test run on the machine.
        "REWIND_DATABASE_POOL_SIZE": "2",
        "REWIND_DATABASE_MAX_OVERFLOW": "4",
    }
    data = str(tmp_path / "shared")
    processes: list[Running] = []
    store: RewindApplication | None = None
    try:
        sandbox, pbx = start_sandbox(
            "--tenants", "2", "--groups", "10", "--users", "2", "--media-kb", "1",
            "--latency-ms", PBX_LATENCY_MS,
        )  # fmt: skip
        processes.append(sandbox)
        apis = []
        for _ in range(2):  # one after the other: the first creates the schema and keys
            port = free_port()
            api = start(
                ["serve", "--no-worker", "--port", str(port), "--data-dir", data, "--pbx", pbx],
                env=env,
            )
            processes.append(api)
            api.wait_for_line("listening on", timeout=60)
            apis.append(f"http://127.0.0.1:{port}")
        workers = {}
        for name in ("w1", "w2"):
            worker = start(["worker", "--data-dir", data, "--worker-id", name], env=env)
            processes.append(worker)
            worker.wait_for_line(f"worker {name} running", timeout=60)
            workers[name] = worker
        store = open_application(
            Settings(
                data_dir=Path(data),
                database_url=env["REWIND_DATABASE_URL"],
                database_pool_size=1,
                database_max_overflow=1,
            )
        )
        yield Cluster(apis, workers, pbx, store, processes)
    finally:
        for process in reversed(processes):
            process.stop()
        if store is not None:
            store.close()
        drop_pg_schema(schema)


# ------------------------------------------------------------------------------ driving
def _request(cluster: Cluster, i: int) -> str | None:
    """Request number ``i``: alternate API processes; mostly forced; every 10th cancelled
    through the other API process. The id when admitted (409 when the group is busy)."""
    api = cluster.apis[i % 2]
    tenant, group = GROUPS[i % len(GROUPS)]
    last_round = i >= REQUESTS - len(GROUPS)
    entities = {} if last_round else {"group": GROUP_ENTITIES, "user": USER_ENTITIES}
    body = {
        "tenant_id": tenant,
        "group_id": group,
        **entities,
        "download_announcement_files": i % 3 == 0,
        "force_backup": i % 5 != 1 or last_round,
    }
    status, answer, _ = call("POST", f"{api}/api/v1/backups", TOKEN, body)
    if status == 409:
        return None
    assert status == 202, answer
    if i % 10 == 3 and not last_round:
        other = cluster.apis[(i + 1) % 2]
        cancel, refused, _ = call("POST", f"{other}/api/v1/backups/{answer['id']}/cancel", TOKEN)
        assert cancel in (202, 409), refused  # 409: it had already finished
    backup_id: str = answer["id"]
    return backup_id


def _events(api: str, after: int = 0, **query: str) -> tuple[list[dict[str, Any]], int]:
    params = "&".join(f"{k}={v}" for k, v in {"after": str(after), **query}.items())
    status, page, _ = call("GET", f"{api}/api/v1/events?{params}", TOKEN)
    assert status == 200, page
    return page["items"], page["next_after"]


def _whole_log(api: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        items, after = _events(api, after)
        if not items:
            return events
        events.extend(items)


@dataclass
class _Job:
    """What the event store says of one aggregate so far."""

    worker: str | None = None
    """The worker that claimed or last resumed it."""
    ended: bool = False
    total: int | None = None
    done: int = 0
    last_event: float = 0.0
    """When its newest event was written (seconds since the epoch)."""


class _StoreLog:
    """The event store's log, followed directly: the position read to, and the jobs seen."""

    def __init__(self, store: RewindApplication, after: int) -> None:
        self.store = store
        self.position = after
        self.jobs: dict[str, _Job] = defaultdict(_Job)

    def read(self) -> None:
        """Read on to the log's end."""
        while batch := self.store.read_log(self.position, 500):
            for position, entry in batch:
                self.position = position
                job = self.jobs[entry.aggregate_id]
                job.last_event = entry.time.timestamp()
                if entry.type in ("Job.Claimed", "Job.Resumed"):
                    job.worker = entry.payload["worker_id"]
                elif entry.type == "Job.ScopeResolved":
                    job.total = entry.payload["total"]
                elif entry.type in PROGRESS:
                    job.done += 1
                elif entry.type in ENDING:
                    job.ended = True

    def held(self, worker: str, among: set[str]) -> dict[str, _Job]:
        """The jobs of ``among`` that ``worker`` holds and that have not ended."""
        return {
            job_id: job
            for job_id in among
            if (job := self.jobs.get(job_id)) is not None and job.worker == worker and not job.ended
        }


def _early(job: _Job) -> bool:
    """Most of its work ahead (its scope not even listed yet, or under half recorded)."""
    return job.total is None or job.done < job.total // 2


def _kill_w1_while_it_runs_a_job(
    cluster: Cluster, after: int, among: set[str]
) -> tuple[int, set[str]]:
    """SIGKILL worker w1 while the event store shows it running one of the backups
    ``among`` (the last round, which nothing supersedes: an earlier one w1 held could be
    cancelled by a forced request and never need resuming). Returns the event store's
    position at the kill (w1 writes nothing after it) and the jobs of ``among`` w1 held.

    Once the log after ``after`` shows w1 holding such a job with most of its work ahead,
    w1 is stopped (SIGSTOP) and the log read again: w1 is killed only if it still holds an
    unfinished one. Either way only jobs with a recent last event count, so that no lease
    can expire (and w2 take the job over) before the kill position is read. When the job
    ended in between, w1 goes on (SIGCONT) and the choice is made again."""
    w1 = cluster.workers["w1"]
    log = _StoreLog(cluster.store, after)

    def running() -> dict[str, _Job]:
        fresh = time.time() - float(LEASE_SECONDS) / 2
        return {j: job for j, job in log.held("w1", among).items() if job.last_event > fresh}

    deadline = time.monotonic() + 60
    retries = 0
    while time.monotonic() < deadline:
        log.read()
        if any(_early(job) for job in running().values()):
            w1.proc.send_signal(signal.SIGSTOP)
            try:
                time.sleep(SETTLE_SECONDS)
                log.read()
                held = set(running())
                if held:
                    w1.kill()
                    print(f"w1 killed holding {sorted(held)} after {retries} retries")
                    return cluster.store.current_position(), held
            finally:
                if w1.proc.poll() is None:
                    w1.proc.send_signal(signal.SIGCONT)
            retries += 1
        time.sleep(0.02)
    raise AssertionError(f"worker w1 never held a running backup ({retries} retries)")


# ------------------------------------------------------------------------------ checks
def _check_one_per_group(log: list[dict[str, Any]]) -> None:
    """At no log position two backups of one group admitted-and-not-cancelled, nor two
    running (claimed or resumed, and not ended). Every group's backups are checked."""
    group_of: dict[str, str] = {}
    admitted: dict[str, set[str]] = defaultdict(set)
    running: dict[str, set[str]] = defaultdict(set)
    for e in log:
        job = e["aggregate_id"]
        if e["type"] == "Backup.Requested":
            group_of[job] = e["payload"]["spec"]["scope"]["group_id"]
            # A forced backup cancels the ones it supersedes in the same write (their
            # CancelRequested events follow its Requested within that one transaction).
            admitted[group_of[job]] -= set(e["payload"]["supersedes"])
            admitted[group_of[job]].add(job)
        group = group_of.get(job)
        if group is None:
            continue
        if e["type"] in ("Job.Claimed", "Job.Resumed"):
            running[group].add(job)
        elif e["type"] in ("Job.CancelRequested", "Backup.DeleteRequested"):
            admitted[group].discard(job)
        if e["type"] in ENDING:
            admitted[group].discard(job)
            running[group].discard(job)
        assert len(admitted[group]) <= 1, (e["position"], group, admitted[group])
        assert len(running[group]) <= 1, (e["position"], group, running[group])


def _exported(pbx: str, tenant: str, group: str) -> dict[str, Any]:
    status, export, _ = call("GET", f"{pbx}/1.0/tenants/{tenant}/groups/{group}/_export")
    assert status == 200
    result: dict[str, Any] = export
    return result


def _digest(document: Any) -> str:
    return hashlib.sha256(render_json(document)).hexdigest()


def _check_report(api: str, backup: dict[str, Any], export: dict[str, Any]) -> None:
    status, report, _ = call("GET", f"{api}/api/v1/backups/{backup['id']}/report", TOKEN)
    assert status == 200, report
    assert report["main"]["error_calls"] == 0
    assert set(GROUP_ENTITIES) <= set(report["group"]) and set(USER_ENTITIES) <= set(report["user"])
    for entity, outcome in report["group"].items():
        assert not outcome["errors"] and len(outcome["success"]) == 1
        assert outcome["success"][0]["digest"] == _digest(export["group"][entity]), entity
    for entity, outcome in report["user"].items():
        assert not outcome["errors"]
        items = outcome["success"]
        assert {i["user_id"] for i in items} == set(export["users"]), entity
        for item in items:
            assert item["digest"] == _digest(export["users"][item["user_id"]][entity])


def _stuck(cluster: Cluster, ids: set[str]) -> str:
    """For a failure message: the last events of unfinished backups, and w2's lines on them."""
    stuck = [b["id"] for b in _all_backups(cluster.apis[0]) if b["id"] in ids]
    stuck = [
        s
        for s in stuck
        if s not in {b["id"] for b in _all_backups(cluster.apis[0]) if b["status"] in TERMINAL}
    ]
    report = []
    for job in stuck:
        items, _ = _events(cluster.apis[0], 0, job_id=job)
        report.append(
            f"{job}: " + ", ".join(f"{e['type']} by {e['principal']}" for e in items[-4:])
        )
        report.extend(line for line in cluster.workers["w2"].lines if job in line)
    return "\n".join(report)


def _all_backups(api: str) -> list[dict[str, Any]]:
    status, page, _ = call("GET", f"{api}/api/v1/backups?_pagesize=1000", TOKEN)
    assert status == 200, page
    items: list[dict[str, Any]] = page["items"]
    return items


# ------------------------------------------------------------------------------ the test
@pytest.mark.postgres
def test_two_apis_two_workers_one_killed(cluster: Cluster) -> None:
    # All but the last round of requests, then the last round (one forced backup per group,
    # never cancelled): w1 is killed while it runs one of those, so nothing supersedes the
    # job it leaves behind and the other worker must resume it once the lease has expired.
    last_round = range(REQUESTS - len(GROUPS), REQUESTS)
    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(lambda i: _request(cluster, i), range(last_round.start)))
        head = cluster.store.current_position()
        futures = [pool.submit(_request, cluster, i) for i in last_round]
        final = {backup_id for f in futures if (backup_id := f.result()) is not None}
        kill_position, held_at_kill = _kill_w1_while_it_runs_a_job(cluster, head, final)
    ids = {backup_id for backup_id in created if backup_id is not None} | final
    assert len(ids) >= REQUESTS // 2, f"only {len(ids)} of {REQUESTS} admitted"

    print(f"{len(ids)} admitted, w1 killed at position {kill_position}", time.monotonic())
    statuses: Counter[str] = Counter()

    def all_ended() -> list[dict[str, Any]] | None:
        mine = [b for b in _all_backups(cluster.apis[1]) if b["id"] in ids]
        statuses.clear()
        statuses.update(b["status"] for b in mine)
        return mine if all(b["status"] in TERMINAL for b in mine) else None

    try:
        backups = wait_for(all_ended, timeout=120, interval=0.5)
    except AssertionError:
        raise AssertionError(f"not all ended: {dict(statuses)}\n{_stuck(cluster, ids)}") from None
    print("all ended", time.monotonic())
    assert {b["id"] for b in backups} == ids

    # Both API processes' views agree (each runs its own projection into shared tables).
    wait_for(lambda: _all_backups(cluster.apis[0]) == _all_backups(cluster.apis[1]), timeout=20)

    log = _whole_log(cluster.apis[0])
    assert [e["position"] for e in log] == sorted({e["position"] for e in log})
    _check_one_per_group(log)

    succeeded = [b for b in backups if b["status"] == "SUCCESS"]
    assert succeeded and any(b["failure_reason"] == "cancelled" for b in backups)
    exports = {g: _exported(cluster.pbx, t, g) for t, g in GROUPS}
    for n, backup in enumerate(succeeded):
        _check_report(cluster.apis[n % 2], backup, exports[backup["group_id"]])

    # The killed worker's jobs: every one it held at the kill was finished by w2.
    holder: dict[str, str] = {}
    for e in log:
        if e["position"] > kill_position:
            break
        if e["type"] in ("Job.Claimed", "Job.Resumed"):
            holder[e["aggregate_id"]] = e["payload"]["worker_id"]
        elif e["type"] in ENDING:
            holder.pop(e["aggregate_id"], None)
    orphans = {job for job, worker in holder.items() if worker == "w1"}
    assert orphans, "w1 held no running job when it was killed"
    assert held_at_kill <= orphans, (held_at_kill, orphans)
    later = [e for e in log if e["position"] > kill_position and e["aggregate_id"] in orphans]
    assert not [e for e in later if e["principal"] == "worker:w1"]
    resumed = {e["aggregate_id"] for e in later if e["type"] == "Job.Resumed"}
    ended_by_w2 = {
        e["aggregate_id"] for e in later if e["type"] in ENDING and e["principal"] == "worker:w2"
    }
    assert orphans <= ended_by_w2  # finished, or its cancel acknowledged, by w2
    assert orphans & final & resumed, "the killed worker's job was not resumed by the other"
    assert all(e["payload"]["worker_id"] == "w2" for e in later if e["type"] == "Job.Resumed")
