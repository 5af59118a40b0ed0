"""What ``/readyz`` checks (``/healthz`` only says the process lives).

Ready means this process can take a command and answer it correctly:

- the event store answers (its head position is read), and SQLite's check of it at start
  (api.core.startup_checks) is done and found nothing;
- the views store's check at start is done (a damaged one is rebuilt: the lag shows it);
- the projection runs, has not failed since its last restart, and lags the log by at most
  ``REWIND_READY_MAX_LAG`` events (beyond that, read-your-writes would time out);
- the artifact store is writable (a temporary file is written, synced and removed, where
  the store writes its own temporary files, so a crash leaves nothing the store keeps);
- the worker of this process has started (``ok`` under ``--no-worker`` once started).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.event_store import EVENTS_FILE
from api.core.services import Services


@dataclass
class ReadinessReport:
    checks: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())

    def body(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": self.checks,
            **self.details,
        }


def _artifacts_writable(services: Services) -> None:
    services.artifacts.check_writable()


def _problem(error: Exception) -> str:
    return f"failing: {type(error).__name__}: {str(error)[:200]}"


def check_readiness(services: Services) -> ReadinessReport:
    """Run every check (blocking I/O: call it off the event loop)."""
    result = ReadinessReport()
    views = services.views
    head = None
    try:
        head = services.app.current_position()
        result.checks["event_store"] = "ok"
    except Exception as error:
        result.checks["event_store"] = _problem(error)
    checking = services.store_checking
    if services.store_damage is not None:
        result.checks["event_store"] = f"damaged: {services.store_damage}"
    elif checking == EVENTS_FILE:
        result.checks["event_store"] = f"checking: SQLite quick_check of {checking} under way"
    lag = None if head is None else views.lag(head)
    max_lag = services.settings.ready_max_lag
    if checking is not None and checking != EVENTS_FILE:
        result.checks["projection"] = f"checking: SQLite quick_check of {checking} under way"
    elif not views.running:
        result.checks["projection"] = "not running"
    elif views.last_error is not None:
        result.checks["projection"] = f"failing: {views.last_error}"
    elif lag is not None and lag > max_lag:
        result.checks["projection"] = f"lagging: {lag} events behind (max {max_lag})"
    else:
        result.checks["projection"] = "ok"
    try:
        _artifacts_writable(services)
        result.checks["artifacts"] = "ok"
    except Exception as error:
        result.checks["artifacts"] = _problem(error)
    result.checks["worker"] = "ok" if services.ready else "starting"
    result.details = {"projection_lag": lag, "view_restarts": views.restarts}
    return result
