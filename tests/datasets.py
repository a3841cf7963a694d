"""Where the tests find the public datasets shipped in the repository's ``data/`` folder.

One place for these paths, all inside the checkout, so a clone in any folder runs the suite with
nothing beside it. Provenance, licences and hashes: data/README.md; ``tests/test_datasets.py`` checks
every file against ``data/SHA256SUMS``.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
SHA256SUMS = DATA / "SHA256SUMS"

ONLINE_RETAIL_YEAR1 = DATA / "online_retail_ii" / "online_retail_II_2009-2010.csv.gz"

OLIST = DATA / "olist"
OLIST_PAYMENTS = OLIST / "olist_order_payments_dataset.csv.gz"
OLIST_PRODUCTS = OLIST / "olist_products_dataset.csv.gz"
OLIST_SELLERS = OLIST / "olist_sellers_dataset.csv.gz"
OLIST_TRANSLATION = OLIST / "product_category_name_translation.csv.gz"


def listed_hashes() -> dict[str, str]:
    """``data/SHA256SUMS`` as {path relative to data/: sha256}: every shipped file and its hash."""
    hashes = {}
    for line in SHA256SUMS.read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        hashes[name.lstrip("*")] = digest
    return hashes
