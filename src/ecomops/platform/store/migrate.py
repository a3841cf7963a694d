"""Alembic driven from code, so the CLI, the server start-up and tests migrate the same way.

The platform's history (``migrations/versions``) is the trunk; a module with tables of its own adds
its versions folder (``Module.store_migrations``) as a branch labelled with the module's name whose
first revision ``depends_on`` the trunk revision it needs. Upgrading goes to every head, so the
store is current when each branch is at its head.

A store holding revisions this process does not know (a module's branch whose distribution is not
installed here, or a newer ecomops) cannot be upgraded: Alembic cannot place them in any history. Rather
than Alembic's traceback, :func:`ensure_current` names them and says what to do (docs/modules.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ecomops.kernel.errors import EcomopsError
from ecomops.platform.registry import registry

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class UnknownRevisions(EcomopsError):
    """The store was migrated by code this process lacks; nothing here may write it until they agree."""

    status_code = 409
    code = "store_has_unknown_revisions"


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
    """The revisions Alembic records in the store once every branch is at its head.

    A module branch's first revision ``depends_on`` a trunk revision rather than continuing it, so the
    script lists that trunk revision as a head as well; once the branch is applied, Alembic records
    only the branch's head (the dependency is implied by it). Heads implied by another are left out
    here too, or a store with a module would never read as current.
    """
    script = ScriptDirectory.from_config(alembic_config(engine))
    heads = script.get_heads()
    implied = {
        r.revision for head in heads for r in script.iterate_revisions(head, "base") if r.revision != head
    }
    return frozenset(heads) - implied


def current_revision(engine: Engine) -> str | None:
    """The applied revisions, comma-separated in order (None: an empty store)."""
    heads = current_heads(engine)
    return ",".join(sorted(heads)) if heads else None


def head_revision(engine: Engine) -> str | None:
    """What :func:`current_revision` reads once every branch is at its head."""
    heads = expected_heads(engine)
    return ",".join(sorted(heads)) if heads else None


def known_revisions(engine: Engine) -> frozenset[str]:
    """Every revision of the trunk and of the installed modules' branches."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    return frozenset(revision.revision for revision in script.walk_revisions())


def is_current(engine: Engine) -> bool:
    return current_heads(engine) == expected_heads(engine)


def ensure_current(engine: Engine) -> None:
    """Migrate to every head unless already there (cheap to call on each start).

    Raises :class:`UnknownRevisions` when the store is ahead of this process's code.
    """
    if is_current(engine):
        return
    unknown = current_heads(engine) - known_revisions(engine)
    if unknown:
        raise UnknownRevisions(
            f"the operational store holds migrations this installation does not know: "
            f"{', '.join(sorted(unknown))}. They belong to a module that is not installed in this "
            "environment (or to a newer ecomops): install the same modules here as where the store was "
            "migrated. To remove a module for good, downgrade its branch while it is still installed "
            '(docs/modules.md, "Removing a module").',
            {"unknown_revisions": sorted(unknown)},
        )
    upgrade(engine)
