"""Following an SQLite event store as it grows (the library's SQLite recorder cannot).

``NotifyingSQLiteApplicationRecorder`` is chosen through ``APPLICATION_RECORDER_TOPIC``. Its
``subscribe()`` returns a subscription that pulls new notifications when woken: at once after
a commit by any recorder on the same file in this process (a process-wide registry keyed by
the file), and every ``POLL_SECONDS`` for commits by other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ListenNotifySubscription, StoredEvent, Subscription
from eventsourcing.sqlite import SQLiteApplicationRecorder

POLL_SECONDS = 0.05

_listeners: dict[str, set[threading.Event]] = {}
_listeners_lock = threading.Lock()


def _wake(db_name: str) -> None:
    with _listeners_lock:
        listeners = list(_listeners.get(db_name, ()))
    for listener in listeners:
        listener.set()


class NotifyingSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """Wakes this process's subscriptions to the same file after each commit."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        result = super().insert_events(stored_events, **kwargs)
        _wake(self.datastore.pool.db_name)
        return result

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[SQLiteApplicationRecorder]:
        return SQLiteSubscription(recorder=self, gt=gt, topics=topics)


class SQLiteSubscription(ListenNotifySubscription[SQLiteApplicationRecorder]):
    def __init__(
        self,
        recorder: SQLiteApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        self._db_name = recorder.datastore.pool.db_name
        self._local_commit = threading.Event()
        with _listeners_lock:
            _listeners.setdefault(self._db_name, set()).add(self._local_commit)
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._waker = threading.Thread(target=self._wake_loop, daemon=True)
        self._waker.start()

    def _wake_loop(self) -> None:
        while not self._has_been_stopped:
            self._local_commit.wait(timeout=POLL_SECONDS)
            self._local_commit.clear()
            self._has_been_notified.set()

    def stop(self) -> None:
        with _listeners_lock:
            _listeners.get(self._db_name, set()).discard(self._local_commit)
        super().stop()
        self._local_commit.set()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._waker.join(timeout=2)
