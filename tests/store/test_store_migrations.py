"""Alembic migrations on SQLite and PostgreSQL: they build the models' schema exactly, from empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from ecomops.platform.registry import registry
from ecomops.platform.store import migrate
from ecomops.platform.store.migrate import alembic_config, current_revision, head_revision, upgrade
from ecomops.platform.store.models import Base

PLATFORM_VERSIONS = Path(migrate.__file__).parent / "migrations" / "versions"


def model_tables() -> set[str]:
    """Every installed module's tables: loading the registry imports each module's models (read at
    collection time instead, the set held only what other test files happened to import first)."""
    registry()
    return set(Base.metadata.tables)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_reaches_head_and_creates_every_model_table(empty_store_engine: Engine) -> None:
    assert _tables(empty_store_engine) == set()
    assert current_revision(empty_store_engine) is None

    upgrade(empty_store_engine)

    assert current_revision(empty_store_engine) == head_revision(empty_store_engine)
    assert _tables(empty_store_engine) == model_tables()


def test_upgrade_twice_is_a_no_op(store_engine: Engine) -> None:
    before = current_revision(store_engine)
    upgrade(store_engine)
    assert current_revision(store_engine) == before == head_revision(store_engine)


def test_models_and_migrations_do_not_drift(store_engine: Engine) -> None:
    """What `alembic check` does: autogenerate against the migrated schema must find nothing to do."""
    with store_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == [], f"models and migrations differ; write a migration for: {diffs}"


def test_downgrade_to_base_and_back(store_engine: Engine) -> None:
    config = alembic_config(store_engine)
    command.downgrade(config, "base")
    assert _tables(store_engine) == set()
    assert current_revision(store_engine) is None
    command.upgrade(config, "heads")
    assert _tables(store_engine) == model_tables()


def test_alembic_version_table_lives_in_the_connection_schema(store_engine: Engine) -> None:
    """On PostgreSQL the whole store, Alembic's bookkeeping included, follows ``search_path``."""
    if store_engine.dialect.name != "postgresql":
        assert "alembic_version" in inspect(store_engine).get_table_names()
        return
    with store_engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        # Other test runs have their own schemas at the same time, so look only here and in public.
        placed = conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_name IN ('alembic_version', 'tenants', 'stock_levels') "
                "AND table_schema IN (:schema, 'public') ORDER BY table_name"
            ),
            {"schema": schema},
        ).all()
    assert schema.startswith("ecomops_test_")
    assert [tuple(row) for row in placed] == [
        (schema, "alembic_version"),
        (schema, "stock_levels"),
        (schema, "tenants"),
    ]


BRANCH = '''"""a module's first revision, for the test

Revision ID: probe_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "probe_0001"
down_revision = None
branch_labels = ("probe",)
depends_on = "{trunk}"


def upgrade() -> None:
    op.create_table("probe_items", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("probe_items")
'''


def test_a_module_branch_reads_as_current_and_its_absence_is_named(
    empty_store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module's branch depends on the trunk; Alembic then records only the branch's head. Without the
    module installed, the store is ahead of the code and says which revisions it does not know."""
    before = set(migrate.expected_heads(empty_store_engine))  # the core modules' own branches
    trunk = sorted(p.name.split("_")[0] for p in PLATFORM_VERSIONS.glob("0*.py"))[-1]
    versions = tmp_path / "probe_versions"
    versions.mkdir()
    (versions / "probe_0001.py").write_text(BRANCH.replace("{trunk}", trunk))
    platform_only = migrate.version_locations
    monkeypatch.setattr(migrate, "version_locations", lambda: [*platform_only(), versions])

    migrate.ensure_current(empty_store_engine)
    heads = before | {"probe_0001"}
    assert trunk not in heads and migrate.current_heads(empty_store_engine) == heads  # the trunk is implied
    assert migrate.is_current(empty_store_engine)
    assert (
        current_revision(empty_store_engine) == head_revision(empty_store_engine) == ",".join(sorted(heads))
    )

    monkeypatch.setattr(migrate, "version_locations", platform_only)
    with pytest.raises(migrate.UnknownRevisions) as info:
        migrate.ensure_current(empty_store_engine)
    assert info.value.details == {"unknown_revisions": ["probe_0001"]}
    assert "holds migrations this installation does not know: probe_0001." in info.value.message
