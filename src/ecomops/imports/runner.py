"""The server's import worker: one background thread running queued import jobs in order.

The server process owns the tenant warehouses, so uploaded imports run here, one at a time:
imports are I/O and CPU heavy, and one at a time keeps the warehouse write lock free for
ingest between them. On startup, jobs a previous process left behind are re-queued when their
uploads still exist, or marked failed when they were interrupted mid-run. The runner counts what it
ran (``figures``, for ``/metrics``); imports a CLI runs in its own process are not among them.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import Counter
from dataclasses import dataclass

from ecomops.imports import jobs
from ecomops.imports.execution import JobSpec, remove_uploads, run_job
from ecomops.kernel.errors import EcomopsError
from ecomops.platform import tenants
from ecomops.platform.context import AuditContext, set_current
from ecomops.platform.web.state import AppState

log = logging.getLogger(__name__)
SERVICE = "imports"
_STOP = ""


@dataclass(frozen=True)
class RunnerFigures:
    queued: int
    #: The job running now, if any.
    running: str | None
    #: Jobs this runner finished since start, by final status (succeeded, failed).
    finished: dict[str, int]


class ImportRunner:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._queue: queue.Queue[str] = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="import-runner", daemon=True)
        self._running: str | None = None
        self._finished: Counter[str] = Counter()

    def figures(self) -> RunnerFigures:
        return RunnerFigures(self._queue.qsize(), self._running, dict(self._finished))

    def start(self) -> None:
        self._recover()
        self._thread.start()

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel the running import (it rolls back and is marked failed) and stop the thread."""
        self._cancel.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _recover(self) -> None:
        """Re-queue queued server jobs; fail server jobs cut off mid-run (their transaction never committed).

        Jobs without a saved spec were started by a CLI in its own process and are left alone: that
        process records their outcome itself.
        """
        for job in jobs.unfinished_jobs(self.state.engine):
            try:
                JobSpec.load(self.state.settings, job.id)
            except (OSError, ValueError, KeyError):
                continue
            if job.status == jobs.QUEUED:
                self.submit(job.id)
            else:
                jobs.mark_failed(
                    self.state.engine,
                    job.id,
                    "the server stopped during this import; nothing was applied, import the files again",
                )
                remove_uploads(self.state.settings, job.id)

    def _loop(self) -> None:
        # The job's requester is recorded by import.start; the outcome is the runner's own doing.
        set_current(AuditContext("system:import-runner"))
        while True:
            job_id = self._queue.get()
            if job_id == _STOP or self._cancel.is_set():
                return
            self._running = job_id
            status = jobs.FAILED
            try:
                status = self._run(job_id)
            except EcomopsError:
                pass  # recorded on the job by run_job
            except Exception:
                log.exception("import job %s crashed", job_id)
            finally:
                self._finished[status] += 1
                self._running = None

    def _run(self, job_id: str) -> str:
        """Run one job; returns its final status (failures that run_job records raise instead)."""
        settings = self.state.settings
        try:
            spec = JobSpec.load(settings, job_id)
            tenant = tenants.get_tenant(self.state.engine, spec.tenant_slug)
            if tenant.id != spec.tenant_id:
                raise EcomopsError(f"tenant {spec.tenant_slug!r} was replaced since the import was queued")
        except (OSError, ValueError, KeyError, EcomopsError) as exc:
            jobs.mark_failed(self.state.engine, job_id, f"cannot start import: {exc}")
            remove_uploads(settings, job_id)
            return jobs.FAILED
        try:
            run_job(
                settings=settings,
                engine=self.state.engine,
                warehouse=self.state.warehouses.get(tenant.id),
                tenant=tenant,
                job_id=job_id,
                files=spec.files,
                options=spec.options,
                cancelled=self._cancel,
            )
        finally:
            remove_uploads(settings, job_id)
        return jobs.SUCCEEDED


async def startup(state: AppState) -> None:
    runner = ImportRunner(state)
    runner.start()
    state.services[SERVICE] = runner


async def shutdown(state: AppState) -> None:
    runner = state.services.pop(SERVICE, None)
    if runner is not None:
        await asyncio.to_thread(runner.stop)
