"""Run an import as a recorded job: the one path both the server's runner and the CLI take.

A job's working folder is ``<data dir>/imports/<job id>/``: ``job.json`` (what to run, so a
queued job survives a restart), ``uploads/`` (files received over HTTP, deleted once the job
ends because they may hold personal data) and ``rejects.csv`` (kept for download).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from ecomops.imports import jobs
from ecomops.imports.models import ImportJob
from ecomops.imports.options import ImportOptions, ImportSummary, InputFile, ProgressFn
from ecomops.imports.service import REJECT_FILE, run_import
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.privacy.service import VaultPseudonymKeys

log = logging.getLogger(__name__)
SPEC_FILE = "job.json"


def job_dir(settings: Settings, job_id: str) -> Path:
    return settings.imports_dir() / job_id


def uploads_dir(settings: Settings, job_id: str) -> Path:
    return job_dir(settings, job_id) / "uploads"


@dataclass(frozen=True)
class JobSpec:
    """What a queued job needs to run later, persisted next to its uploads."""

    job_id: str
    tenant_slug: str
    tenant_id: str
    options: ImportOptions
    files: list[InputFile]

    def save(self, settings: Settings) -> None:
        path = job_dir(settings, self.job_id) / SPEC_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "job_id": self.job_id,
            "tenant_slug": self.tenant_slug,
            "tenant_id": self.tenant_id,
            "options": self.options.to_dict(),
            "files": [{"path": str(f.path), "name": f.name} for f in self.files],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, settings: Settings, job_id: str) -> JobSpec:
        data: dict[str, Any] = json.loads((job_dir(settings, job_id) / SPEC_FILE).read_text(encoding="utf-8"))
        return cls(
            str(data["job_id"]),
            str(data["tenant_slug"]),
            str(data["tenant_id"]),
            ImportOptions.from_dict(data["options"]),
            [InputFile(Path(f["path"]), str(f["name"])) for f in data["files"]],
        )


def remove_uploads(settings: Settings, job_id: str) -> None:
    shutil.rmtree(uploads_dir(settings, job_id), ignore_errors=True)


def run_job(
    *,
    settings: Settings,
    engine: Engine,
    warehouse: Warehouse,
    tenant: TenantInfo,
    job_id: str,
    files: list[InputFile],
    options: ImportOptions,
    progress: ProgressFn | None = None,
    cancelled: threading.Event | None = None,
) -> ImportSummary:
    """Run ``run_import`` for an existing job row, keeping the row's status and progress current."""
    jobs.mark_running(engine, job_id)
    bytes_total = sum(f.path.stat().st_size for f in files if f.path.exists())

    def on_progress(done: int, total: int, phase: str) -> None:
        jobs.record_progress(engine, job_id, done, phase)
        if progress is not None:
            progress(done, total, phase)

    try:
        summary = run_import(
            warehouse=warehouse,
            tenant=tenant,
            import_id=job_id,
            files=files,
            options=options,
            work_dir=job_dir(settings, job_id),
            keys=VaultPseudonymKeys(engine),
            progress=on_progress,
            cancelled=cancelled,
        )
    except EcomopsError as exc:
        jobs.mark_failed(engine, job_id, exc.message, exc.details)
        raise
    except Exception as exc:
        log.exception("import %s failed", job_id)
        jobs.mark_failed(engine, job_id, f"internal error: {type(exc).__name__}: {exc}")
        raise
    jobs.mark_succeeded(engine, job_id, summary.to_dict(), bytes_total)
    return summary


def delete_reject_files(engine: Engine, settings: Settings, tenant_id: str, cutoff: datetime) -> int:
    """Reject CSVs of the tenant's imports finished before ``cutoff``; returns how many were deleted."""
    with tenant_session(engine, tenant_id) as session:
        job_ids = list(
            session.scalars(
                select(ImportJob.id).where(ImportJob.finished_at.is_not(None), ImportJob.finished_at < cutoff)
            )
        )
    deleted = 0
    for job_id in job_ids:
        path: Path = job_dir(settings, job_id) / REJECT_FILE
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted
