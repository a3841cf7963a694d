"""The example third-party module, installed the way a real install does it, end to end.

``examples/ecomops-hello`` goes into a temporary site folder with its dist-info (``install.py``); only
the server and CLI subprocesses get it on their ``PYTHONPATH``, so this test process runs ecomops
without it, exactly like a machine where the distribution is not installed. Everything the module
declares is checked through what ecomops assembles from the declaration: its Alembic branch and
warehouse SQL applied, its API with keys and permissions, its permission rows, its console page and
nav entry, its CLI group, its facts listener and its job; then one shop switches it off and on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from ecomops.platform import permissions, tenants
from ecomops.platform.settings import get_settings
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import current_heads, upgrade
from ecomops.platform.store.rls import POLICY, tables_without_rls
from ecomops.platform.warehouse.connection import warehouse_path
from ecomops.security import accounts
from ecomops.tenancy import service as tenancy
from tests.backends import pg_schema_url
from tests.conftest import LiveServer, start_server
from tests.console.conftest import PASSWORD, signed_in
from tests.examples.install import ecomops, environment, install, python
from tests.timing import wait_until

__all__ = ["pg_schema_url"]

#: One worker runs the module: one server with the example installed serves its tests in order.
pytestmark = pytest.mark.xdist_group("hello-example")

MEMBER = "otto@acme.test"
PREFIX = "/api/v1/t/{tenant}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory.mktemp("site"))


@dataclass
class Hello:
    server: LiveServer
    engine: Engine
    env: dict[str, str]
    #: API keys by (tenant slug, role).
    keys: dict[tuple[str, str], str]
    write_keys: dict[str, str]
    tenant_ids: dict[str, str]

    def api(self, slug: str, role: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[slug, role]}"} if role else {}
        return httpx.Client(base_url=f"{self.server.url}/api/v1/t/{slug}", headers=headers, timeout=60)

    def cli(self, *args: str) -> Any:
        return ecomops(self.env, *args)


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory, site: Path) -> Iterator[Hello]:
    """Two shops (acme, outlet) made by this process, then a server with the example installed."""
    data_dir = tmp_path_factory.mktemp("hello") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMOPS_DATA_DIR", str(data_dir))
        mp.delenv("ECOMOPS_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        engine = make_engine(get_settings().resolved_database_url)
        upgrade(engine)  # the platform's revisions only: this process does not have the example
        keys: dict[tuple[str, str], str] = {}
        write_keys, tenant_ids = {}, {}
        for slug in ("acme", "outlet"):
            tenant_ids[slug] = tenancy.create_tenant(engine, slug, slug.title(), "UTC", "USD").id
            write_keys[slug] = tenancy.create_source(engine, slug, "site", "web")[1]
            for role in ("admin", "operator", "viewer"):
                keys[slug, role] = tenancy.create_api_key(engine, slug, role, f"hello-{role}")[1]
        accounts.create_user(engine, MEMBER, PASSWORD)
        for slug in ("acme", "outlet"):
            accounts.add_member(engine, slug, MEMBER, "operator")
        # A switch made by the CLI reaches the server's next request (no cached choice).
        env = environment(
            data_dir, site, ECOMOPS_API_KEY_CACHE_SECONDS="0", ECOMOPS_RATELIMIT_AUTH_BURST="1000"
        )
        server = start_server(data_dir, extra_env=env)
        try:
            yield Hello(server, engine, env, keys, write_keys, tenant_ids)
        finally:
            server.stop()
            engine.dispose()
            get_settings.cache_clear()


def hello_routes(server: LiveServer) -> list[tuple[str, str]]:
    """(METHOD, path) of the example's API routes, as the running server publishes them."""
    paths = httpx.get(server.url + "/openapi.json", timeout=30).json()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(PREFIX + "/hello")
        for method in operations
    )


def _url(path: str) -> str:
    return path.removeprefix(PREFIX).replace("{note_id}", "hn_missing")


