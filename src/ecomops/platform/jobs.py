"""The server's scheduler: every module's periodic jobs (``Module.jobs``), one pass per interval.

Jobs live in the server because it owns every tenant's warehouse file; each pass runs in a worker
thread so DuckDB work and network retries never block the event loop. A pass visits the job's
candidate tenants, skips those that switched the job's module off, runs each as the job's actor
and keeps going when one tenant fails (logged with the tenant, counted for ``/metrics``).

Each job runs on a :class:`~ecomops.platform.periodic.Periodic`: tests and operators start a pass
with ``schedule(name).tick()`` (or run one inline with :meth:`Scheduler.run_pass`) and wait for it by
count instead of sleeping against the interval, and pin the time a pass runs for with its ``clock``.
A pass holds the job's lock, so an on-demand pass never overlaps a scheduled one and shutdown waits
for the running pass before the warehouses close.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecomops.platform.context import AuditContext, acting_as
from ecomops.platform.enablement import disabled_modules
from ecomops.platform.modules import Job
from ecomops.platform.observability.logs import LogFields, bound
from ecomops.platform.periodic import Periodic
from ecomops.platform.registry import registry
from ecomops.platform.tenants import get_tenant_by_id
from ecomops.platform.warehouse.ownership import owns_warehouse
from ecomops.platform.web.state import AppState

log = logging.getLogger(__name__)
SERVICE = "scheduler"


@dataclass
class JobStats:
    """What ``/metrics`` and ``ecomops doctor`` report per job."""

    module: str
    passes: int = 0
    tenant_runs: int = 0
    tenant_failures: int = 0
    skipped_disabled: int = 0
    last_pass_seconds: float = 0.0
    last_pass_at: float | None = None


@dataclass
class _Scheduled:
    module: str
    job: Job
    stats: JobStats
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scheduler:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._jobs = {job.name: _Scheduled(module, job, JobStats(module)) for module, job in registry().jobs}
        self._schedules = {name: self._periodic(name, s.job) for name, s in self._jobs.items()}

    def _periodic(self, name: str, job: Job) -> Periodic:
        def work(now: datetime | None) -> None:
            self.run_pass(name, now)

        return Periodic(f"job:{name}", float(job.interval_seconds(self.state.settings)), work)

    @property
    def stats(self) -> dict[str, JobStats]:
        return {name: s.stats for name, s in self._jobs.items()}

    def schedule(self, name: str) -> Periodic:
        """Job ``name``'s schedule: ``tick()`` it, wait for passes, pin its ``clock``."""
        return self._schedules[name]

    def run_pass(self, name: str, now: datetime | None = None) -> dict[str, Any]:
        """One pass of job ``name`` over its tenants, for the time ``now`` (None: each run's own
        current time): tenant id -> result (or the error's text)."""
        scheduled = self._jobs[name]
        job, stats = scheduled.job, scheduled.stats
        module = registry().by_name[scheduled.module]
        results: dict[str, Any] = {}
        with scheduled.lock, acting_as(AuditContext(job.actor)):
            started = time.perf_counter()
            for tenant_id in job.tenants(self.state.engine):
                if not owns_warehouse(self.state.settings, tenant_id):
                    continue  # cluster mode: the process that loads the tenant runs its jobs
                try:
                    if module.optional and module.name in disabled_modules(self.state.engine, tenant_id):
                        stats.skipped_disabled += 1
                        continue
                    tenant = get_tenant_by_id(self.state.engine, tenant_id)
                    with bound(LogFields(tenant=tenant.slug, extra={"job": name})):
                        results[tenant_id] = job.run(self.state, tenant, now)
                    stats.tenant_runs += 1
                except Exception as exc:
                    stats.tenant_failures += 1
                    results[tenant_id] = f"failed: {type(exc).__name__}: {exc}"
                    log.exception(
                        "job failed for a tenant; will retry next interval",
                        extra={"job": name, "tenant_id": tenant_id},
                    )
            stats.passes += 1
            stats.last_pass_seconds = time.perf_counter() - started
            stats.last_pass_at = time.time()
        return results

    def start(self) -> None:
        for schedule in self._schedules.values():
            schedule.start()

    async def stop(self) -> None:
        for schedule in self._schedules.values():
            await schedule.stop()

        def wait_for_passes() -> None:
            for scheduled in self._jobs.values():
                with scheduled.lock:
                    pass

        await asyncio.to_thread(wait_for_passes)


def scheduler_of(state: AppState) -> Scheduler:
    scheduler = state.services.get(SERVICE)
    if not isinstance(scheduler, Scheduler):
        raise RuntimeError("the scheduler runs only inside the server (create_app's lifespan)")
    return scheduler
