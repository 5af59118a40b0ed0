"""``GET /metrics`` in Prometheus' text format.

Two sources:

- the process's own counters (adapters.process_metrics, prometheus-client's default
  registry): PBX calls by outcome and retries, artifact bytes stored and deduplicated by the
  workers running here, the read-your-writes wait of API commands, and the library's
  process metrics;
- the service-wide state, read from the views at scrape time, so every API process of a
  scaled-out deployment reports the same figures: jobs by kind and status, how long finished
  jobs took, the event log's head and how far this process's projection lags behind it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from api.core.services import SERVICES, Services

DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
metrics_routes = web.RouteTableDef()


@dataclass
class ServiceFigures:
    """What the views and the event store say, gathered off the event loop."""

    jobs: Counter[tuple[str, str]] = field(default_factory=Counter)
    durations: dict[str, list[float]] = field(default_factory=dict)
    head: int = 0
    applied: int = 0
    view_restarts: int = 0


def gather(services: Services) -> ServiceFigures:
    figures = ServiceFigures(
        head=services.app.current_position(),
        applied=services.views.waiter.position,
        view_restarts=services.views.restarts,
    )
    figures.durations = {"backup": [], "restore": []}
    for kind, status, created, ended in services.views.view.job_timings():
        figures.jobs[(kind, status)] += 1
        if ended is not None:
            start, end = datetime.fromisoformat(created), datetime.fromisoformat(str(ended))
            figures.durations[kind].append(max(0.0, (end - start).total_seconds()))
    return figures


def histogram(name: str, doc: str, samples: dict[str, list[float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["kind"])
    for kind, values in samples.items():
        buckets = [(str(b), float(sum(1 for v in values if v <= b))) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric([kind], buckets, sum_value=sum(values))
    return family


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def service_families(figures: ServiceFigures) -> list[Metric]:
    jobs = GaugeMetricFamily(
        "rewind_jobs", "Backups and restores by status (from the views)", labels=["kind", "status"]
    )
    for (kind, status), count in sorted(figures.jobs.items()):
        jobs.add_metric([kind, status], count)
    lag = GaugeMetricFamily(
        "rewind_projection_lag_events", "Events in the log this process's views have not applied"
    )
    lag.add_metric([], max(0, figures.head - figures.applied))
    head = GaugeMetricFamily("rewind_event_log_position", "Position of the newest event in the log")
    head.add_metric([], figures.head)
    restarts = CounterMetricFamily(
        "rewind_projection_restarts", "Times this process restarted a failed projection"
    )
    restarts.add_metric([], figures.view_restarts)
    durations = histogram(
        "rewind_job_duration_seconds",
        "From request to end, for finished backups and restores (from the views)",
        figures.durations,
    )
    return [jobs, durations, lag, head, restarts]


@metrics_routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    figures = await services.query(gather, services)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(service_families(figures)))
    body = generate_latest(REGISTRY) + generate_latest(registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
