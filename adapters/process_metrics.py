"""Prometheus metrics of what this process does itself: PBX calls and retries made by its
workers, artifact bytes they stored or deduplicated, and how long API commands waited for
read-your-writes.

The PBX client and the blob store already keep exact totals (``PbxClient.stats``,
``BlobStore.stats``); rather than a second set of counters updated at every call site, a
collector sums those totals over the workers alive in this process when Prometheus scrapes.
A worker keeps its PBX clients and its artifact store for its whole life, so the sums only
grow (counters, as Prometheus expects) until the process restarts.

Everything here lives in prometheus-client's default registry, so ``rewind serve``'s
``/metrics`` and ``rewind worker --metrics-port`` expose the same names.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.artifacts.blobs import StoreStats
from adapters.pbx.client import PbxCallStats

# No *_created series: they would double the output for nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]

READ_YOUR_WRITES_WAIT = Histogram(
    "rewind_read_your_writes_wait_seconds",
    "How long an API command waited for the views to show its own events",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class MeteredWorker(Protocol):
    """What the collector reads from a worker (adapters.worker.Worker)."""

    def pbx_stats(self) -> PbxCallStats: ...

    def artifact_stats(self) -> StoreStats: ...


_workers: weakref.WeakSet[MeteredWorker] = weakref.WeakSet()
_lock = threading.Lock()


def register_worker(worker: MeteredWorker) -> None:
    """Count this worker's PBX calls and stored bytes in this process's metrics."""
    with _lock:
        _workers.add(worker)


class WorkerCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        with _lock:
            workers = list(_workers)
        calls = CounterMetricFamily(
            "rewind_pbx_calls", "Logical PBX calls by outcome", labels=["outcome"]
        )
        retries = CounterMetricFamily("rewind_pbx_retries", "Extra PBX attempts after a failure")
        stored = CounterMetricFamily(
            "rewind_artifact_bytes_stored", "Compressed bytes newly written to the artifact store"
        )
        dedup = CounterMetricFamily(
            "rewind_artifact_bytes_deduplicated",
            "Uncompressed bytes not written because identical content was already stored",
        )
        ok = error = not_found = retried = written = saved = 0
        for worker in workers:
            pbx, blobs = worker.pbx_stats(), worker.artifact_stats()
            ok, error = ok + pbx.successful_calls, error + pbx.error_calls
            not_found, retried = not_found + pbx.not_found, retried + pbx.retries
            written, saved = written + blobs.bytes_written, saved + blobs.bytes_deduplicated
        calls.add_metric(["ok"], ok)
        calls.add_metric(["error"], error)
        calls.add_metric(["not_found"], not_found)
        retries.add_metric([], retried)
        stored.add_metric([], written)
        dedup.add_metric([], saved)
        yield from (calls, retries, stored, dedup)


REGISTRY.register(WorkerCollector())
