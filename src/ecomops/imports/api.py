"""``/api/v1/t/{tenant}/imports``: upload files for a background import, follow it, fetch its rejects.

The upload is checked before a job exists (preset, options, mapping file, each file's header),
so a file that cannot be imported gets a 422 at once; the rows are then read in the server's
import worker, the only process allowed to write the tenant's warehouse.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ecomops.imports import jobs
from ecomops.imports.execution import JobSpec, job_dir, uploads_dir
from ecomops.imports.options import ImportOptions, InputFile
from ecomops.imports.runner import SERVICE, ImportRunner
from ecomops.imports.service import REJECT_FILE, plan_files, resolve_options
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/imports", tags=["imports"])
#: Roles that may change warehouse data through an import.
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


class ImportJobOut(BaseModel):
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

    @classmethod
    def of(cls, job: jobs.JobInfo, tenant_slug: str) -> ImportJobOut:
        done = job.status == jobs.SUCCEEDED
        return cls(
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
            rejects_url=f"/api/v1/t/{tenant_slug}/imports/{job.id}/rejects" if done else None,
        )


def safe_name(name: str | None, index: int) -> str:
    """A file name safe to store (no directories, no odd characters) that still reads like the original."""
    base = Path(name or "").name.strip()
    cleaned = _UNSAFE.sub("_", base).strip("._")
    return cleaned or f"file{index + 1}.csv"


def _save_uploads(target: Path, uploads: list[UploadFile]) -> list[InputFile]:
    target.mkdir(parents=True, exist_ok=True)
    saved: list[InputFile] = []
    used: set[str] = set()
    for i, upload in enumerate(uploads):
        name = safe_name(upload.filename, i)
        if name in used:
            name = f"{i + 1}-{name}"
        used.add(name)
        path = target / name
        with path.open("wb") as fh:
            shutil.copyfileobj(upload.file, fh, 1 << 20)
        saved.append(InputFile(path, name))
    return saved


@router.post("", status_code=202, response_model=ImportJobOut, summary="Upload files and start an import")
async def create_import(
    ctx: TenantDep,
    state: StateDep,
    files: Annotated[list[UploadFile], File(description="CSV files (.csv or .csv.gz), one or more")],
    preset: Annotated[str, Form(description="online-retail-ii, olist, shopify or generic")],
    mapping: Annotated[UploadFile | None, File(description="YAML mapping file (generic preset)")] = None,
    encoding: Annotated[str, Form(description="auto, utf-8 or gb18030")] = "auto",
    source_timezone: Annotated[str | None, Form(description="IANA zone of naive timestamps")] = None,
    currency: Annotated[str | None, Form(description="ISO currency of the amounts")] = None,
) -> ImportJobOut:
    """Queue an import of the uploaded files; poll ``GET …/imports/{id}`` for progress and the summary."""
    require(ctx, "imports:run")
    mapping_text = None
    if mapping is not None:
        raw = await mapping.read()
        try:
            mapping_text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("mapping file must be UTF-8 text", {"field": "mapping"}) from exc
    options = ImportOptions(
        preset=preset,
        encoding=encoding,
        source_timezone=source_timezone or None,
        currency=currency or None,
        mapping=mapping_text,
    )
    resolved = resolve_options(options, ctx.tenant)
    job_id = jobs.new_job_id()
    try:
        saved = await run_in_threadpool(_save_uploads, uploads_dir(state.settings, job_id), files)
        await run_in_threadpool(plan_files, saved, resolved)
        spec = JobSpec(job_id, ctx.tenant.slug, ctx.tenant.id, options, saved)
        await run_in_threadpool(spec.save, state.settings)
        job = await run_in_threadpool(
            jobs.create_job,
            state.engine,
            ctx.tenant.id,
            resolved.preset.name,
            [f.name for f in saved],
            sum(f.path.stat().st_size for f in saved),
            job_id,
        )
    except BaseException:
        await run_in_threadpool(shutil.rmtree, job_dir(state.settings, job_id), True)
        raise
    runner: ImportRunner = state.services[SERVICE]
    runner.submit(job_id)
    return ImportJobOut.of(job, ctx.tenant.slug)


@router.get("", response_model=list[ImportJobOut], summary="The tenant's imports, newest first")
async def list_imports(
    ctx: TenantDep, state: StateDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ImportJobOut]:
    require(ctx, "imports:read")
    found = await run_in_threadpool(jobs.list_jobs, state.engine, ctx.tenant.id, limit)
    return [ImportJobOut.of(j, ctx.tenant.slug) for j in found]


@router.get("/{import_id}", response_model=ImportJobOut, summary="Status, progress and summary of an import")
async def get_import(import_id: str, ctx: TenantDep, state: StateDep) -> ImportJobOut:
    require(ctx, "imports:read")
    job = await run_in_threadpool(jobs.get_job, state.engine, ctx.tenant.id, import_id)
    return ImportJobOut.of(job, ctx.tenant.slug)


@router.get(
    "/{import_id}/rejects",
    response_class=FileResponse,
    summary="The reject CSV (file, row, column, value, reason)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_rejects(import_id: str, ctx: TenantDep, state: StateDep) -> FileResponse:
    # Reject rows are raw input (may hold personal data): only those who may run imports read them.
    require(ctx, "imports:run")
    job = await run_in_threadpool(jobs.get_job, state.engine, ctx.tenant.id, import_id)
    path = job_dir(state.settings, job.id) / REJECT_FILE
    if job.status != jobs.SUCCEEDED or not path.is_file():
        raise NotFound(
            f"import {import_id!r} has no reject file (status {job.status})",
            {"import_id": import_id, "status": job.status},
        )
    # Rejected rows are raw input (names, addresses): handing them out is audited.
    await run_in_threadpool(
        record_action, state.engine, ctx.tenant.id, "import.rejects.read", "import_job", job.id
    )
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{job.id}-rejects.csv")
