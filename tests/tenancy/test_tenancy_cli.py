"""``ecomops tenant|source|apikey`` through Typer's test runner, on SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from ecomops.cli import app
from ecomops.platform import tenants
from ecomops.platform.settings import get_settings
from ecomops.platform.warehouse.connection import warehouse_path
from ecomops.tenancy import service


@pytest.fixture
def cli(store_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands use this test's store (the env var a deployment would set)."""
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, list(args), catch_exceptions=False)


def _flat(text: str) -> str:
    """Rich wraps long lines at the runner's 80 columns; compare text with whitespace collapsed."""
    return " ".join(text.split())


def test_tenant_create_and_list(cli: CliRunner, engine: Engine, data_dir: Path) -> None:
    result = run(
        cli,
        "tenant",
        "create",
        "acme",
        "--name",
        "Acme 商店",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "cny",
    )
    assert result.exit_code == 0, result.output
    assert "created tenant acme (Asia/Shanghai, CNY)" in _flat(result.stdout)
    tenant = tenants.get_tenant(engine, "acme")
    assert warehouse_path(data_dir / "warehouse", tenant.id).exists()

    result = run(cli, "tenant", "create", "globex", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert (created["slug"], created["timezone"], created["currency"], created["created"]) == (
        "globex",
        "UTC",
        "USD",
        True,
    )

    listed = json.loads(run(cli, "tenant", "list", "--json").stdout)
    assert [(t["slug"], t["name"]) for t in listed] == [("acme", "Acme 商店"), ("globex", "globex")]
    table = run(cli, "tenant", "list")
    assert table.exit_code == 0 and "Acme 商店" in table.stdout and "Asia/Shanghai" in table.stdout


def test_tenant_create_if_not_exists(cli: CliRunner, engine: Engine) -> None:
    assert run(cli, "tenant", "create", "demo", "--timezone", "Asia/Shanghai").exit_code == 0

    again = run(cli, "tenant", "create", "demo", "--timezone", "Europe/Paris", "--if-not-exists")
    assert again.exit_code == 0, again.output
    assert "already exists" in _flat(again.stdout) and "left unchanged" in _flat(again.stdout)
    assert tenants.get_tenant(engine, "demo").timezone == "Asia/Shanghai"  # not overwritten

    as_json = json.loads(run(cli, "tenant", "create", "demo", "--if-not-exists", "--json").stdout)
    assert (as_json["slug"], as_json["created"]) == ("demo", False)

    without = run(cli, "tenant", "create", "demo")
    assert without.exit_code == 1
    assert "tenant 'demo' already exists" in without.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "create", "Bad Slug"], "tenant slug 'Bad Slug' must be 2-63 lowercase letters"),
        (["tenant", "create", "ok", "--timezone", "Mars/Base"], "unknown IANA time zone 'Mars/Base'"),
        (["tenant", "create", "ok", "--currency", "EURO"], "currency must be a 3-letter ISO 4217 code"),
        (["source", "create", "tv", "--tenant", "acme", "--channel", "tv"], "channel must be one of web,"),
        (["apikey", "create", "--tenant", "acme", "--role", "god"], "role must be one of owner, admin,"),
        (["apikey", "create", "--tenant", "acme", "--expires", "soon"], "duration must look like 30d"),
        (["source", "create", "site", "--tenant", "ghost"], "tenant 'ghost' not found"),
    ],
)
def test_bad_input_gives_one_clear_error(cli: CliRunner, args: list[str], message: str) -> None:
    assert run(cli, "tenant", "create", "acme").exit_code == 0
    result = run(cli, *args)
    assert result.exit_code == 1
    assert message in _flat(result.stderr)
    assert "Traceback" not in result.output


def test_source_create_json_shows_the_write_key_once(cli: CliRunner, engine: Engine) -> None:
    run(cli, "tenant", "create", "acme")
    result = run(
        cli, "source", "create", "mini-program", "--tenant", "acme", "--channel", "wechat_mini", "--json"
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    key = created["write_key"]
    assert key.startswith("wk_") and created["channel"] == "wechat_mini"
    assert service.source_for_write_key(engine, key) is not None

    listing = run(cli, "source", "list", "--tenant", "acme")
    assert listing.exit_code == 0
    assert created["write_key_prefix"] in listing.stdout and key not in listing.stdout

    duplicate = run(cli, "source", "create", "mini-program", "--tenant", "acme")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr


def test_apikey_create(cli: CliRunner, engine: Engine) -> None:
    run(cli, "tenant", "create", "acme")
    result = run(
        cli,
        "apikey",
        "create",
        "--tenant",
        "acme",
        "--role",
        "marketer",
        "--name",
        "crm",
        "--expires",
        "30d",
        "--json",
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["key"].startswith("eco_live_") and created["role"] == "marketer"
    assert created["expires_at"] is not None
    resolved = service.api_key_for_secret(engine, created["key"])
    assert resolved is not None and resolved.name == "crm"

    plain = run(cli, "apikey", "create", "--tenant", "acme")
    assert plain.exit_code == 0 and "shown once" in plain.stdout
