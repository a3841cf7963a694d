"""The server's alert schedule: every ``settings.alerts_interval_seconds``, evaluate each tenant's
enabled rules against its warehouse and deliver what fires.

It lives in the server (an ``app.LIFECYCLE`` module) because the server owns every warehouse file;
each pass runs in a worker thread so DuckDB work and webhook retries never block the event loop.
``state.services[SERVICE]`` is the schedule (``kernel.periodic.Periodic``): its ``tick()`` starts a pass
at once and ``wait_for_passes`` waits for one, which is how tests drive it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime
from typing import Any

from ecomops.alerts import service
from ecomops.audit.context import AuditContext, acting_as
from ecomops.kernel.periodic import Periodic
from ecomops.tenancy import service as tenancy
from ecomops.tenancy.service import TenantInfo
from ecomops.web.state import AppState

log = logging.getLogger(__name__)
SERVICE = "alerts_scheduler"
ACTOR = "system:alerts"
#: Held while a pass runs: shutdown waits for it before the warehouses are closed, and a pass asked
#: for through the API never overlaps the scheduled one (both would fire the same period).
PASS_LOCK = threading.Lock()


def run_for_tenant(
    state: AppState, tenant: TenantInfo, now: datetime | None = None, rule_ids: list[str] | None = None
) -> list[service.Evaluation]:
    """One tenant's rules against the warehouse this server owns, on a private cursor."""
    cursor = state.warehouses.get(tenant.id).cursor()
    try:
        with PASS_LOCK, acting_as(AuditContext(ACTOR)):
            return service.run_tenant(state.engine, state.settings, cursor, tenant, now, rule_ids=rule_ids)
    finally:
        cursor.close()


def run_all(state: AppState, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """One pass over every tenant with an enabled rule; a failing tenant does not stop the others."""
    results: dict[str, list[dict[str, Any]]] = {}
    for tenant_id in service.tenants_with_enabled_rules(state.engine):
        try:
            tenant = tenancy.get_tenant_by_id(state.engine, tenant_id)
            results[tenant_id] = [e.as_dict() for e in run_for_tenant(state, tenant, now)]
        except Exception:
            log.exception("alert evaluation for tenant %s failed; will retry next interval", tenant_id)
    return results


async def startup(state: AppState) -> None:
    interval = float(state.settings.alerts_interval_seconds)
    schedule = Periodic("alerts-scheduler", interval, lambda now: run_all(state, now))
    schedule.start()
    state.services[SERVICE] = schedule


async def shutdown(state: AppState) -> None:
    schedule: Periodic | None = state.services.pop(SERVICE, None)
    if schedule is not None:
        await schedule.stop()

        def wait_for_pass() -> None:
            with PASS_LOCK:
                pass

        await asyncio.to_thread(wait_for_pass)
