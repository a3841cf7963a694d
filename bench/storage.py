"""Where a warehouse's bytes go: per table and per column, for realistic storefront traffic.

Posts ``--events`` realistic events (``bench/_traffic.py``, the storage test's seed) to a real ``ecomops
serve`` over HTTP, waits until all are loaded, stops the server (its close checkpoints) and measures the
tenant's warehouse file:

- the file and its blocks in use / free (``pragma_database_size``);
- per table and per column, the bytes its segments take: segments share blocks, so a segment's size is
  the distance to the next segment in its block (the last one of a block up to the block's end, which
  counts the block's unused tail against it), plus whole additional blocks for long strings;
- the same warehouse copied into a fresh file (``COPY FROM DATABASE``: no free blocks, every table
  rewritten in one go), as a lower bound of what the data needs.

``python bench/storage.py --events 20000 --events 100000`` prints one report per size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import httpx

from _serving import start_server
from _traffic import batches

ECOMOPS = [sys.executable, "-m", "ecomops.cli"]


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([*ECOMOPS, *args], env=env, check=True, capture_output=True, text=True).stdout


def fill(events: int) -> tuple[Path, Path]:
    """A data dir whose tenant ``bench`` holds ``events`` realistic events; returns (data dir, warehouse)."""
    data = Path(tempfile.mkdtemp(prefix="ecomops-bench-storage-"))
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(data)}
    env.pop("ECOMOPS_DATABASE_URL", None)
    _cli(env, "tenant", "create", "bench")
    key = json.loads(_cli(env, "source", "create", "site", "--tenant", "bench", "--json"))["write_key"]
    api_key = json.loads(_cli(env, "apikey", "create", "--tenant", "bench", "--role", "admin", "--json"))[
        "key"
    ]
    port = 19000 + os.getpid() % 1000
    server = start_server(env, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for sample in batches(events // 100, "disk", seed=7):
                r = client.post(
                    "/v1/batch",
                    content=sample.body,
                    auth=(key, ""),
                    headers={"Content-Type": "application/json"},
                )
                r.raise_for_status()
            headers = {"Authorization": f"Bearer {api_key}"}
            while True:
                r = client.post(
                    "/api/v1/t/bench/query", json={"sql": "SELECT count(*) FROM events"}, headers=headers
                )
                r.raise_for_status()
                if r.json()["rows"][0][0] >= events:
                    break
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(300)
    found = [p for p in (data / "warehouse").rglob("*.duckdb")]
    if len(found) != 1:
        raise RuntimeError(f"expected one tenant warehouse, found {found}")
    return data, found[0]


def segment_bytes(con: duckdb.DuckDBPyConnection, block_size: int) -> dict[tuple[str, str], int]:
    """(table, column) -> bytes of its persistent segments (see the module docstring for the estimate)."""
    tables = [
        r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
    ]
    segments: list[tuple[str, str, int, int, int]] = []
    for table in tables:
        rows = con.execute(
            "SELECT column_name, block_id, block_offset, len(additional_block_ids) "
            "FROM pragma_storage_info(?) WHERE persistent AND block_id >= 0",
            [table],
        ).fetchall()
        segments += [
            (table, str(col), int(block), int(offset), int(extra)) for col, block, offset, extra in rows
        ]
    by_block: dict[int, list[tuple[int, str, str, int]]] = defaultdict(list)
    for table, col, block, offset, extra in segments:
        by_block[block].append((offset, table, col, extra))
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for entries in by_block.values():
        entries.sort()
        for i, (offset, table, col, extra) in enumerate(entries):
            end = entries[i + 1][0] if i + 1 < len(entries) else block_size
            sizes[(table, col)] += end - offset + extra * block_size
    return sizes


def report(path: Path, events: int) -> None:
    con = duckdb.connect(str(path), read_only=True)
    size = con.execute(
        "SELECT block_size, total_blocks, used_blocks, free_blocks FROM pragma_database_size()"
    )
    block_size, total, used, free = size.fetchone()  # type: ignore[misc]
    file_bytes = path.stat().st_size
    print(f"\n== {events:,} events: file {file_bytes / events:,.0f} B/event ({file_bytes / 1e6:.1f} MB)")
    print(f"   blocks: {total} total, {used} used ({used * block_size / events:,.0f} B/event), {free} free")
    sizes = segment_bytes(con, block_size)
    per_table: dict[str, int] = defaultdict(int)
    for (table, _), n in sizes.items():
        per_table[table] += n
    rows = {
        t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # type: ignore[index]
        for t in per_table
    }
    print("   table                          rows      B/event")
    for table, n in sorted(per_table.items(), key=lambda kv: -kv[1]):
        print(f"   {table:<28} {rows[table]:>9,} {n / events:>10,.1f}")
    print("   events columns (B/event):")
    cols = sorted(((c, n) for (t, c), n in sizes.items() if t == "events"), key=lambda kv: -kv[1])
    print("   " + ", ".join(f"{c} {n / events:,.1f}" for c, n in cols))
    con.close()
    fresh = path.with_name("fresh.duckdb")
    copy = duckdb.connect(str(fresh))
    copy.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
    copy.execute("COPY FROM DATABASE src TO fresh")
    copy.execute("DETACH src")
    copy.execute("CHECKPOINT")
    fresh_used = copy.execute("SELECT used_blocks * block_size FROM pragma_database_size()").fetchone()[0]  # type: ignore[index]
    copy.close()
    fresh_file = fresh.stat().st_size / events
    print(f"   fresh copy: {fresh_used / events:,.0f} B/event in used blocks, file {fresh_file:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="sample size (repeatable; default 20000)")
    args = parser.parse_args()
    for events in args.events or [20_000]:
        _, path = fill(events)
        report(path, events)


if __name__ == "__main__":
    main()
