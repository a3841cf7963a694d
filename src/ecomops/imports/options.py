"""The import domain's plain data: options in, per-file and overall summaries out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PRESETS = ("online-retail-ii", "olist", "shopify", "generic", "sessions", "uci-online-shoppers")
ENCODINGS = ("auto", "utf-8", "gb18030")
#: Accepted spellings of the encodings; GBK is a subset of GB18030, so GBK files decode as GB18030.
ENCODING_ALIASES = {
    "auto": "auto",
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
}

#: (bytes_done, bytes_total, phase) — phase is reading, transforming, applying or done.
ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ImportOptions:
    """What the caller chose; ``None`` means the preset's default (then the tenant's)."""

    preset: str
    encoding: str = "auto"
    source_timezone: str | None = None
    currency: str | None = None
    #: YAML text of the generic preset's mapping file (kept as text so a queued job can be persisted).
    mapping: str | None = None
    #: YYYY-MM-DD: session rows with a month but no year fall in the 12 months ending with its month.
    reference_date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportOptions:
        return cls(
            preset=str(data["preset"]),
            encoding=str(data.get("encoding") or "auto"),
            source_timezone=data.get("source_timezone"),
            currency=data.get("currency"),
            mapping=data.get("mapping"),
            reference_date=data.get("reference_date"),
        )


@dataclass(frozen=True)
class InputFile:
    """A file to import: where it is and the name reported in summaries and the reject file."""

    path: Path
    name: str


@dataclass
class FileSummary:
    file: str
    kind: str
    encoding: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0


@dataclass
class ImportSummary:
    import_id: str
    preset: str
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_rejected: int
    #: Orders and customers newly inserted by this import (0 on a re-import).
    orders: int
    customers: int
    reject_file: str
    #: Newly inserted rows per warehouse table.
    inserted: dict[str, int] = field(default_factory=dict)
    #: Existing rows changed (order totals that gained lines, customers' first/last seen, products'
    #: first/last sold and price range).
    updated: dict[str, int] = field(default_factory=dict)
    #: Non-product lines per class (shipping, discount, fee, adjustment, sample) in this import's files.
    non_product_lines: dict[str, int] = field(default_factory=dict)
    #: Cancellation lines linked to earlier sales: matched (all units), partly_matched, unmatched.
    cancellations: dict[str, int] = field(default_factory=dict)
    files: list[FileSummary] = field(default_factory=list)
    #: Seconds per phase, for profiling (the bench prints them).
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
