"""Optional modules switched per shop: a shop that switches ``live`` or ``alerts`` off gets 404 from every
route of theirs (after authentication), loses their navigation and is skipped by their jobs, while
another shop on the same server keeps them; core modules cannot be switched off; only owners and
admins may switch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from fastapi.routing import APIRoute
from typer.testing import CliRunner

from ecomops.alerts import service as alerts
from ecomops.audit import service as audit
from ecomops.cli import app as cli_app
from ecomops.platform.context import TenantInfo
from ecomops.platform.jobs import scheduler_of
from ecomops.platform.permissions import roles_with
from ecomops.platform.registry import registry
from ecomops.platform.roles import ROLES
from ecomops.security import accounts
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.security.routes import tenant_routes
from tests.timing import DEADLINE

OPTIONAL = ("live", "alerts")
ANALYST = "ana@shops.test"


@dataclass(frozen=True)
class Shops:
    server: InProcServer
    acme: TenantInfo
    outlet: TenantInfo
    #: Owner API keys by tenant slug.
    keys: dict[str, str]

    def api(self, slug: str, key: str | None = None) -> httpx.Client:
        token = self.keys[slug] if key is None else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.server.url}/api/v1/t/{slug}", headers=headers, timeout=60)


@pytest.fixture(autouse=True)
def _server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the server reads its settings: several sign-ins from one address, and alert passes
    only when a test ticks the schedule (an interval no test outlives)."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_AUTH_BURST", "1000")
    monkeypatch.setenv("ECOMOPS_ALERTS_INTERVAL_SECONDS", "86400")


@pytest.fixture
def shops(server: InProcServer) -> Iterator[Shops]:
    assert server.state.settings.alerts_interval_seconds == 86400
    engine = server.state.engine
    outlet = tenancy.create_tenant(engine, "outlet", "Outlet", "Asia/Shanghai", "CNY")
    keys = {
        t.slug: tenancy.create_api_key(engine, t.slug, "owner", "modules")[1] for t in (server.tenant, outlet)
    }
    add_member(engine, ANALYST, "analyst", "acme")
    accounts.add_member(engine, "outlet", ANALYST, "analyst")  # the same person in both shops
    yield Shops(server, server.tenant, outlet, keys)


def _switch(shops: Shops, slug: str, name: str, enabled: bool) -> None:
    with shops.api(slug) as client:
        response = client.put(f"/modules/{name}", json={"enabled": enabled})
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is enabled


def module_routes(name: str) -> list[tuple[str, str]]:
    """(METHOD, path) of every API route the module declares, as its routers hold them."""
    module = registry().by_name[name]
    return sorted(
        (method, route.path)
        for router in module.api
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


def page_routes(name: str) -> list[str]:
    module = registry().by_name[name]
    return sorted(
        route.path for router in module.pages for route in router.routes if isinstance(route, APIRoute)
    )


def _fill(path: str, slug: str) -> str:
    """A concrete URL: the shop's slug, and an id no row has for every other parameter."""
    return re.sub(r"\{[^}]+\}", "x_missing", path.replace("{tenant}", slug).replace("{slug}", slug))


def _request(client: httpx.Client, method: str, path: str) -> httpx.Response:
    # max_seconds=1: a live stream the shop may read ends at once instead of after 300 s.
    body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    return client.request(method, path, params={"max_seconds": 1}, **body)  # type: ignore[arg-type]


def test_the_walk_covers_every_mounted_route_of_the_optional_modules(server: InProcServer) -> None:
    mounted = set(tenant_routes(server.app))
    for name in OPTIONAL:
        routes = module_routes(name)
        assert routes, f"found no API routes of {name}: the walk is broken"
        assert set(routes) <= mounted
        assert page_routes(name), f"found no pages of {name}"


def test_switched_off_routes_answer_404_for_that_shop_only(shops: Shops) -> None:
    for name in OPTIONAL:
        _switch(shops, "acme", name, False)
    prefix = "/api/v1/t/{tenant}"
    with shops.api("acme") as acme, shops.api("outlet") as outlet:
        for name in OPTIONAL:
            for method, path in module_routes(name):
                off = _request(acme, method, _fill(path.removeprefix(prefix), "acme"))
                assert off.status_code == 404, (method, path, off.text)
                assert off.json()["error"] == {
                    "code": "module_disabled",
                    "message": f"the {name} module is switched off for this shop",
                    "details": {"module": name},
                }
                on = _request(outlet, method, _fill(path.removeprefix(prefix), "outlet"))
                assert on.status_code < 500, (method, path, on.text)
                assert "module_disabled" not in on.text, (method, path)
        # The modules' own switches stay reachable: the shop can turn them back on.
        assert acme.get("/modules").status_code == 200


def test_a_stranger_learns_nothing_about_a_shops_modules(shops: Shops) -> None:
    """The module check runs after authentication: no key is 401, another shop's key 404 like any shop."""
    _switch(shops, "acme", "alerts", False)
    prefix = "/api/v1/t/{tenant}"
    with shops.api("acme", key="") as anonymous, shops.api("acme", key=shops.keys["outlet"]) as other:
        for method, path in module_routes("alerts"):
            url = _fill(path.removeprefix(prefix), "acme")
            assert _request(anonymous, method, url).status_code == 401, (method, path)
            foreign = _request(other, method, url)
            assert foreign.status_code == 404 and foreign.json()["error"]["code"] != "module_disabled"


