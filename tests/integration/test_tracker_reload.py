"""A worker learns that another worker claimed a job even when the claim and the first
progress arrive in one read of the log; otherwise it could never resume that job should
its worker die (the scale-out e2e test found this: orphaned jobs stayed IN_PROGRESS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.worker.tracker import JobTracker
from domain.backup import BackupSpec
from domain.host import HostSettings
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
