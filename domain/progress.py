"""One entity's outcome as a worker hands it in, so several can be recorded in one save
(JobHandle.record_outcomes: group commit of a run's progress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.job import Job


@dataclass(frozen=True)
class ProgressRecord:
    """What ``Job.record_success`` / ``record_error`` / ``record_ignored`` take, as data."""

    key: str
    outcome: Literal["success", "error", "ignored"]
    digest: str | None = None
    message: str = ""
    """The error message, or why the entity was ignored."""
    successful_calls: int = 0
    error_calls: int = 0
    unchanged: bool = False
    """A success whose content equals the base backup's (incremental / differential)."""

    def apply(self, job: Job, worker_id: str, principal: str) -> None:
        """Record this outcome on ``job`` (the job's own checks apply)."""
        if self.outcome == "success":
            if self.digest is None:
                raise ValueError(f"a success needs a digest ({self.key})")
            job.record_success(
                worker_id,
                self.key,
                self.digest,
                self.successful_calls,
                self.error_calls,
                principal,
                unchanged=self.unchanged,
            )
        elif self.outcome == "error":
            job.record_error(
                worker_id,
                self.key,
                self.message,
                self.successful_calls,
                self.error_calls,
                principal,
            )
        else:
            job.record_ignored(worker_id, self.key, self.message, principal)
