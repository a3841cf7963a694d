"""Warm shops' warehouses at server start-up, off the request path.

Why: the first dashboard request after a restart used to pay for everything the process had not done
yet: opening the shop's DuckDB file (its catalogue is read on the first statement: ~0.4 s of CPU on a
1.2 M-event shop), bringing the rollups to where dashboards need them (the day tables in the shop's zone,
seconds once on a big shop), reading the rollup tables cold from disk, and the distinct counts of the
previous period and last year that later requests keep (``rollup_cache``). A background thread does all
of that for up to ``warm_up_shops`` shops (in slug order) right after start-up, by asking exactly what
the overview page asks (``overview.metric_queries`` and the funnel), so the first real request finds the
file open and its figures kept. Requests are served meanwhile; one that arrives during the warm-up of its
shop waits only for what is still missing (the warehouse's own locks order them).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from zoneinfo import ZoneInfo

from ecomops.analytics import engine, overview, service
from ecomops.kernel.clock import utcnow
from ecomops.platform import tenants
from ecomops.platform.context import TenantInfo
from ecomops.platform.web.state import AppState

log = logging.getLogger(__name__)
SERVICE = "analytics-warmup"


def warm(state: AppState, tenant: TenantInfo) -> None:
    """Open ``tenant``'s warehouse and compute the overview page's default figures once."""
    warehouse = state.warehouses.get(tenant.id)
    if warehouse.read_only:
        return
    engine.ensure_rollups(warehouse, tenant)
    today = utcnow().astimezone(ZoneInfo(tenant.timezone)).date()
    rng = overview.resolve_range(None, None, None, today, None)
    for query in overview.metric_queries(rng):
        engine.compute_for_warehouse(warehouse, tenant, query)
    service.get_funnel(state, tenant, rng.first, rng.last, tenant.timezone)


class WarmUp:
    """The background pass over the shops; ``stop`` ends it between shops (shutdown waits for it)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=SERVICE, daemon=True)
        #: Shops warmed so far and the seconds the pass took (None while it runs), for tests and logs.
        self.warmed = 0
        self.seconds: float | None = None

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        started = time.perf_counter()
        limit = self.state.settings.warm_up_shops
        for tenant in tenants.list_tenants(self.state.engine)[:limit]:
            if self._stop.is_set():
                break
            try:
                warm(self.state, tenant)
            except Exception:  # a shop that fails here fails its own requests too; keep warming others
                log.exception("warming up shop %s failed", tenant.slug)
                continue
            self.warmed += 1
        self.seconds = time.perf_counter() - started
        log.info("warmed %d shop(s) in %.2f s", self.warmed, self.seconds)


async def startup(state: AppState) -> None:
    if state.settings.warm_up_shops == 0:
        return
    warm_up = WarmUp(state)
    warm_up.start()
    state.services[SERVICE] = warm_up


async def shutdown(state: AppState) -> None:
    warm_up = state.services.pop(SERVICE, None)
    if warm_up is not None:
        await asyncio.to_thread(warm_up.stop)
