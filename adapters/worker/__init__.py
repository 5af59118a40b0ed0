"""The worker that executes backups: finds them in the event log, claims them (the event
store settles races between workers), runs them against the PBX with bounded concurrency,
records one outcome per entity, honours cancels, resumes jobs whose lease expired and purges
deleted backups.

``runner`` holds the loop (:class:`Worker`), ``tracker`` follows the log, ``backup_run`` runs
one backup, ``scope_listing`` and ``entities`` talk to the PBX, ``manifest_builder`` derives a
finished backup's manifest from its events and blobs.
"""

from adapters.worker.runner import Worker
from adapters.worker.tracker import JobTracker, TrackedJob

__all__ = ["JobTracker", "TrackedJob", "Worker"]
