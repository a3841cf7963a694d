"""The shipped datasets are the files data/README.md describes, byte for byte.

Reference figures in the import and metric tests (row counts, revenue by country) are only meaningful
for these exact files: a truncated download, a re-compressed copy or a swapped file must fail here, by
name, rather than as a wrong total somewhere else.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.datasets import (
    DATA,
    OLIST_PAYMENTS,
    OLIST_PRODUCTS,
    OLIST_SELLERS,
    OLIST_TRANSLATION,
    ONLINE_RETAIL_YEAR1,
    listed_hashes,
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_every_shipped_file_matches_its_listed_hash() -> None:
    listed = listed_hashes()
    shipped = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file() and p.suffix == ".gz"}
    assert shipped == set(listed), "data/SHA256SUMS must list exactly the dataset files in data/"
    assert {name: _sha256(DATA / name) for name in sorted(listed)} == listed


def test_the_readme_table_agrees_with_sha256sums() -> None:
    """The README is what people read: its hash table must be the one the suite checks."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\S+\.gz) \| `([0-9a-f]{64})` \|", readme, flags=re.MULTILINE))
    assert table == listed_hashes()


def test_the_paths_tests_use_are_shipped_and_listed() -> None:
    used = [ONLINE_RETAIL_YEAR1, OLIST_PAYMENTS, OLIST_PRODUCTS, OLIST_SELLERS, OLIST_TRANSLATION]
    assert {p.relative_to(DATA).as_posix() for p in used} <= set(listed_hashes())
