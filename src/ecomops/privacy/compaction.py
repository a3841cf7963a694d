"""Rewrite a tenant's DuckDB file so that erased values do not survive in its free space.

DuckDB does not zero what it frees: after an UPDATE or DELETE and a CHECKPOINT, the old column
segments stay readable in freed blocks and in the unused tail of partially filled blocks until they
happen to be reused (``tests/privacy/test_requests.py`` shows a nulled review text still in the file).
Personal data reaches the warehouse only through free text (review bodies, dead-letter payloads):
identify traits go to the vault at the ingest edge. For those, the only guarantee is a fresh file:
``COPY FROM DATABASE`` into a new file (schema, keys and rows; nothing that was freed) and an atomic
rename over the old one.

The rename is only safe when no process has the file open, so:

* ``ecomops privacy erase`` (and ``retention run``) without a server compacts right away;
* an erasure or a retention pass that removed rows, in the server, leaves a marker
  (``privacy-compact-<tenant>.pending`` in the warehouse directory); the server compacts marked files
  at its next start, before anything opens them, and ``ecomops privacy compact --tenant SLUG`` does
  it at once while no server runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb

from ecomops.platform.warehouse.connection import warehouse_path

log = logging.getLogger(__name__)


def marker_path(warehouse_dir: Path, tenant_id: str) -> Path:
    return warehouse_dir / f"privacy-compact-{tenant_id}.pending"


def mark_pending(warehouse_dir: Path, tenant_id: str) -> None:
    path = marker_path(warehouse_dir, tenant_id)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)


def pending_tenants(warehouse_dir: Path) -> list[str]:
    prefix, suffix = "privacy-compact-", ".pending"
    return sorted(
        p.name[len(prefix) : -len(suffix)] for p in warehouse_dir.glob(f"{prefix}*{suffix}") if p.is_file()
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def compact(warehouse_dir: Path, tenant_id: str) -> tuple[int, int]:
    """Rewrite the tenant's (closed) warehouse file; returns its size before and after, in bytes.

    The caller guarantees that no connection to the file is open (no server, or before it opens any).
    A crash before the rename leaves the old file intact and a stray ``.compacting`` file that the
    next compaction replaces; the marker is removed only after the rename.
    """
    path = warehouse_path(warehouse_dir, tenant_id)
    if not path.exists():
        marker_path(warehouse_dir, tenant_id).unlink(missing_ok=True)
        return 0, 0
    before = path.stat().st_size
    tmp = path.with_name(path.name + ".compacting")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        # ATTACH takes no parameters: the paths (from settings, not from users) go in as quoted literals.
        con.execute(f"ATTACH {_literal(path)} AS src")  # read-write: replays a leftover DuckDB WAL first
        con.execute(f"ATTACH {_literal(tmp)} AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
        con.execute("DETACH src")
    finally:
        con.close()
    _fsync(tmp)
    os.replace(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    _fsync(path.parent)
    marker_path(warehouse_dir, tenant_id).unlink(missing_ok=True)
    after = path.stat().st_size
    log.info("compacted warehouse of tenant %s: %d -> %d bytes", tenant_id, before, after)
    return before, after


def compact_pending(warehouse_dir: Path) -> dict[str, tuple[int, int]]:
    """Compact every marked warehouse (server start-up); a failure is logged and the marker kept."""
    done: dict[str, tuple[int, int]] = {}
    for tenant_id in pending_tenants(warehouse_dir):
        try:
            done[tenant_id] = compact(warehouse_dir, tenant_id)
        except (duckdb.Error, OSError):
            log.exception("compacting the warehouse of tenant %s failed; the marker stays", tenant_id)
    return done
