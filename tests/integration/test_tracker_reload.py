"""A worker learns that another worker claimed a job even when the claim and the first
progress arrive in one read of the log; otherwise it could never resume that job should
its worker die (the scale-out e2e test found this: orphaned jobs stayed IN_PROGRESS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.event_log import read_log_heads
from adapters.worker.tracker import JobTracker
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.progress import ProgressRecord
from domain.scope import Scope
from tests.support.stores import StoreTarget


def test_claim_and_progress_in_one_read_leave_the_job_in_progress(store: StoreTarget) -> None:
    app = store.open()
    try:
        app.register_host("default", HostSettings(name="pbx", base_url="http://127.0.0.1:9"), "a")
        spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t01", group_id="t01-g01"))
        backup = app.request_backup(spec, "alice")
        tracker = JobTracker(app)
        tracker.poll()
        seen = tracker.get(backup.id)
        assert seen is not None and seen.status == "INITIALIZING"

        app.claim(backup.id, "w1", 1.0)
        app.resolve_scope(backup.id, "w1", 5)
        tracker.poll()  # reads Claimed and ScopeResolved together

        seen = tracker.get(backup.id)
        assert seen is not None
        assert (seen.status, seen.worker_id) == ("IN_PROGRESS", "w1")
        later = datetime.now(UTC) + timedelta(seconds=2)
        assert seen.lease_expired(later)  # so another worker will resume it once w1 is gone
    finally:
        app.close()


def test_log_heads_say_what_the_decoded_log_says(store: StoreTarget) -> None:
    """The tracker reads the log's heads (no events built): for every kind of entry, each
    says the same type, aggregate, version and time as the fully decoded log."""
    app = store.open()
    try:
        app.register_host("default", HostSettings(name="pbx", base_url="http://127.0.0.1:9"), "a")
        spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t01", group_id="t01-g01"))
        backup = app.request_backup(spec, "alice")
        app.claim(backup.id, "w1", 30.0)
        handle = app.hold(backup.id, "w1")
        handle.resolve_scope(3)
        handle.record_outcomes(
            [
                ProgressRecord(key="a", outcome="success", digest="0" * 64, successful_calls=1),
                ProgressRecord(key="b", outcome="error", message="boom", error_calls=1),
                ProgressRecord(key="c", outcome="ignored", message="absent"),
            ]
        )
        app.cancel(backup.id, "bob")
        full = app.read_log(0, 1000)
        heads = read_log_heads(app, 0, 1000)
        assert len(heads) == len(full) > 8
        for head, (position, entry) in zip(heads, full, strict=True):
            assert (head.position, head.type, str(head.aggregate_id), head.version, head.time) == (
                position,
                entry.type,
                entry.aggregate_id,
                entry.version,
                entry.time,
            )
        assert {"Job.EntitySucceeded", "Job.EntityFailed", "Host.Registered"} <= {
            h.type for h in heads
        }
        assert read_log_heads(app, heads[-2].position, 10) == heads[-1:]
    finally:
        app.close()
