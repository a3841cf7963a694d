"""Privacy use cases as the API handlers and the CLI call them: data-subject requests and retention.

One function per use case, each returning a typed result; the API serialises it and the CLI gets it
from the server (``here_or_server``) or from the function itself, so both answer the same.

Requests and retention runs touch the tenant's warehouse. The function runs in whichever process
owns it: the server, or a CLI command when no server runs. Erased or expired values linger in
DuckDB's free space until the file is rewritten (``privacy.compaction``); the owner of an open file
cannot rewrite it, so these functions mark the tenant for compaction and its caller says when the
rewrite happens (``compaction``): the server at its next start, a CLI without a server as soon as it
has closed the file (``rewrite_now``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse import facts
from ecomops.platform.web.state import AppState
from ecomops.privacy import compaction, retention
from ecomops.privacy import requests as privacy_requests


class PrivacyRequestView(BaseModel):
    """A data-subject request with its outcome (counts only, never PII) and the bundle's link."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    subject: str
    lookup: str
    status: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, Any] | None
    error: str | None
    bundle_available: bool
    bundle_expires_at: datetime | None
    download_url: str | None


class RetentionView(BaseModel):
    """The tenant's retention rules and its last run."""

    model_config = ConfigDict(frozen=True)

    events_days: int | None
    events_action: str
    dead_letters_days: int | None
    reject_files_days: int | None
    updated_by: str | None
    updated_at: datetime | None
    last_run_at: datetime | None
    last_run_summary: dict[str, Any] | None


def request_view(info: privacy_requests.RequestInfo, tenant: TenantInfo) -> PrivacyRequestView:
    data = {k: v for k, v in info.__dict__.items() if k != "tenant_id"}
    link = f"/api/v1/t/{tenant.slug}/privacy/requests/{info.id}/download" if info.bundle_available else None
    return PrivacyRequestView(**data, download_url=link)


def retention_view(policy: retention.Policy) -> RetentionView:
    return RetentionView(**{k: v for k, v in policy.__dict__.items() if k != "tenant_id"})


def submit_request(
    state: AppState,
    tenant: TenantInfo,
    kind: str,
    lookup: privacy_requests.Lookup,
    *,
    compaction_at: str = privacy_requests.COMPACT_LATER,
) -> PrivacyRequestView:
    """Export or erase one customer now; answers the finished request (``done`` or ``failed``).

    ``compaction_at`` is recorded in an erasure's summary: ``COMPACT_NOW`` when the caller rewrites
    the file right after (a CLI without a server), else the server's next start.
    """
    lookup.kind()  # 422 for zero or several identifiers before the warehouse is touched
    warehouse = state.warehouses.get(tenant.id)
    # Every event acknowledged so far counts: its PII is in the vault for an email/phone lookup, its
    # rows are in the export. (The erasure seals the buffers again right before its own work.)
    facts.load_pending(state, tenant, delete_buffers=False)

    def seal() -> int:
        return facts.load_pending(state, tenant, delete_buffers=True)

    info = privacy_requests.submit(
        state.engine,
        warehouse,
        tenant,
        kind,
        lookup,
        seal_wal=seal if kind == "erasure" else None,
        compaction=compaction_at,
    )
    if info.kind == "erasure" and info.status == privacy_requests.DONE:
        compaction.mark_pending(state.settings.warehouse_dir(), tenant.id)
    return request_view(info, tenant)


def list_requests(
    state: AppState, tenant: TenantInfo, *, kind: str | None = None, limit: int = 50, offset: int = 0
) -> list[PrivacyRequestView]:
    """Privacy requests, newest first (operational store only)."""
    infos = privacy_requests.list_requests(state.engine, tenant.id, kind=kind, limit=limit, offset=offset)
    return [request_view(i, tenant) for i in infos]


def get_request(state: AppState, tenant: TenantInfo, request_id: str) -> PrivacyRequestView:
    return request_view(privacy_requests.get_request(state.engine, tenant.id, request_id), tenant)


def run_retention(state: AppState, tenant: TenantInfo) -> dict[str, Any]:
    """Apply the tenant's policy now; answers the counts (also recorded as ``retention.run``).

    The counts are a JSON document whose keys depend on the policy and on the modules' retention
    sweeps (``Module.retention_sweeps``), so the result stays a mapping.
    """
    return retention.run_retention(state.engine, state.settings, state.warehouses.get(tenant.id), tenant)


def rewrite_now(state: AppState, tenant: TenantInfo) -> tuple[int, int] | None:
    """A CLI without a server, after a use case above: close the file and rewrite it if it is marked.

    Returns the file's size before and after, or None when nothing was pending.
    """
    warehouse_dir = state.settings.warehouse_dir()
    if tenant.id not in compaction.pending_tenants(warehouse_dir):
        return None
    state.warehouses.close_all()
    return compaction.compact(warehouse_dir, tenant.id)
