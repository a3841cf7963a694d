"""The server's scheduler: every module's periodic jobs (``Module.jobs``), one pass per interval.

Jobs live in the server because it owns every tenant's warehouse file; each pass runs in a worker
thread so DuckDB work and network retries never block the event loop. A pass visits the job's
candidate tenants, skips those that switched the job's module off, runs each as the job's actor
and keeps going when one tenant fails (logged with the tenant, counted for ``/metrics``).

Tests and operators run a pass on demand with :meth:`Scheduler.run_pass` instead of waiting for the
interval; a pass holds the job's lock, so an on-demand pass never overlaps a scheduled one and
shutdown waits for the running pass before the warehouses close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ecomops.platform.context import AuditContext, acting_as
from ecomops.platform.enablement import disabled_modules
from ecomops.platform.modules import Job
from ecomops.platform.registry import registry
from ecomops.platform.tenants import get_tenant_by_id
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
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def stats(self) -> dict[str, JobStats]:
        return {name: s.stats for name, s in self._jobs.items()}

    def run_pass(self, name: str) -> dict[str, Any]:
        """One pass of job ``name`` over its tenants now: tenant id -> result (or the error's text)."""
        scheduled = self._jobs[name]
        job, stats = scheduled.job, scheduled.stats
        module = registry().by_name[scheduled.module]
        results: dict[str, Any] = {}
        with scheduled.lock, acting_as(AuditContext(job.actor)):
            started = time.perf_counter()
            for tenant_id in job.tenants(self.state.engine):
                try:
                    if module.optional and module.name in disabled_modules(self.state.engine, tenant_id):
                        stats.skipped_disabled += 1
                        continue
                    tenant = get_tenant_by_id(self.state.engine, tenant_id)
                    results[tenant_id] = job.run(self.state, tenant)
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

    async def _loop(self, name: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.run_pass, name)
            except Exception:
                log.exception("job pass failed; will retry next interval", extra={"job": name})

    def start(self) -> None:
        for name, scheduled in self._jobs.items():
            interval = float(scheduled.job.interval_seconds(self.state.settings))
            self._tasks.append(asyncio.create_task(self._loop(name, interval), name=f"job:{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

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