def test_its_store_branch_and_warehouse_migration_are_applied(hello: Hello) -> None:
    # The store: the example's branch is applied (its head implies the platform revision it depends
    # on), the server reads the store as current, and the table is there.
    assert "hello_0001" in current_heads(hello.engine)
    store = httpx.get(hello.server.url + "/readyz", timeout=30).json()["checks"]["store"]
    assert store["ok"] and store["revision"] == store["head"] and "hello_0001" in store["revision"].split(",")
    assert "hello_notes" in inspect(hello.engine).get_table_names()
    # The warehouse: the example's own numbered SQL, recorded under its name.
    with hello.api("acme", "viewer") as client:
        assert client.get("/hello/daily").status_code == 200  # the server opened (and migrated) the file
    found = hello.cli(
        "query",
        "--tenant",
        "acme",
        "--format",
        "json",
        "SELECT module, version, name FROM _module_migrations WHERE module = 'hello'",
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["rows"] == [["hello", 1, "daily_orders"]]


def test_notes_through_the_api_with_permissions_and_audit(hello: Hello) -> None:
    with hello.api("acme", "operator") as operator, hello.api("acme", "viewer") as viewer:
        created = operator.post("/hello/notes", json={"body": "  Restock the red mugs  "})
        assert created.status_code == 201, created.text
        note = created.json()
        assert note["body"] == "Restock the red mugs" and note["created_by"].startswith("api_key:")
        denied = viewer.post("/hello/notes", json={"body": "no"})
        assert denied.status_code == 403
        assert denied.json()["error"]["details"] == {"role": "viewer", "permission": "hello:write"}
        assert note["id"] in [n["id"] for n in viewer.get("/hello/notes").json()]
        for bad in ({"body": ""}, {"body": "x" * 501}, {"body": 5}, {"body": "ok", "pinned": True}):
            assert operator.post("/hello/notes", json=bad).status_code == 422, bad
        assert operator.post("/hello/notes", json={"body": "   "}).json()["error"]["message"] == (
            "a note needs some text"
        )
        with hello.api("outlet", "operator") as outlet:
            assert note["id"] not in [n["id"] for n in outlet.get("/hello/notes").json()]
            assert outlet.delete(f"/hello/notes/{note['id']}").status_code == 404
        assert operator.delete(f"/hello/notes/{note['id']}").status_code == 204
        assert operator.delete(f"/hello/notes/{note['id']}").status_code == 404
    with hello.api("acme", "admin") as admin:
        audited = admin.get("/audit", params={"action": "hello.*"}).json()
    mine = [(r["action"], r["target_id"]) for r in audited if r["target_id"] == note["id"]]
    assert sorted(mine) == [("hello.note_add", note["id"]), ("hello.note_delete", note["id"])]


def test_its_permissions_join_the_matrix(hello: Hello) -> None:
    matrix = python(hello.env, "-m", "ecomops.platform.permissions")
    assert matrix.returncode == 0, matrix.stderr
    assert (
        "| `hello:read` | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | read the shop's notes and its orders per day |"
        in matrix.stdout
    )
    assert "| `hello:write` | ✓ | ✓ | – | ✓ | ✓ | – | add and delete the shop's notes |" in matrix.stdout
    assert "hello:" not in permissions.markdown_table()  # this process has not installed the example
    table = python(hello.env, "-m", "ecomops.platform.registry")
    assert (
        "| **Hello** (`hello`, optional) | Example module: a shop's notes and its orders per day "
        "(docs/modules.md). | `ecomops hello` | [docs/modules.md](docs/modules.md) |"
    ) in table.stdout


def test_its_page_and_nav_entry_for_a_signed_in_member(hello: Hello) -> None:
    with hello.api("acme", "operator") as operator:
        operator.post("/hello/notes", json={"body": "Window display on Friday"}).raise_for_status()
    with signed_in(hello.server, MEMBER) as (client, _csrf):
        page = client.get("/t/acme/hello")
        assert page.status_code == 200, page.text
        assert "<h1>Hello</h1>" in page.text
        assert "Window display on Friday" in page.text
        assert 'id="hello-form"' in page.text  # operators hold hello:write
        assert re.search(
            r'<a [^>]*href="/t/acme/hello"[^>]*aria-current="page"[^>]*data-nav="hello"', page.text
        )
        home = client.get("/t/acme/")
        assert re.search(r'<a [^>]*href="/t/acme/hello"[^>]*data-nav="hello"', home.text)


def test_its_cli_group(hello: Hello) -> None:
    added = hello.cli("hello", "add", "Call the courier", "--tenant", "outlet", "--json")
    assert added.returncode == 0, added.stderr
    note = json.loads(added.stdout)
    assert note["body"] == "Call the courier" and note["created_by"] == "local-cli"  # through the server
    listed = hello.cli("hello", "notes", "--tenant", "outlet", "--json")
    with hello.api("outlet", "viewer") as viewer:
        assert json.loads(listed.stdout) == viewer.get("/hello/notes").json()  # what the API answers
        assert [n["id"] for n in json.loads(listed.stdout)] == [note["id"]]
        blank = hello.cli("hello", "add", " ", "--tenant", "outlet")
        assert blank.returncode == 1 and "a note needs some text (422 validation_failed)" in blank.stderr
        assert hello.cli("hello", "delete", note["id"], "--tenant", "outlet").returncode == 0
        assert viewer.get("/hello/notes").json() == []


def _order(message_id: str, order_id: str, at: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "c1",
        "messageId": message_id,
        "timestamp": at,
        "properties": {"order_id": order_id, "revenue": "19.90", "currency": "USD"},
    }


def _daily(hello: Hello, slug: str, days: set[str]) -> dict[str, int]:
    with hello.api(slug, "viewer") as client:
        return {d["day"]: d["orders"] for d in client.get("/hello/daily").json() if d["day"] in days}


def test_its_facts_listener_counts_ingested_orders(hello: Hello) -> None:
    batch = [
        _order("m-1", "o-1", "2026-10-01T09:00:00Z"),
        _order("m-2", "o-2", "2026-10-01T23:30:00Z"),
        _order("m-3", "o-3", "2026-10-02T00:10:00Z"),
    ]
    sent = httpx.post(
        hello.server.url + "/v1/batch", json={"batch": batch}, auth=(hello.write_keys["acme"], ""), timeout=30
    )
    assert sent.status_code == 200 and sent.json()["accepted"] == 3
    days = {"2026-10-01", "2026-10-02"}
    expected = {"2026-10-01": 2, "2026-10-02": 1}
    wait_until(lambda: _daily(hello, "acme", days) == expected, "the loaded orders to be counted")
    assert _daily(hello, "outlet", days) == {}
    cli = json.loads(hello.cli("hello", "daily", "--tenant", "acme", "--json", "--days", "366").stdout)
    assert {d["day"]: d["orders"] for d in cli if d["day"] in days} == expected


def test_switched_off_for_one_shop_and_on_again(hello: Hello) -> None:
    routes = hello_routes(hello.server)
    assert {path for _method, path in routes} == {
        PREFIX + "/hello/notes",
        PREFIX + "/hello/notes/{note_id}",
        PREFIX + "/hello/daily",
    }
    off = hello.cli("module", "disable", "hello", "--tenant", "acme")
    assert off.returncode == 0, off.stderr
    try:
        with (
            hello.api("acme", "operator") as acme,
            hello.api("outlet", "operator") as outlet,
            hello.api("acme", None) as anonymous,
        ):
            for method, path in routes:
                body = {"json": {"body": "x"}} if method == "POST" else {}
                refused = acme.request(method, _url(path), **body)  # type: ignore[arg-type]
                assert refused.status_code == 404, (method, path)
                assert refused.json()["error"]["code"] == "module_disabled"
                assert anonymous.request(method, _url(path), **body).status_code == 401  # type: ignore[arg-type]
                served = outlet.request(method, _url(path), **body)  # type: ignore[arg-type]
                assert served.status_code in {200, 201, 404} and "module_disabled" not in served.text
        with signed_in(hello.server, MEMBER) as (client, _csrf):
            page = client.get("/t/acme/hello")
            assert page.status_code == 404 and "The hello module is switched off for this shop." in page.text
            assert 'data-nav="hello"' not in client.get("/t/acme/").text
            assert 'data-nav="hello"' in client.get("/t/outlet/").text
            assert client.get("/t/outlet/hello").status_code == 200
        refused_cli = hello.cli("hello", "notes", "--tenant", "acme")
        assert refused_cli.returncode == 1
        assert "the hello module is switched off for this shop (404 module_disabled)" in refused_cli.stderr
        states = {
            m["name"]: m for m in json.loads(hello.cli("module", "list", "--tenant", "acme", "--json").stdout)
        }
        assert (states["hello"]["optional"], states["hello"]["enabled"], states["hello"]["chosen"]) == (
            True,
            False,
            True,
        )
    finally:
        on = hello.cli("module", "enable", "hello", "--tenant", "acme")
    assert on.returncode == 0, on.stderr
    with hello.api("acme", "viewer") as viewer:
        assert viewer.get("/hello/notes").status_code == 200
    with signed_in(hello.server, MEMBER) as (client, _csrf):
        assert 'data-nav="hello"' in client.get("/t/acme/").text
    with hello.api("acme", "admin") as admin:
        switched = admin.get("/audit", params={"action": "module.*"}).json()
    assert [(r["action"], r["target_id"], r["actor"].split(":")[0]) for r in reversed(switched)] == [
        ("module.disable", "hello", "cli"),
        ("module.enable", "hello", "cli"),
    ]
    with hello.api("outlet", "admin") as admin:
        assert admin.get("/audit", params={"action": "module.*"}).json() == []


# --- without a server: the job, removing the module, PostgreSQL ---------------------------------------


def _warehouse(data_dir: Path, tenant_id: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse_path(data_dir / "warehouse", tenant_id)))
    con.execute("SET TimeZone = 'UTC'")
    return con


