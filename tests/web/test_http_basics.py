"""Health probes, offline API docs, the home page and the single JSON error shape."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from ecomops.security import accounts
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE


def test_health_and_readiness(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["store"]["ok"] is True
        assert ready.json()["checks"]["ingest"] == {"ok": True}


def test_api_docs_work_offline(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        html = c.get("/docs").text
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
        assert "cdn." not in html
        js = c.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 500_000
        assert c.get("/static/vendor/swagger-ui/swagger-ui.css").status_code == 200
        spec = c.get("/openapi.json").json()
        assert {"/v1/batch", "/v1/track", "/healthz", "/readyz"} <= set(spec["paths"])
        assert set(spec["paths"]["/v1/batch"]["post"]["responses"]) >= {"200", "400", "401", "413", "429"}
        schemes = spec["components"]["securitySchemes"]
        assert schemes["writeKeyBasic"] == {
            "type": "http",
            "scheme": "basic",
            "description": schemes["writeKeyBasic"]["description"],
        }
        assert spec["paths"]["/api/v1/t/{tenant}/query"]["post"]["security"] == [{"apiKey": []}]


def test_home_needs_sign_in_and_lists_only_the_users_tenants(server: InProcServer, engine: Engine) -> None:
    tenancy.create_tenant(engine, "rival", "Rival Shop", "UTC", "USD")
    accounts.create_user(engine, "ana@acme.test", "correct horse battery staple")
    accounts.add_member(engine, "acme", "ana@acme.test", "analyst")
    with server.client() as c:
        c.post("/v1/track", json={"event": "A", "userId": "u", "messageId": "m1"})
    server.query("SELECT 1")  # load what was acknowledged
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        anonymous = c.get("/")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
        login = c.post(
            "/auth/login", json={"email": "ana@acme.test", "password": "correct horse battery staple"}
        )
        assert login.status_code == 200
        entry = c.get("/")
        assert entry.status_code == 303 and entry.headers["location"] == "/t/acme/"  # the first shop
        page = c.get("/t/acme/").text
        assert c.get("/t/rival/").status_code == 404  # not a member: indistinguishable from no shop
    assert "Acme Shop" in page and "Asia/Shanghai" in page and "Analyst" in page
    assert "Rival Shop" not in page  # the tenant switcher lists only the user's shops
    assert "<div><dt>events</dt><dd>1</dd></div>" in page  # the overview's "data in this shop" panel


def test_errors_share_one_shape(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        missing = c.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json() == {"error": {"code": "not_found", "message": "Not Found", "details": None}}
        wrong_method = c.get("/v1/batch")
        assert (
            wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
        )
        bad_query = c.get(
            "/api/v1/t/acme/ingest/dead-letters",
            params={"limit": "many"},
            headers={"Authorization": f"Bearer {server.state.control_token}"},
        )
        assert bad_query.status_code == 422
        error = bad_query.json()["error"]
        assert error["code"] == "validation_failed"
        assert error["details"][0]["loc"] == ["query", "limit"]


def test_security_headers_on_every_response(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        for path in ("/", "/healthz", "/openapi.json", "/no/such/page"):
            r = c.get(path)
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "script-src" not in r.headers["content-security-policy"]  # scripts: 'self' only
            assert "strict-transport-security" not in r.headers  # plain http: no HSTS
        assert "script-src 'self' 'unsafe-inline'" in c.get("/docs").headers["content-security-policy"]
        tls = c.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert tls.headers["strict-transport-security"].startswith("max-age=")
    with server.client() as c:
        r = c.post("/v1/track", json={"event": "A", "userId": "u", "messageId": "h1"})
        assert r.headers["x-content-type-options"] == "nosniff"
