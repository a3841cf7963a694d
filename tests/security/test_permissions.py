"""The permission matrix: its rules, its rendering in docs/security.md, and every gated route × role."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ecomops.kernel.errors import Forbidden, ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.permissions import allowed, markdown_table, matrix, require, roles_with
from ecomops.platform.roles import ROLES
from ecomops.platform.web.deps import TenantContext
from ecomops.tenancy import service as tenancy
from tests.conftest import REPO, InProcServer
from tests.security.routes import tenant_routes

REQUIRED = {
    "orders:read",
    "customers:read",
    "customers:read_pii",
    "events:write_dead_letters",
    "ingest:read_dead_letters",
    "imports:run",
    "imports:read",
    "sql:query",
    "demo:seed",
    "modules:manage",
    "keys:manage",
    "members:manage",
    "privacy:erase",
    "audit:read",
}


def test_matrix_covers_the_required_permissions_and_known_roles_only() -> None:
    assert set(matrix()) >= REQUIRED
    for permission in matrix().values():
        assert permission.roles <= set(ROLES)


def test_owner_holds_everything_and_unknown_roles_nothing() -> None:
    assert all(allowed("owner", p) for p in matrix())
    assert not any(allowed("superuser", p) for p in matrix())


def test_unknown_permission_is_an_error_not_a_silent_denial() -> None:
    with pytest.raises(ValidationFailed):
        allowed("owner", "orders:delete")


def test_require_raises_forbidden_naming_permission_and_holders(tenant: TenantInfo) -> None:
    ctx = TenantContext(tenant, "test", "viewer")
    with pytest.raises(Forbidden) as info:
        require(ctx, "sql:query")
    assert "'viewer' lacks permission 'sql:query'" in info.value.message
    assert "owner, admin, analyst" in info.value.message
    require(TenantContext(tenant, "test", "analyst"), "sql:query")


def test_todays_effective_access_is_kept() -> None:
    expected = {
        "sql:query": {"owner", "admin", "analyst"},
        "imports:run": {"owner", "admin", "operator"},
        "imports:read": set(ROLES),
        "demo:seed": {"owner", "admin"},
        "ingest:read_dead_letters": {"owner", "admin", "analyst", "operator"},
        "events:write_dead_letters": {"owner", "admin", "operator"},
        "audit:read": {"owner", "admin"},
    }
    for permission, roles in expected.items():
        assert roles_with(permission) == roles, permission


def test_docs_security_md_holds_the_generated_table() -> None:
    doc = (REPO / "docs" / "security.md").read_text("utf-8")
    start = doc.index("<!-- permission-matrix:start -->\n") + len("<!-- permission-matrix:start -->\n")
    end = doc.index("<!-- permission-matrix:end -->")
    assert doc[start:end] == markdown_table(), "regenerate with: python -m ecomops.platform.permissions"


# --- every gated route × every role -------------------------------------------------------------


@dataclass(frozen=True)
class Gated:
    """A route, the permission its handler checks, and a request that gets past validation.

    The request is built so that an allowed role stops cheaply *after* the gate (404 for an unknown
    id, 422 for an unknown preset, 409 while a seed "runs"): only the gate may answer 403.
    """

    method: str
    path: str
    permission: str
    kwargs: dict[str, Any] = field(default_factory=dict)


GATED = [
    Gated("POST", "/query", "sql:query", {"json": {"sql": "select 1"}}),
    Gated("POST", "/query", "sql:query", {"json": {"sql": "select 1", "format": "csv"}}),
    Gated(
        "POST",
        "/imports",
        "imports:run",
        {"files": {"files": ("a.csv", b"x\n1\n", "text/csv")}, "data": {"preset": "no-such-preset"}},
    ),
    Gated("GET", "/imports", "imports:read"),
    Gated("GET", "/imports/imp_missing", "imports:read"),
    Gated("GET", "/imports/imp_missing/rejects", "imports:run"),
    Gated("POST", "/demo/seed", "demo:seed", {"json": {}}),
    Gated("GET", "/demo/coverage", "demo:seed"),
    Gated("GET", "/ingest/dead-letters", "ingest:read_dead_letters"),
    Gated("POST", "/ingest/dead-letters/dl_missing/replay", "events:write_dead_letters", {"json": None}),
    Gated("GET", "/keys", "keys:manage"),
    Gated("GET", "/keys", "keys:manage", {"params": {"format": "csv"}}),
    Gated("POST", "/keys", "keys:manage", {"json": {"name": "m", "role": "viewer"}}),
    Gated("DELETE", "/keys/key_missing", "keys:manage"),
    Gated("GET", "/sources", "keys:manage"),
    Gated("DELETE", "/sources/src_missing", "keys:manage"),
    Gated("POST", "/sources/src_missing/rotate", "keys:manage", {"json": {"overlap_hours": 1}}),
    Gated("GET", "/modules", "modules:manage"),
    Gated("PUT", "/modules/mod_missing", "modules:manage", {"json": {"enabled": False}}),
    Gated("POST", "/sources", "keys:manage", {"json": {"name": "m", "channel": "nope"}}),
    Gated("GET", "/members", "members:manage"),
    Gated("GET", "/members", "members:manage", {"params": {"format": "xlsx"}}),
    Gated("POST", "/members", "members:manage", {"json": {"email": "nobody@x.test", "role": "viewer"}}),
    Gated("PUT", "/members/usr_missing/role", "members:manage", {"json": {"role": "viewer"}}),
    Gated("DELETE", "/members/usr_missing", "members:manage"),
    Gated("GET", "/invitations", "members:manage"),
    Gated("DELETE", "/invitations/inv_missing", "members:manage"),
    Gated("GET", "/mfa-policy", "members:manage"),
    Gated("PUT", "/mfa-policy", "members:manage", {"json": {"require_mfa": True}}),
    Gated("GET", "/audit", "audit:read"),
    Gated("GET", "/audit", "audit:read", {"params": {"format": "csv", "action": "x.*"}}),
    Gated("GET", "/audit/verify", "audit:read"),
    Gated(
        "GET", "/metrics", "orders:read", {"params": {"ids": "gmv", "from": "2026-11-01", "to": "2026-11-02"}}
    ),
    Gated("GET", "/metrics/catalogue", "orders:read"),
    Gated("GET", "/metrics/rollups", "orders:read"),
    Gated("POST", "/metrics/rollups/rebuild", "rollups:rebuild"),
    Gated("GET", "/funnel", "orders:read", {"params": {"from": "2026-11-01", "to": "2026-11-02"}}),
    Gated("GET", "/sessions/conversion", "orders:read", {"params": {"breakdown": "month"}}),
    Gated("GET", "/sessions/conversion", "orders:read", {"params": {"breakdown": "month", "format": "csv"}}),
    Gated("GET", "/audit/anchor", "audit:read"),
    Gated("GET", "/orders", "orders:read"),
    Gated("GET", "/orders", "orders:read", {"params": {"format": "csv", "channel": "web"}}),
    Gated("GET", "/orders", "orders:read", {"params": {"format": "xlsx"}}),
    Gated("GET", "/orders/ord_missing", "orders:read"),
    Gated("GET", "/products", "orders:read"),
    Gated("GET", "/products", "orders:read", {"params": {"format": "csv", "sort": "units"}}),
    Gated("GET", "/products/prd_missing", "orders:read"),
    Gated("GET", "/products/prd_missing/trend", "orders:read"),
    Gated("GET", "/fx-rates", "fx:read"),
    Gated("GET", "/fx-rates", "fx:read", {"params": {"format": "csv"}}),
    Gated(
        "POST",
        "/fx-rates",
        "fx:write",
        {"json": {"currency": "XX1", "valid_from": "2026-01-01", "rate": "1"}},
    ),
    Gated("DELETE", "/fx-rates", "fx:write", {"params": {"currency": "USD", "valid_from": "2001-01-01"}}),
    Gated("POST", "/fx-rates/import", "fx:write", {"json": {"csv": "currency,valid_from\n"}}),
    Gated("GET", "/live", "orders:read"),
    # max_seconds=1: an allowed role reads a one-second stream to its end instead of the default 300 s.
    Gated("GET", "/live/stream", "orders:read", {"params": {"max_seconds": 1}}),
    Gated("GET", "/customers", "customers:read"),
    Gated("GET", "/customers", "customers:read_pii", {"params": {"reveal": "true"}}),
    Gated("GET", "/customers", "customers:read", {"params": {"format": "csv", "sort": "spend"}}),
    Gated("GET", "/customers", "customers:read", {"params": {"format": "xlsx", "min_orders": 1}}),
    Gated("GET", "/customers", "customers:read_pii", {"params": {"q": "someone@example.com"}}),
    Gated("GET", "/customers", "customers:read_pii", {"params": {"q": "+86 138 0000 0000", "format": "csv"}}),
    Gated("GET", "/customers/cus_missing", "customers:read"),
    Gated("GET", "/customers/cus_missing", "customers:read_pii", {"params": {"reveal": "true"}}),
    Gated("GET", "/customers/cus_missing/consents", "customers:read"),
    Gated(
        "POST",
        "/customers/cus_missing/consents",
        "consents:write",
        {"json": {"purpose": "analytics", "granted": True}},
    ),
    Gated(
        "POST",
        "/privacy/requests",
        "customers:read_pii",
        {"json": {"kind": "export", "customer_id": "cus_missing"}},
    ),
    Gated(
        "POST",
        "/privacy/requests",
        "privacy:erase",
        {"json": {"kind": "erasure", "customer_id": "cus_missing"}},
    ),
    Gated("GET", "/privacy/requests", "customers:read_pii"),
    Gated("GET", "/privacy/requests/prq_missing", "customers:read_pii"),
    Gated("GET", "/privacy/requests/prq_missing/download", "customers:read_pii"),
    Gated("GET", "/privacy/retention", "privacy:retention"),
    Gated("PUT", "/privacy/retention", "privacy:retention", {"json": {}}),
    Gated("POST", "/privacy/retention/run", "privacy:retention"),
    Gated("GET", "/alerts", "alerts:read"),
    Gated("POST", "/alerts", "alerts:write", {"json": {"name": "m", "metric": "no_such", "threshold": 1}}),
    Gated("GET", "/alerts/events", "alerts:read"),
    Gated("GET", "/alerts/events", "alerts:read", {"params": {"format": "csv"}}),
    Gated("POST", "/alerts/run", "alerts:write", {"json": {"rule_ids": ["alr_missing"]}}),
    Gated("GET", "/alerts/alr_missing", "alerts:read"),
    Gated("PATCH", "/alerts/alr_missing", "alerts:write", {"json": {"enabled": False}}),
    Gated("DELETE", "/alerts/alr_missing", "alerts:write"),
    Gated("POST", "/alerts/alr_missing/test", "alerts:write"),
]
#: Tenant routes with no permission gate; anything else under /api/v1/t/ must be in GATED.
UNGATED: set[tuple[str, str]] = set()
TENANT_PREFIX = "/api/v1/t/{tenant}"


def _route_key(method: str, path: str) -> tuple[str, str]:
    return method, re.sub(r"\{[^}]+\}", "{}", path)


def test_every_tenant_route_is_in_the_gated_list(server: InProcServer) -> None:
    """A new route under /api/v1/t/ fails here until it is listed (and so tested cell by cell)."""
    known = {_route_key(g.method, TENANT_PREFIX + g.path.replace("imp_missing", "{id}")) for g in GATED}
    known = {
        (m, re.sub(r"(dl|cus|key|usr|prq|ord|prd|alr|mod|src|inv)_missing", "{}", p)) for m, p in known
    } | UNGATED
    routes = tenant_routes(server.app)
    assert len(routes) >= len(known) - len(UNGATED)  # the walk finds routes (it once found none)
    for method, path in routes:
        assert _route_key(method, path) in known, f"{method} {path} is not in GATED"


@pytest.fixture
def role_keys(server: InProcServer) -> dict[str, str]:
    engine, slug = server.state.engine, server.tenant.slug
    return {role: tenancy.create_api_key(engine, slug, role, f"matrix-{role}")[1] for role in ROLES}


def test_matrix_cell_by_cell(server: InProcServer, role_keys: dict[str, str]) -> None:
    # Hold the seed lock: an allowed seed answers 409 right after the gate instead of seeding.
    lock = threading.Lock()
    lock.acquire()
    server.state.services["demo_seed_lock"] = lock
    failures = []
    with httpx.Client(base_url=f"{server.url}/api/v1/t/{server.tenant.slug}", timeout=60) as client:
        for gated in GATED:
            for role in ROLES:
                response = client.request(
                    gated.method,
                    gated.path,
                    headers={"Authorization": f"Bearer {role_keys[role]}"},
                    **gated.kwargs,
                )
                expect_denied = not allowed(role, gated.permission)
                if (response.status_code == 403) != expect_denied:
                    failures.append(f"{gated.method} {gated.path} as {role}: {response.status_code}")
                if expect_denied:
                    assert response.json()["error"]["details"]["permission"] == gated.permission
                else:
                    assert response.status_code < 500, (gated, role, response.text)
    assert failures == []
