"""Import jobs in the operational store: status, progress and summary survive restarts.

Every import, whether the server runs it in the background or the CLI runs it directly, is a
row in ``import_jobs`` so ``GET /imports`` lists the tenant's whole history. Queries always
filter by tenant: a job id from another tenant is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from ecomops.imports.models import ImportJob
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import NotFound
from ecomops.kernel.ids import new_id
from ecomops.platform.audit import record_action
from ecomops.platform.store.scoping import system_session, tenant_session

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
FINISHED = (SUCCEEDED, FAILED)


@dataclass(frozen=True)
class JobInfo:
    id: str
    tenant_id: str
    preset: str
    files: list[str]
    status: str
    bytes_total: int
    bytes_done: int
    summary: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> float:
        if self.status == SUCCEEDED:
            return 100.0
        if self.bytes_total <= 0:
            return 0.0
        return round(min(100.0, 100.0 * self.bytes_done / self.bytes_total), 1)

    @property
    def phase(self) -> str:
        """While running: reading, transforming or applying; then the final status."""
        if self.status in FINISHED or self.status == QUEUED:
            return self.status
        return str((self.summary or {}).get("phase", "reading"))

    @classmethod
    def of(cls, job: ImportJob) -> JobInfo:
        return cls(
            job.id,
            job.tenant_id,
            job.preset,
            list(job.files),
            job.status,
            int(job.bytes_total),
            int(job.bytes_done),
            job.summary,
            job.error,
            job.created_at,
            job.finished_at,
        )


def new_job_id() -> str:
    return new_id("imp_")


def create_job(
    engine: Engine,
    tenant_id: str,
    preset: str,
    files: list[str],
    bytes_total: int,
    job_id: str | None = None,
    status: str = QUEUED,
) -> JobInfo:
    job = ImportJob(
        id=job_id or new_job_id(),
        tenant_id=tenant_id,
        preset=preset,
        files=files,
        status=status,
        bytes_total=bytes_total,
        bytes_done=0,
        created_at=utcnow(),
    )
    with tenant_session(engine, tenant_id) as s:
        s.add(job)
        s.flush()
        details = {"preset": preset, "files": files, "bytes_total": bytes_total, "status": status}
        record_action(s, tenant_id, "import.start", "import_job", job.id, details=details)
    return JobInfo.of(job)


def _tenant_of(engine: Engine, job_id: str) -> str:
    """The tenant a job belongs to: the runner knows jobs by id only (ids are unique store-wide)."""
    with system_session(engine, "import runner: tenant of a job by id") as s:
        tenant_id = s.scalar(select(ImportJob.tenant_id).where(ImportJob.id == job_id))
    if tenant_id is None:
        raise NotFound(f"import {job_id!r} not found", {"import_id": job_id})
    return tenant_id


def _update(engine: Engine, job_id: str, **values: Any) -> None:
    with tenant_session(engine, _tenant_of(engine, job_id)) as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


def mark_running(engine: Engine, job_id: str) -> None:
    _update(engine, job_id, status=RUNNING, summary={"phase": "reading"})


def record_progress(engine: Engine, job_id: str, bytes_done: int, phase: str) -> None:
    _update(engine, job_id, bytes_done=bytes_done, summary={"phase": phase})


def _finish(engine: Engine, job_id: str, **values: Any) -> None:
    """Record the outcome and its audit record in one transaction (both or neither)."""
    tenant_id = _tenant_of(engine, job_id)
    with tenant_session(engine, tenant_id) as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))
        details = {"status": values["status"], "error": values.get("error")}
        record_action(s, tenant_id, "import.finish", "import_job", job_id, details=details)


def mark_succeeded(engine: Engine, job_id: str, summary: dict[str, Any], bytes_total: int) -> None:
    _finish(
        engine,
        job_id,
        status=SUCCEEDED,
        summary=summary,
        bytes_done=bytes_total,
        finished_at=utcnow(),
        error=None,
    )


def mark_failed(engine: Engine, job_id: str, error: str, details: Any = None) -> None:
    summary = {"phase": FAILED, "details": details} if details is not None else {"phase": FAILED}
    _finish(engine, job_id, status=FAILED, error=error, summary=summary, finished_at=utcnow())


def get_job(engine: Engine, tenant_id: str, job_id: str) -> JobInfo:
    with tenant_session(engine, tenant_id) as s:
        job = s.scalar(select(ImportJob).where(ImportJob.id == job_id, ImportJob.tenant_id == tenant_id))
        if job is None:
            raise NotFound(f"import {job_id!r} not found", {"import_id": job_id})
        return JobInfo.of(job)


def list_jobs(engine: Engine, tenant_id: str, limit: int = 50) -> list[JobInfo]:
    with tenant_session(engine, tenant_id) as s:
        rows = s.scalars(
            select(ImportJob)
            .where(ImportJob.tenant_id == tenant_id)
            .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
            .limit(limit)
        )
        return [JobInfo.of(r) for r in rows]


def unfinished_jobs(engine: Engine) -> list[JobInfo]:
    """Jobs a previous server process left queued or running (oldest first), of every tenant."""
    with system_session(engine, "server start-up: unfinished imports of every tenant") as s:
        rows = s.scalars(
            select(ImportJob).where(ImportJob.status.in_((QUEUED, RUNNING))).order_by(ImportJob.created_at)
        )
        return [JobInfo.of(r) for r in rows]
