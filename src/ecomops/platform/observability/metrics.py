"""Prometheus metrics of one app: request latency and rollup refresh histograms, and the live figures
of the scheduler and of every module that declares ``Module.metrics``.

One ``CollectorRegistry`` per app (``Metrics``, kept in ``state.services``), never the process-wide
default, so tests and tools can build several apps in one process. Where the state is already kept
(the scheduler's ``JobStats``, the ingest pipeline's queue and WAL, the import runner) the figures are
read from it at scrape time by a collector instead of being counted twice; only what nothing keeps
(latencies) is observed into histograms as it happens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ecomops import __version__
from ecomops.platform.jobs import SERVICE as SCHEDULER
from ecomops.platform.jobs import Scheduler
from ecomops.platform.registry import Registry
from ecomops.platform.web.state import AppState

log = logging.getLogger(__name__)
SERVICE = "metrics"

#: Ingest answers in about a millisecond, exports and imports in seconds, SSE streams last minutes.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REFRESH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Any other method a client makes up is counted as "other": one label value per method sent would
#: let a client grow the registry without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Histogram(
            "ecomops_http_request_duration_seconds",
            "Time from receiving a request to the end of its answer, by method, route template and "
            "status class.",
            ("method", "route", "status"),
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._refresh = Histogram(
            "ecomops_rollup_refresh_duration_seconds",
            "Time the modules' facts listeners (the analytics rollups) took inside a warehouse write, "
            "by kind of change (loaded, rebuilt, erased, events_before).",
            ("kind",),
            buckets=REFRESH_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def watch(self, state: AppState, modules: Registry) -> None:
        """Read the scheduler's and the modules' live figures of ``state`` on every scrape."""
        self.registry.register(_LiveFigures(state, modules))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else "other", route, status // 100)
        child = self._request_children.get(key)
        if child is None:  # labels() per request costs a lock and a tuple; keep each child once
            child = self._request_children[key] = self._requests.labels(key[0], route, f"{key[2]}xx")
        child.observe(seconds)

    def observe_facts(self, kind: str, seconds: float) -> None:
        self._refresh.labels(kind).observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text format (version 0.0.4) of every metric."""
        return generate_latest(self.registry)


class _LiveFigures(Collector):
    def __init__(self, state: AppState, modules: Registry) -> None:
        self.state = state
        self.modules = modules

    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily(
            "ecomops_build", "The running ecomops version.", value={"version": __version__}
        )
        scheduler = self.state.services.get(SCHEDULER)
        if isinstance(scheduler, Scheduler):
            yield from scheduler_figures(scheduler)
        for module in self.modules.modules:
            for source in module.metrics:
                try:
                    yield from source(self.state)
                except Exception:  # one module's broken figures must not cost the others'
                    log.exception("metrics of module %s failed", module.name, extra={"module": module.name})


def scheduler_figures(scheduler: Scheduler) -> Iterator[Metric]:
    """Every module job's ``JobStats``, by job and module."""
    labels = ("job", "module")
    passes = CounterMetricFamily("ecomops_job_passes", "Passes of the job over its tenants.", labels=labels)
    runs = CounterMetricFamily("ecomops_job_runs", "Tenant runs of the job that succeeded.", labels=labels)
    failures = CounterMetricFamily(
        "ecomops_job_failures", "Tenant runs of the job that raised (logged with the tenant).", labels=labels
    )
    skips = CounterMetricFamily(
        "ecomops_job_skips", "Tenants skipped because they switched the job's module off.", labels=labels
    )
    duration = GaugeMetricFamily(
        "ecomops_job_last_pass_duration_seconds", "How long the job's last pass took.", labels=labels
    )
    finished = GaugeMetricFamily(
        "ecomops_job_last_pass_timestamp_seconds",
        "Unix time the job's last pass ended (absent before the first).",
        labels=labels,
    )
    for name, stats in sorted(scheduler.stats.items()):
        key = [name, stats.module]
        passes.add_metric(key, stats.passes)
        runs.add_metric(key, stats.tenant_runs)
        failures.add_metric(key, stats.tenant_failures)
        skips.add_metric(key, stats.skipped_disabled)
        duration.add_metric(key, stats.last_pass_seconds)
        if stats.last_pass_at is not None:
            finished.add_metric(key, stats.last_pass_at)
    yield from (passes, runs, failures, skips, duration, finished)


def metrics_of(state: AppState) -> Metrics:
    metrics = state.services.get(SERVICE)
    if not isinstance(metrics, Metrics):
        raise RuntimeError("this app was built without metrics (create_app makes them)")
    return metrics
