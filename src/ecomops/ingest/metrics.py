"""The ingest pipeline's figures for ``/metrics``, read from the running pipeline at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ecomops.ingest.cluster import ClusterIngest
from ecomops.ingest.pipeline import IngestFigures
from ecomops.ingest.shedding import LoadShedder
from ecomops.ingest.writer import IngestWriter
from ecomops.platform.web.state import AppState


def collect(state: AppState) -> Iterator[Metric]:
    yield from _shedding(state)
    pipeline = state.services.get("ingest")
    if not isinstance(pipeline, IngestWriter):
        return
    if isinstance(pipeline, ClusterIngest):
        yield from _log_backlog(pipeline)
    figures = pipeline.figures()
    yield GaugeMetricFamily(
        "ecomops_ingest_queue_events",
        "Events of requests waiting for their group commit to the WAL.",
        value=figures.queued_events,
    )
    yield GaugeMetricFamily(
        "ecomops_ingest_queue_capacity_events",
        "Queued events beyond which ingest answers 429 (ECOMOPS_INGEST_QUEUE_MAX_EVENTS).",
        value=figures.queue_capacity,
    )
    if figures.backlog_max_bytes:
        yield from _wal_budget(figures)
    events = CounterMetricFamily(
        "ecomops_ingest_events",
        "Events received since the server started, by tenant and outcome: accepted (durable), "
        "deduplicated (messageId seen in the dedupe window) or rejected (invalid).",
        labels=("tenant", "outcome"),
    )
    dropped = CounterMetricFamily(
        "ecomops_ingest_dead_letters_dropped",
        "Dead letters dropped since the server started because the tenant reached its dead-letter quota "
        "(ECOMOPS_INGEST_DEAD_LETTER_QUOTA); alert on any increase.",
        labels=("tenant",),
    )
    backlog = GaugeMetricFamily(
        "ecomops_ingest_wal_backlog_bytes",
        "Acknowledged WAL bytes (events and dead letters) not loaded into the warehouse yet.",
        labels=("tenant",),
    )
    lag = GaugeMetricFamily(
        "ecomops_ingest_loader_lag_seconds",
        "Age of the oldest acknowledged group commit the warehouse does not hold yet; 0 when caught up.",
        labels=("tenant",),
    )
    for tenant in sorted(figures.tenants, key=lambda t: t.tenant):
        events.add_metric([tenant.tenant, "accepted"], tenant.accepted)
        events.add_metric([tenant.tenant, "deduplicated"], tenant.deduplicated)
        events.add_metric([tenant.tenant, "rejected"], tenant.rejected)
        dropped.add_metric([tenant.tenant], tenant.dead_letters_dropped)
        backlog.add_metric([tenant.tenant], tenant.backlog_bytes)
        lag.add_metric([tenant.tenant], tenant.lag_seconds)
    yield from (events, dropped, backlog, lag)


def _shedding(state: AppState) -> Iterator[Metric]:
    shedder = state.services.get("ingest_shedding")
    if not isinstance(shedder, LoadShedder):
        return
    figures = shedder.figures()
    yield GaugeMetricFamily(
        "ecomops_ingest_requests_in_flight",
        "Ingest request bodies being read or validated now (429 beyond ECOMOPS_INGEST_MAX_IN_FLIGHT).",
        value=figures.in_flight,
    )
    yield GaugeMetricFamily(
        "ecomops_ingest_memory_watermark_bytes",
        "process_resident_memory_bytes above which ingest answers 429 (ECOMOPS_INGEST_MEMORY_WATERMARK_MB).",
        value=figures.watermark_bytes,
    )
    shed = CounterMetricFamily(
        "ecomops_ingest_shed_requests",
        "Ingest requests answered 429 before their body was read, by reason: in_flight (too many bodies "
        "at once) or memory (RSS above the watermark).",
        labels=("reason",),
    )
    for reason, count in sorted(figures.shed.items()):
        shed.add_metric([reason], count)
    yield shed


def _log_backlog(cluster: ClusterIngest) -> Iterator[Metric]:
    """Cluster mode: what each tenant's shared log holds that its loader has not loaded yet."""
    entries = GaugeMetricFamily(
        "ecomops_ingest_log_backlog_entries",
        "Cluster mode: entries (group commits) in the tenant's shared ingest log not loaded yet.",
        labels=("tenant",),
    )
    age = GaugeMetricFamily(
        "ecomops_ingest_log_lag_seconds",
        "Cluster mode: age of the oldest entry of the tenant's shared ingest log not loaded yet; 0 if none.",
        labels=("tenant",),
    )
    for slug, backlog in sorted(cluster.log_backlog(), key=lambda b: b[0]):
        entries.add_metric([slug], backlog.entries)
        age.add_metric([slug], backlog.oldest_age_seconds)
    yield from (entries, age)


def _wal_budget(figures: IngestFigures) -> Iterator[Metric]:
    """The embedded WAL's backlog budget and free disk (not in cluster mode: no WAL)."""
    yield GaugeMetricFamily(
        "ecomops_ingest_backlog_max_bytes",
        "A tenant's WAL backlog beyond which its ingest answers 429 (ECOMOPS_INGEST_BACKLOG_MAX_MB).",
        value=figures.backlog_max_bytes,
    )
    yield GaugeMetricFamily(
        "ecomops_ingest_backlog_max_seconds",
        "A tenant's loader lag beyond which its ingest answers 429 (ECOMOPS_INGEST_BACKLOG_MAX_SECONDS).",
        value=figures.backlog_max_seconds,
    )
    yield GaugeMetricFamily(
        "ecomops_ingest_wal_disk_free_bytes",
        "Free bytes on the WAL's file system; ingest answers 429 below ECOMOPS_INGEST_MIN_FREE_DISK_MB.",
        value=figures.disk_free_bytes,
    )
