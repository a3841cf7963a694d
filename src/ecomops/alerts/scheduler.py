"""Evaluate a tenant's alert rules on the server: the scheduled job (``alerts.evaluate``, every
``settings.alerts_interval_seconds``, run by the platform scheduler) and the API's "run now".

Both run in the server because it owns every warehouse file, on a private cursor, under one lock so a
pass asked for through the API never overlaps the scheduled one (both would fire the same period).
"""

from __future__ import annotations

import threading
from datetime import datetime

from ecomops.alerts import service
from ecomops.platform.context import AuditContext, TenantInfo, acting_as
from ecomops.platform.web.state import AppState

ACTOR = "system:alerts"
#: Held while a tenant's rules run: a pass asked for through the API never overlaps the scheduled one.
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


def evaluate_tenant(state: AppState, tenant: TenantInfo, now: datetime | None) -> list[dict[str, object]]:
    """The scheduled job's work for one tenant (``now``: the time the pass runs for, None = current)."""
    return [e.as_dict() for e in run_for_tenant(state, tenant, now)]
