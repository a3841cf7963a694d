"""The import runner's figures for ``/metrics``, read from the running runner at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ecomops.imports import jobs
from ecomops.imports.runner import SERVICE, ImportRunner
from ecomops.platform.web.state import AppState


def collect(state: AppState) -> Iterator[Metric]:
    runner = state.services.get(SERVICE)
    if not isinstance(runner, ImportRunner):
        return
    figures = runner.figures()
    yield GaugeMetricFamily(
        "ecomops_import_jobs_queued",
        "Uploaded imports waiting for the server's runner.",
        value=figures.queued,
    )
    yield GaugeMetricFamily(
        "ecomops_import_jobs_running",
        "Imports the server's runner is running now (0 or 1: it runs one at a time).",
        value=0 if figures.running is None else 1,
    )
    finished = CounterMetricFamily(
        "ecomops_import_jobs_finished",
        "Imports the server's runner finished since it started, by final status.",
        labels=("status",),
    )
    for status in jobs.FINISHED:
        finished.add_metric([status], figures.finished.get(status, 0))
    yield finished
