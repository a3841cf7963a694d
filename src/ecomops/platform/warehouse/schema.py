"""Versioned warehouse migrations: each module's numbered SQL files, applied per tenant file in order.

The platform's core facts come first (``migrations/``), then every installed module's folder
(``Module.warehouse_migrations``) in module order. Each module numbers its files ``0001_name.sql``…
on its own, so a third-party module never collides with ours; ``_module_migrations`` records
``(module, version, name)`` per applied file, each applied in its own transaction.

Files made before modules owned their SQL recorded one global sequence in ``_schema_migrations``;
the first writable open converts that record (the files themselves are unchanged), and read-only
opens read it as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ecomops.platform.registry import registry

CORE = "platform"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TABLE = "_module_migrations"
_LEGACY_TABLE = "_schema_migrations"
#: The global sequence before modules owned their migrations: version -> (module, its version).
_LEGACY = {
    1: (CORE, 1),
    2: ("imports", 1),
    3: ("analytics", 1),
    4: ("analytics", 2),
    5: ("analytics", 3),
    6: ("analytics", 4),
}


@dataclass(frozen=True)
class Migration:
    module: str
    version: int
    name: str
    sql: str


def _read_folder(module: str, folder: Path) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise RuntimeError(f"warehouse migration file name must look like 0001_name.sql: {path}")
        found.append(Migration(module, int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{module}'s warehouse migrations must be numbered 1..n without gaps: {versions}")
    return found


def migrations() -> list[Migration]:
    """Every migration the code knows, in the order they are applied."""
    folders = [(CORE, MIGRATIONS_DIR)] + [
        (m.name, m.warehouse_migrations) for m in registry().modules if m.warehouse_migrations is not None
    ]
    return [migration for module, folder in folders for migration in _read_folder(module, folder)]


def expected_versions() -> dict[str, int]:
    """module -> the newest version its code has."""
    latest: dict[str, int] = {}
    for m in migrations():
        latest[m.module] = max(latest.get(m.module, 0), m.version)
    return latest


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
        [name],
    ).fetchone()
    return bool(row and row[0])


def applied_versions(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """module -> the newest version applied to this file (works on read-only and legacy files)."""
    if _has_table(con, _TABLE):
        rows = con.execute(f"SELECT module, max(version) FROM {_TABLE} GROUP BY module").fetchall()  # noqa: S608
        return {str(module): int(version) for module, version in rows}
    if _has_table(con, _LEGACY_TABLE):
        applied: dict[str, int] = {}
        for (version,) in con.execute(f"SELECT version FROM {_LEGACY_TABLE}").fetchall():  # noqa: S608
            module, own = _LEGACY[int(version)]
            applied[module] = max(applied.get(module, 0), own)
        return applied
    return {}


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    applied = applied_versions(con)
    return all(applied.get(module, 0) >= version for module, version in expected_versions().items())


def _convert_legacy(con: duckdb.DuckDBPyConnection) -> None:
    """Record a pre-module file's global versions per module, in one transaction."""
    names = {(m.module, m.version): m.name for m in migrations()}
    rows = con.execute(f"SELECT version, applied_at FROM {_LEGACY_TABLE} ORDER BY version").fetchall()  # noqa: S608
    con.execute("BEGIN")
    try:
        for version, applied_at in rows:
            module, own = _LEGACY[int(version)]
            con.execute(
                f"INSERT INTO {_TABLE} (module, version, name, applied_at) VALUES (?, ?, ?, ?)",  # noqa: S608
                [module, own, names.get((module, own), "legacy"), applied_at],
            )
        con.execute(f"DROP TABLE {_LEGACY_TABLE}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def migrate(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Apply pending migrations, each in its own transaction; returns (module, version) applied."""
    fresh = not _has_table(con, _TABLE)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (module VARCHAR NOT NULL, version INTEGER NOT NULL, "
        "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (module, version))"
    )
    if fresh and _has_table(con, _LEGACY_TABLE):
        _convert_legacy(con)
    have = applied_versions(con)
    applied = []
    for migration in migrations():
        if migration.version <= have.get(migration.module, 0):
            continue
        con.execute("BEGIN")
        try:
            con.execute(migration.sql)
            con.execute(
                f"INSERT INTO {_TABLE} (module, version, name) VALUES (?, ?, ?)",  # noqa: S608
                [migration.module, migration.version, migration.name],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append((migration.module, migration.version))
    return applied
