"""Imports as use cases: start an import, read its job. The API handlers and the CLI (here or through
the running server) call these functions and answer the same :class:`ImportJobView`.

``start_import`` checks the options and every file's header before a job exists (a file that cannot
be imported is a 422 at once, and leaves no job behind), records the job, then runs it where the
tenant's warehouse is: a server hands it to its import worker and answers the queued job (clients
poll ``get_import``); a process without a server (the CLI) runs it right here and answers the
finished job. A job that fails while running is recorded as ``failed`` with the error; callers
that wait for the end turn it into :class:`ImportFailed`, the same on both paths.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ecomops.imports import jobs
from ecomops.imports.execution import JobSpec, job_dir, run_job
from ecomops.imports.options import ImportOptions, InputFile, ProgressFn
from ecomops.imports.runner import SERVICE, ImportRunner
from ecomops.imports.service import REJECT_FILE, plan_files, resolve_options
from ecomops.kernel.errors import EcomopsError, NotFound
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.handle import Warehouse
from ecomops.platform.web.state import AppState


class ImportFailed(EcomopsError):
    """The job ran and failed (unusable rows found while reading, an internal error…)."""

    status_code = 422
    code = "import_failed"


class ImportJobView(BaseModel):
    """An import job: status, progress and (once it succeeded) the summary and the rejects link."""

    model_config = ConfigDict(frozen=True)

    id: str
    preset: str
    files: list[str]
    status: str
    phase: str
    bytes_total: int
    bytes_done: int
    percent: float
    summary: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    rejects_url: str | None

    @property
    def finished(self) -> bool:
        return self.status in jobs.FINISHED

    def raise_if_failed(self) -> None:
        """A finished job that failed, as the error both CLI paths print."""
        if self.status == jobs.FAILED:
            details = (self.summary or {}).get("details")
            raise ImportFailed(f"import {self.id} failed: {self.error}", details)


def job_view(job: jobs.JobInfo, tenant: TenantInfo) -> ImportJobView:
    done = job.status == jobs.SUCCEEDED
    return ImportJobView(
        id=job.id,
        preset=job.preset,
        files=job.files,
        status=job.status,
        phase=job.phase,
        bytes_total=job.bytes_total,
        bytes_done=job.bytes_done,
        percent=job.percent,
        summary=job.summary,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        rejects_url=f"/api/v1/t/{tenant.slug}/imports/{job.id}/rejects" if done else None,
    )


def start_import(
    state: AppState,
    tenant: TenantInfo,
    options: ImportOptions,
    files: list[InputFile],
    *,
    job_id: str | None = None,
    progress: ProgressFn | None = None,
) -> ImportJobView:
    """Check, record and run (or queue, in a server) an import of ``files``; see the module doc.

    ``job_id`` names a job whose files were already received into its folder (the API's uploads):
    that folder is removed again when the checks refuse the import.
    """
    runner: ImportRunner | None = state.services.get(SERVICE)
    # The server's worker runs it, or this process does: then the file must be free before a job is
    # recorded (another command may hold it).
    runs_it: ImportRunner | Warehouse = runner if runner is not None else state.warehouses.get(tenant.id)
    job_id = job_id or jobs.new_job_id()
    try:
        resolved = resolve_options(options, tenant)
        plan_files(files, resolved)
        if isinstance(runs_it, ImportRunner):
            JobSpec(job_id, tenant.slug, tenant.id, options, files).save(state.settings)
        job = jobs.create_job(
            state.engine,
            tenant.id,
            resolved.preset.name,
            [f.name for f in files],
            sum(f.path.stat().st_size for f in files),
            job_id,
        )
    except BaseException:
        shutil.rmtree(job_dir(state.settings, job_id), ignore_errors=True)
        raise
    if isinstance(runs_it, ImportRunner):
        runs_it.submit(job.id)
        return job_view(job, tenant)
    # A failure is recorded on the job (failed, with the error), which is the answer.
    with contextlib.suppress(EcomopsError):
        run_job(
            settings=state.settings,
            engine=state.engine,
            warehouse=runs_it,
            tenant=tenant,
            job_id=job.id,
            files=files,
            options=options,
            progress=progress,
        )
    return get_import(state, tenant, job.id)


def get_import(state: AppState, tenant: TenantInfo, import_id: str) -> ImportJobView:
    return job_view(jobs.get_job(state.engine, tenant.id, import_id), tenant)


def list_imports(state: AppState, tenant: TenantInfo, limit: int = 50) -> list[ImportJobView]:
    return [job_view(j, tenant) for j in jobs.list_jobs(state.engine, tenant.id, limit)]


def reject_file(state: AppState, tenant: TenantInfo, import_id: str) -> Path:
    """The reject CSV of a succeeded import. Rejected rows are raw input (names, addresses): handing
    them out is audited (``import.rejects.read``)."""
    job = jobs.get_job(state.engine, tenant.id, import_id)
    path = job_dir(state.settings, job.id) / REJECT_FILE
    if job.status != jobs.SUCCEEDED or not path.is_file():
        raise NotFound(
            f"import {import_id!r} has no reject file (status {job.status})",
            {"import_id": import_id, "status": job.status},
        )
    record_action(state.engine, tenant.id, "import.rejects.read", "import_job", job.id)
    return path
