"""``/api/v1/t/{tenant}/imports``: upload files for a background import, follow it, fetch its rejects.

The upload is checked before a job exists (preset, options, mapping file, each file's header),
so a file that cannot be imported gets a 422 at once; the rows are then read in the server's
import worker, the only process allowed to write the tenant's warehouse.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ecomops.imports import jobs, operations
from ecomops.imports.execution import job_dir, uploads_dir
from ecomops.imports.operations import ImportJobView
from ecomops.imports.options import ImportOptions, InputFile
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/imports", tags=["imports"])
#: Roles that may change warehouse data through an import.
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


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


@router.post("", status_code=202, response_model=ImportJobView, summary="Upload files and start an import")
async def create_import(
    ctx: TenantDep,
    state: StateDep,
    files: Annotated[list[UploadFile], File(description="CSV files (.csv or .csv.gz), one or more")],
    preset: Annotated[
        str, Form(description="online-retail-ii, olist, shopify, generic, sessions or uci-online-shoppers")
    ],
    mapping: Annotated[
        UploadFile | None, File(description="YAML mapping file (generic and sessions presets)")
    ] = None,
    encoding: Annotated[str, Form(description="auto, utf-8 or gb18030")] = "auto",
    source_timezone: Annotated[str | None, Form(description="IANA zone of naive timestamps")] = None,
    currency: Annotated[str | None, Form(description="ISO currency of the amounts")] = None,
    reference_date: Annotated[
        str | None,
        Form(
            description="YYYY-MM-DD; session rows with a month but no year fall in the 12 months ending here"
        ),
    ] = None,
) -> ImportJobView:
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
        reference_date=reference_date or None,
    )
    job_id = jobs.new_job_id()
    try:
        saved = await run_in_threadpool(_save_uploads, uploads_dir(state.settings, job_id), files)
    except BaseException:
        await run_in_threadpool(shutil.rmtree, job_dir(state.settings, job_id), True)
        raise
    return await run_in_threadpool(
        lambda: operations.start_import(state, ctx.tenant, options, saved, job_id=job_id)
    )


@router.get("", response_model=list[ImportJobView], summary="The tenant's imports, newest first")
async def list_imports(
    ctx: TenantDep, state: StateDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ImportJobView]:
    require(ctx, "imports:read")
    return await run_in_threadpool(operations.list_imports, state, ctx.tenant, limit)


@router.get("/{import_id}", response_model=ImportJobView, summary="Status, progress and summary of an import")
async def get_import(import_id: str, ctx: TenantDep, state: StateDep) -> ImportJobView:
    require(ctx, "imports:read")
    return await run_in_threadpool(operations.get_import, state, ctx.tenant, import_id)


@router.get(
    "/{import_id}/rejects",
    response_class=FileResponse,
    summary="The reject CSV (file, row, column, value, reason)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_rejects(import_id: str, ctx: TenantDep, state: StateDep) -> FileResponse:
    # Reject rows are raw input (may hold personal data): only those who may run imports read them.
    require(ctx, "imports:run")
    path = await run_in_threadpool(operations.reject_file, state, ctx.tenant, import_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{import_id}-rejects.csv")
