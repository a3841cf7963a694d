"""Evaluate a tenant's alert rules where the warehouse is: the scheduled job (``alerts.evaluate``, every
``settings.alerts_interval_seconds``, run by the platform scheduler in the server) and "run now"
(``POST …/alerts/run`` and ``ecomops alerts run``, in the server or, without one, in the command).

Both read the warehouse on a private cursor under one lock, so a pass asked for through the API never
overlaps the scheduled one (both would fire the same period), and record as the alerts system.
"""

from __future__ import annotations

import threading
from datetime import datetime

from ecomops.alerts import service
from ecomops.alerts.results import EvaluationResult
from ecomops.platform.context import AuditContext, TenantInfo, acting_as
from ecomops.platform.web.state import AppState

ACTOR = "system:alerts"
#: Held while a tenant's rules run: a pass asked for through the API never overlaps the scheduled one.
PASS_LOCK = threading.Lock()


def run_for_tenant(
    state: AppState, tenant: TenantInfo, now: datetime | None = None, rule_ids: list[str] | None = None
) -> list[service.Evaluation]:
    """One tenant's rules against its warehouse, on a private cursor."""
    cursor = state.warehouses.get(tenant.id).cursor()
    try:
        with PASS_LOCK, acting_as(AuditContext(ACTOR)):
            return service.run_tenant(state.engine, state.settings, cursor, tenant, now, rule_ids=rule_ids)
    finally:
        cursor.close()


def run_now(state: AppState, tenant: TenantInfo, rule_ids: list[str] | None = None) -> list[EvaluationResult]:
    """Evaluate the tenant's enabled rules now, or the given ones (enabled or not): fire and deliver
    what triggers. An unknown rule id is a 404 before anything runs."""
    for rule_id in rule_ids or ():
        service.get_rule(state.engine, tenant.id, rule_id)
    return [e.result() for e in run_for_tenant(state, tenant, None, rule_ids)]


def evaluate_tenant(state: AppState, tenant: TenantInfo, now: datetime | None) -> list[EvaluationResult]:
    """The scheduled job's work for one tenant (``now``: the time the pass runs for, None = current)."""
    return [e.result() for e in run_for_tenant(state, tenant, now)]