def _shops(env: dict[str, str], store_url: str) -> dict[str, str]:
    """Two shops made by ``ecomops tenant create`` (which also makes their warehouse files): slug -> id."""
    for slug in ("acme", "outlet"):
        made = ecomops(env, "tenant", "create", slug)
        assert made.returncode == 0, made.stderr
    engine = make_engine(store_url)  # no upgrade: this process does not know the example's revision
    try:
        return {slug: tenants.get_tenant(engine, slug).id for slug in ("acme", "outlet")}
    finally:
        engine.dispose()


def test_its_job_recounts_each_shop_and_skips_one_that_switched_it_off(tmp_path: Path, site: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir, site)
    ids = _shops(env, f"sqlite:///{data_dir / 'ecomops.sqlite3'}")  # the files get the example's table
    for tenant_id in ids.values():
        # Orders written behind the listener's back, and a stale count: what the recount repairs.
        with _warehouse(data_dir, tenant_id) as con:
            con.executemany(
                "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total) "
                "VALUES (?, 'paid', ?, 'USD', 1, 1)",
                [
                    ("a", "2026-09-01 10:00:00+00"),
                    ("b", "2026-09-01 22:00:00+00"),
                    ("c", "2026-09-03 01:00:00+00"),
                ],
            )
            con.execute("INSERT INTO hello_daily_orders VALUES ('2026-08-31', 7)")
    assert ecomops(env, "module", "disable", "hello", "--tenant", "outlet").returncode == 0
    ran = python(env, "-m", "tests.examples.jobpass", "hello.recount")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["results"] == {ids["acme"]: {"days": 2}}
    assert report["stats"]["tenant_runs"] == 1 and report["stats"]["skipped_disabled"] == 1
    assert report["stats"]["module"] == "hello" and report["stats"]["tenant_failures"] == 0
    counted = {}
    for slug, tenant_id in ids.items():
        with _warehouse(data_dir, tenant_id) as con:
            counted[slug] = con.execute(
                "SELECT CAST(day AS VARCHAR), orders FROM hello_daily_orders ORDER BY day"
            ).fetchall()
    assert counted == {"acme": [("2026-09-01", 2), ("2026-09-03", 1)], "outlet": [("2026-08-31", 7)]}


