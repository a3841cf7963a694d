"""Alembic driven from code, so the CLI, the server start-up and tests migrate the same way.

The platform's history (``migrations/versions``) is the trunk; a module with tables of its own adds
its versions folder (``Module.store_migrations``) as a branch labelled with the module's name whose
first revision ``depends_on`` the trunk revision it needs. Upgrading goes to every head, so the
store is current when each branch is at its head.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ecomops.platform.registry import registry

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def version_locations() -> list[Path]:
    """The trunk's versions folder, then each installed module's, in module order."""
    extra = [m.store_migrations for m in registry().modules if m.store_migrations is not None]
    return [MIGRATIONS_DIR / "versions", *extra]


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # os.pathsep-separated (alembic.ini: path_separator = os).
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(map(str, version_locations())))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_heads(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def expected_heads(engine: Engine) -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revision(engine: Engine) -> str | None:
    """The applied revisions, comma-separated in order (None: an empty store)."""
    heads = current_heads(engine)
    return ",".join(sorted(heads)) if heads else None


def head_revision(engine: Engine) -> str | None:
    """What :func:`current_revision` reads once every branch is at its head."""
    heads = expected_heads(engine)
    return ",".join(sorted(heads)) if heads else None


def is_current(engine: Engine) -> bool:
    return current_heads(engine) == expected_heads(engine)


def ensure_current(engine: Engine) -> None:
    """Migrate to every head unless already there (cheap to call on each start)."""
    if not is_current(engine):
        upgrade(engine)
