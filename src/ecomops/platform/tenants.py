"""Tenant lookups every module needs (by slug, by id, all): the ``tenants`` table is the root of
isolation (scoping, row-level security, every foreign key), so reading it belongs to the platform.
Creating and changing tenants are use cases of the tenancy module."""

from __future__ import annotations

from sqlalchemy import Engine, select

from ecomops.kernel.errors import NotFound
from ecomops.platform.context import TenantInfo
from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session, tenant_session


def tenant_info(t: Tenant) -> TenantInfo:
    return TenantInfo(t.id, t.slug, t.name, t.timezone, t.currency, t.created_at)


def list_tenants(engine: Engine) -> list[TenantInfo]:
    with system_session(engine, "listing every tenant") as s:
        return [tenant_info(t) for t in s.scalars(select(Tenant).order_by(Tenant.slug))]


def get_tenant(engine: Engine, slug: str) -> TenantInfo:
    with system_session(engine, "tenant lookup by slug") as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise NotFound(f"tenant {slug!r} not found", {"tenant": slug})
        return tenant_info(tenant)


def get_tenant_by_id(engine: Engine, tenant_id: str) -> TenantInfo:
    with tenant_session(engine, tenant_id) as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant id {tenant_id!r} not found", {"tenant_id": tenant_id})
        return tenant_info(tenant)