def test_pages_and_navigation_follow_the_switch(shops: Shops) -> None:
    for name in OPTIONAL:
        _switch(shops, "acme", name, False)
    with signed_in(shops.server, ANALYST) as (client, _csrf):
        home = client.get("/t/acme/")
        assert home.status_code == 200
        other_home = client.get("/t/outlet/")
        for name in OPTIONAL:
            key = registry().by_name[name].nav[0].key
            assert f'data-nav="{key}"' not in home.text
            assert f'data-nav="{key}"' in other_home.text
            for path in page_routes(name):
                off = client.get(_fill(path, "acme"))
                assert off.status_code == 404
                assert f"The {name} module is switched off for this shop." in off.text
                assert client.get(_fill(path, "outlet")).status_code == 200
    _switch(shops, "acme", "live", True)
    with signed_in(shops.server, ANALYST) as (client, _csrf):
        assert 'data-nav="live"' in client.get("/t/acme/").text
        assert client.get("/t/acme/live").status_code == 200


def test_the_alerts_job_skips_a_shop_that_switched_alerts_off(shops: Shops) -> None:
    state = shops.server.state
    for tenant in (shops.acme, shops.outlet):
        alerts.create_rule(
            state.engine,
            state.settings,
            tenant.id,
            alerts.RuleSpec(name="floor", metric="gmv", threshold=Decimal(1)),
        )
    _switch(shops, "acme", "alerts", False)
    scheduler = scheduler_of(state)
    schedule = scheduler.schedule("alerts.evaluate")
    before = scheduler.stats["alerts.evaluate"]
    runs, skipped, passes = before.tenant_runs, before.skipped_disabled, schedule.passes
    schedule.tick()
    assert schedule.wait_for_passes(passes + 1, DEADLINE), "the pass never finished"
    stats = scheduler.stats["alerts.evaluate"]
    assert (stats.tenant_runs - runs, stats.skipped_disabled - skipped) == (1, 1)
    [acme_rule] = alerts.list_rules(state.engine, shops.acme.id)
    [outlet_rule] = alerts.list_rules(state.engine, shops.outlet.id)
    assert acme_rule.last_evaluated_at is None
    assert outlet_rule.last_evaluated_at is not None


def test_core_modules_cannot_be_switched_off(shops: Shops) -> None:
    with shops.api("acme") as client:
        refused = client.put("/modules/orders", json={"enabled": False})
        assert refused.status_code == 422
        assert refused.json()["error"] == {
            "code": "validation_failed",
            "message": "module 'orders' is part of the core and cannot be switched off",
            "details": {"module": "orders", "optional": False},
        }
        unknown = client.put("/modules/payments", json={"enabled": False})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["message"] == "no module named 'payments' is installed"
        listed = {m["name"]: m for m in client.get("/modules").json()}
    assert set(listed) == {m.name for m in registry().modules}
    assert listed["orders"]["optional"] is False and listed["orders"]["enabled"] is True
    assert listed["alerts"]["optional"] is True and listed["alerts"]["chosen"] is False
    result = CliRunner().invoke(cli_app, ["module", "disable", "ingest", "--tenant", "acme"])
    assert result.exit_code == 1
    assert "(422 validation_failed)" in " ".join(result.output.split())


def test_only_owners_and_admins_switch_modules_and_every_switch_is_audited(shops: Shops) -> None:
    assert roles_with("modules:manage") == {"owner", "admin"}
    engine = shops.server.state.engine
    switched_by = []
    for role in ROLES:
        info, key = tenancy.create_api_key(engine, "acme", role, f"switch-{role}")
        if role in {"owner", "admin"}:
            switched_by.append(f"api_key:{info.id}")
        with shops.api("acme", key=key) as client:
            response = client.put("/modules/live", json={"enabled": False})
            if role in {"owner", "admin"}:
                assert response.status_code == 200, (role, response.text)
                assert client.put("/modules/live", json={"enabled": True}).status_code == 200
            else:
                assert response.status_code == 403, role
                assert response.json()["error"]["details"]["permission"] == "modules:manage"
    entries = audit.export(engine, shops.acme.id, action="module.*")
    assert [(e["action"], e["target_id"]) for e in entries] == [
        ("module.disable", "live"),
        ("module.enable", "live"),
    ] * 2
    assert [e["actor"] for e in entries] == [switched_by[0]] * 2 + [switched_by[1]] * 2
    # A repeated switch changes nothing and records nothing.
    _switch(shops, "acme", "live", True)
    assert len(audit.export(engine, shops.acme.id, action="module.*")) == 4


def test_the_console_page_shows_core_modules_as_core(shops: Shops) -> None:
    owner = "olga@shops.test"
    add_member(shops.server.state.engine, owner, "owner", "acme")
    _switch(shops, "acme", "alerts", False)
    with signed_in(shops.server, owner) as (client, _csrf):
        page = client.get("/t/acme/settings/modules")
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-module="([a-z_]+)">(.*?)</tr>', page.text, re.S))
    assert set(rows) == {m.name for m in registry().modules}
    for module in registry().modules:
        row = rows[module.name]
        if not module.optional:
            assert ">core</span>" in row and "<form" not in row, module.name
        elif module.name == "alerts":
            assert ">off</span>" in row and "Switch on" in row
        else:
            assert ">on</span>" in row and "Switch off" in row