DOWNGRADE = (
    "from alembic import command\n"
    "from ecomops.platform.commandline import engine\n"
    "from ecomops.platform.store.migrate import alembic_config\n"
    "command.downgrade(alembic_config(engine()), 'hello@base')\n"
)


def test_removing_it_needs_its_branch_downgraded_first(tmp_path: Path, site: Path) -> None:
    data_dir = tmp_path / "data"
    with_hello, without = environment(data_dir, site), environment(data_dir, None)
    assert ecomops(with_hello, "tenant", "create", "acme").returncode == 0  # applies the example's branch
    refused = ecomops(without, "tenant", "list")
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert "the operational store holds migrations this installation does not know: hello_0001." in message
    assert "(409 store_has_unknown_revisions)" in message
    downgraded = python(with_hello, "-c", DOWNGRADE)  # the snippet in docs/modules.md, "Removing a module"
    assert downgraded.returncode == 0, downgraded.stderr
    listed = ecomops(without, "tenant", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    engine = make_engine(f"sqlite:///{data_dir / 'ecomops.sqlite3'}")
    try:
        assert "hello_notes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_its_table_is_under_row_level_security(
    tmp_path: Path, site: Path, pg_schema_url: str
) -> None:
    engine = make_engine(pg_schema_url)
    try:
        upgrade(engine)  # the platform's revisions, then shops, made by this process
        ids = {slug: tenancy.create_tenant(engine, slug).id for slug in ("acme", "outlet")}
        env = environment(tmp_path / "data", site, ECOMOPS_DATABASE_URL=pg_schema_url)
        applied = ecomops(env, "module", "list", "--tenant", "acme")  # a process with the example migrates
        assert applied.returncode == 0, applied.stderr
        with engine.connect() as conn:
            assert tables_without_rls(conn) == []
            flags = conn.execute(
                text(
                    "SELECT c.relrowsecurity, c.relforcerowsecurity, p.polname FROM pg_class c "
                    "JOIN pg_policy p ON p.polrelid = c.oid WHERE c.relname = 'hello_notes' "
                    "AND c.relnamespace = current_schema()::regnamespace"
                )
            ).one()
        assert tuple(flags) == (True, True, POLICY)
        insert = text(
            "INSERT INTO hello_notes (id, tenant_id, body, created_by, created_at) "
            "VALUES (:id, :tenant, 'note', 'test', now())"
        )
        for n, slug in enumerate(("acme", "acme", "outlet")):
            with engine.begin() as conn:
                conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": ids[slug]})
                conn.execute(insert, {"id": f"hn_{n}", "tenant": ids[slug]})
        # The policy's WITH CHECK: a transaction of acme cannot write a row of outlet.
        with pytest.raises(DBAPIError, match="row-level security"), engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": ids["acme"]})
            conn.execute(insert, {"id": "hn_x", "tenant": ids["outlet"]})
        seen = {}
        for slug, tenant_id in ids.items():
            with engine.begin() as conn:
                conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
                seen[slug] = conn.execute(text("SELECT count(*) FROM hello_notes")).scalar_one()
        with engine.begin() as conn:
            hidden = conn.execute(text("SELECT count(*) FROM hello_notes")).scalar_one()
        assert seen == {"acme": 2, "outlet": 1} and hidden == 0  # no tenant set: the policy hides every row
    finally:
        engine.dispose()
