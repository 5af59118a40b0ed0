"""Restores: a SUCCESS backup put back into a registered host, one at a time per host."""

from __future__ import annotations

from domain.application.base import ApplicationBase
from domain.restore import Restore, RestoreSpec, check_restorable


class RestoreCommands(ApplicationBase):
    """Check and request restores (their running is the jobs' command surface)."""

    def check_restore(self, spec: RestoreSpec) -> None:
        """Raise the error ``request_restore`` would (backup not restorable, 2010; whole-scope
        restore of an incomplete backup without ``allow_partial``, 2011; unknown host),
        recording nothing: callers check before they request a safety backup."""
        check_restorable(self.get_backup(spec.backup_id), spec)
        self.get_host(spec.target.host_id)

    def request_restore(self, spec: RestoreSpec, principal: str) -> Restore:
        """Admit a restore of a SUCCESS backup into a registered host; refused (1016) while
        another restore runs on that host."""

        def command() -> Restore:
            self.check_restore(spec)
            activity = self._activity(spec.target.host_id)
            activity.check_restore_allowed()
            restore = Restore(spec=spec, principal=principal)
            activity.admit_restore(restore_id=restore.id)
            self.save(restore, activity)
            return restore

        return self._retrying(command)
