"""Run one import: plan the files, stage and validate them, write the reject file, apply atomically.

Pure service: no HTTP, no printing. The server's job runner and the CLI both call ``run_import``
with the tenant's warehouse; progress is reported through a callback.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from ecomops.imports.apply import ApplyResult, FileRecord, apply_staged, classified_lines
from ecomops.imports.mapping import parse_line_classes
from ecomops.imports.options import (
    ENCODING_ALIASES,
    FileSummary,
    ImportOptions,
    ImportSummary,
    InputFile,
    ProgressFn,
)
from ecomops.imports.presets import PRESETS, get_preset
from ecomops.imports.presets.base import Mapping, Preset, PresetContext, install_macros
from ecomops.imports.reader import FileStream, HeaderMatch, NotUtf8, detect_encoding, read_header, recognise
from ecomops.imports.rejects import stage_invalid_rows, write_rejects
from ecomops.imports.session_mapping import SessionMapping
from ecomops.imports.staging import Staging, arrow_table
from ecomops.kernel.clock import validate_timezone
from ecomops.kernel.errors import EcomopsError, ValidationFailed
from ecomops.kernel.money import normalize_currency
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto.pseudonym import EmailVault, PseudonymKeys, pseudonymize_emails
from ecomops.platform.warehouse.connection import Warehouse

REJECT_FILE = "rejects.csv"

#: Existing orders referenced by a file (Olist items/reviews), fetched from the warehouse.
LOOKUP_ORDERS = """
SELECT o.order_id, o.ordered_at, o.currency, o.customer_id
FROM orders o SEMI JOIN wanted_orders w ON w.order_id = o.order_id
"""


class ImportCancelled(EcomopsError):
    status_code = 409
    code = "import_cancelled"


@dataclass(frozen=True)
class PlannedFile:
    index: int
    input: InputFile
    encoding: str
    header: list[str]
    match: HeaderMatch
    size: int


@dataclass(frozen=True)
class Resolved:
    """Options after defaults: caller → mapping file → preset → tenant."""

    preset: Preset
    mapping: Mapping | None
    #: Sessions presets: placement of month-only rows (option, else the mapping's).
    reference_date: date | None
    encoding: str
    timezone: str
    currency: str
    source: str
    channel: str | None
    #: Upper-cased code → class of non-product lines (presets that classify them).
    line_classes: dict[str, str]


def resolve_options(options: ImportOptions, tenant: TenantInfo) -> Resolved:
    preset = get_preset(options.preset)
    takes_lines = preset.line_classes is not None
    if options.mapping and preset.parse_mapping is None and not takes_lines:
        names = [p.name for p in PRESETS.values() if p.parse_mapping or p.line_classes is not None]
        with_mapping = f"{', '.join(names[:-1])} and {names[-1]}"
        raise ValidationFailed(
            f"a mapping file is only used by the {with_mapping} presets, not {preset.name!r}",
            {"field": "mapping"},
        )
    parsed = preset.parse_mapping(options.mapping) if options.mapping and preset.parse_mapping else None
    if preset.needs_mapping and parsed is None:
        raise ValidationFailed(
            f"the {preset.name} preset needs a mapping file (--mapping map.yaml)", {"field": "mapping"}
        )
    mapping = parsed or preset.default_mapping
    reference_date = _reference_date(options.reference_date, mapping)
    line_classes = dict(preset.line_classes or {})
    if takes_lines and options.mapping:
        assert preset.line_classes is not None
        line_classes = parse_line_classes(options.mapping).apply_to(preset.line_classes)
    encoding = ENCODING_ALIASES.get((options.encoding or "auto").lower())
    if encoding is None:
        raise ValidationFailed(
            f"encoding must be auto, utf-8 or gb18030 (gbk), got {options.encoding!r}", {"field": "encoding"}
        )
    timezone = validate_timezone(
        options.source_timezone
        or (mapping.timezone if mapping else None)
        or preset.default_timezone
        or tenant.timezone
    )
    currency = normalize_currency(
        options.currency
        or (mapping.currency if mapping else None)
        or preset.default_currency
        or tenant.currency
    )
    return Resolved(
        preset,
        mapping,
        reference_date,
        encoding,
        timezone,
        currency,
        mapping.source if mapping else preset.source,
        mapping.channel if mapping else None,
        {code.upper(): kind for code, kind in line_classes.items()},
    )


def _reference_date(text: str | None, mapping: Mapping | None) -> date | None:
    if text:
        try:
            return date.fromisoformat(text.strip())
        except ValueError as exc:
            raise ValidationFailed(
                f"reference date must be YYYY-MM-DD, got {text!r}", {"field": "reference_date"}
            ) from exc
    if isinstance(mapping, SessionMapping):
        if mapping.reference_date is None and mapping.columns.started_at is None:
            raise ValidationFailed(
                "these sessions have a month but no year: give a reference date (--reference-date "
                "YYYY-MM-DD); months are placed in the 12 months ending with its month",
                {"field": "reference_date"},
            )
        return mapping.reference_date
    return None


def plan_files(files: list[InputFile], resolved: Resolved) -> list[PlannedFile]:
    """Detect each file's encoding and kind from its first bytes; fails before any row is read."""
    if not files:
        raise ValidationFailed("no files to import", {"field": "files"})
    kinds = resolved.preset.kinds(resolved.mapping)
    planned = []
    for index, item in enumerate(files):
        if not item.path.is_file():
            raise ValidationFailed(f"{item.name}: no such file", {"file": item.name})
        encoding = detect_encoding(item.path, resolved.encoding)
        header = read_header(item.path, encoding)
        match = recognise(item.name, header, kinds)
        planned.append(PlannedFile(index, item, encoding, header, match, item.path.stat().st_size))
    if resolved.preset.check_kinds is not None:
        by_kind: dict[str, list[str]] = {}
        for p in planned:
            by_kind.setdefault(p.match.kind.name, []).append(p.input.name)
        resolved.preset.check_kinds(by_kind)
    return planned


def _lookup_orders(warehouse: Warehouse, ids: pa.Table) -> pa.Table:
    cur = warehouse.cursor()
    try:
        cur.register("wanted_orders", ids)
        return arrow_table(cur, LOOKUP_ORDERS)
    finally:
        cur.close()


class _Progress:
    """Turns per-file byte counts into overall progress, throttled so callers aren't flooded."""

    def __init__(self, total: int, callback: ProgressFn | None, cancelled: threading.Event | None) -> None:
        self.total = total
        self.callback = callback
        self.cancelled = cancelled
        self.done_before = 0
        self._last = 0.0

    def file_bytes(self, n: int) -> None:
        if self.cancelled is not None and self.cancelled.is_set():
            raise ImportCancelled("import cancelled (the server is shutting down)")
        now = time.monotonic()
        if self.callback is not None and now - self._last >= 0.2:
            self._last = now
            self.callback(min(self.done_before + n, self.total), self.total, "reading")

    def phase(self, name: str) -> None:
        if self.callback is not None:
            self.callback(self.total if name != "reading" else self.done_before, self.total, name)


def _stage_files(
    staging: Staging, planned: list[PlannedFile], progress: _Progress, encodings: dict[int, str]
) -> dict[int, FileStream]:
    """Stream every file into staging; returns what each read learned (hash, rows, bad-shaped rows)."""
    streams: dict[int, FileStream] = {}
    progress.done_before = 0
    for p in planned:
        encoding = encodings.get(p.index, p.encoding)
        stream = FileStream(p.input.path, encoding, p.match, len(p.header), p.index, [])
        for table in stream.batches(progress.file_bytes):
            staging.append(p.match.kind, table)
        stage_invalid_rows(staging, p.index, stream.invalid_rows)
        streams[p.index] = stream
        progress.done_before += p.size
    staging.seal()
    return streams


def _switch_to_gb18030(
    exc: NotUtf8, planned: list[PlannedFile], resolved: Resolved, encodings: dict[int, str]
) -> None:
    """A file that looked like UTF-8 isn't after all: read it again as GB18030 (auto mode only)."""
    name = planned[exc.file_index].input.name
    if resolved.encoding != "auto" or exc.file_index in encodings:
        raise ValidationFailed(
            f"{name}: not valid UTF-8 text (use --encoding gb18030 for GBK exports)",
            {"file": name, "field": "encoding"},
        ) from exc
    encodings[exc.file_index] = "gb18030"


def _context(
    resolved: Resolved, warehouse: Warehouse, tenant: TenantInfo, keys: PseudonymKeys
) -> PresetContext:
    key_cache: list[bytes] = []

    def pseudonymize(emails: list[str | None]) -> list[str | None]:
        # The key is only created when an import actually contains e-mail addresses.
        if not key_cache:
            key_cache.append(keys.key_for(tenant.id))
        ids = pseudonymize_emails(key_cache[0], emails)
        if isinstance(keys, EmailVault):
            keys.remember_emails(
                tenant.id, [(c, e.strip()) for c, e in zip(ids, emails, strict=True) if c and e]
            )
        return ids

    return PresetContext(
        source=resolved.source,
        currency=resolved.currency,
        timezone=resolved.timezone,
        channel=resolved.channel,
        lookup_orders=lambda ids: _lookup_orders(warehouse, ids),
        pseudonymize=pseudonymize,
        mapping=resolved.mapping,
        reference_date=resolved.reference_date,
        line_classes=resolved.line_classes,
    )


def _summary(
    import_id: str,
    preset: str,
    planned: list[PlannedFile],
    streams: dict[int, FileStream],
    rejected: dict[int, int],
    result: ApplyResult,
    reject_path: Path,
    timings: dict[str, float],
) -> ImportSummary:
    files = []
    for p in planned:
        stream = streams[p.index]
        loaded = result.loaded_by_file.get(p.index, 0)
        rejected_rows = rejected.get(p.index, 0)
        files.append(
            FileSummary(
                file=p.input.name,
                kind=p.match.kind.name,
                encoding=stream.encoding,
                sha256=stream.sha256,
                rows_read=stream.rows_read,
                rows_loaded=loaded,
                rows_rejected=rejected_rows,
                rows_duplicate=stream.rows_read - rejected_rows - loaded,
            )
        )
    return ImportSummary(
        import_id=import_id,
        preset=preset,
        rows_read=sum(f.rows_read for f in files),
        rows_loaded=sum(f.rows_loaded for f in files),
        rows_duplicate=sum(f.rows_duplicate for f in files),
        rows_rejected=sum(f.rows_rejected for f in files),
        orders=result.inserted.get("orders", 0),
        customers=result.inserted.get("customers", 0),
        reject_file=str(reject_path),
        inserted=result.inserted,
        updated=result.updated,
        files=files,
        timings={k: round(v, 3) for k, v in timings.items()},
    )


def run_import(
    *,
    warehouse: Warehouse,
    tenant: TenantInfo,
    import_id: str,
    files: list[InputFile],
    options: ImportOptions,
    work_dir: Path,
    keys: PseudonymKeys,
    progress: ProgressFn | None = None,
    cancelled: threading.Event | None = None,
) -> ImportSummary:
    """Import ``files`` into ``warehouse``; all-or-nothing. Raises ValidationFailed for unusable input."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    resolved = resolve_options(options, tenant)
    planned = plan_files(files, resolved)
    tracker = _Progress(sum(p.size for p in planned), progress, cancelled)
    work_dir.mkdir(parents=True, exist_ok=True)
    ctx = _context(resolved, warehouse, tenant, keys)
    reject_path = work_dir / REJECT_FILE
    encodings: dict[int, str] = {}
    while True:
        staging = Staging(work_dir)
        try:
            install_macros(staging)
            for kind in resolved.preset.kinds(resolved.mapping):
                staging.create_raw(kind)
            mark = time.perf_counter()
            tracker.phase("reading")
            try:
                streams = _stage_files(staging, planned, tracker, encodings)
            except NotUtf8 as exc:
                _switch_to_gb18030(exc, planned, resolved, encodings)
                continue
            timings["read"] = time.perf_counter() - mark
            staging.register(
                "import_files",
                pa.table(
                    {
                        "_file": pa.array([p.index for p in planned], pa.int32()),
                        "sha256": pa.array([streams[p.index].sha256 for p in planned], pa.string()),
                    }
                ),
            )

            mark = time.perf_counter()
            tracker.phase("transforming")
            resolved.preset.transform(staging, ctx)
            rejected = write_rejects(
                staging,
                reject_path,
                {p.index: p.input.name for p in planned},
                {p.index: p.match.headers for p in planned},
            )
            timings["transform"] = time.perf_counter() - mark

            mark = time.perf_counter()
            tracker.phase("applying")
            records = [
                FileRecord(
                    f"{import_id}:{p.index + 1}",
                    resolved.preset.name,
                    p.input.name,
                    streams[p.index].sha256,
                    streams[p.index].rows_read,
                    rejected.get(p.index, 0),
                    p.index,
                )
                for p in planned
            ]
            result = apply_staged(
                warehouse,
                staging,
                records,
                totals_from_items=resolved.preset.totals_from_items,
                status_from_refunds=resolved.preset.status_from_refunds,
            )
            classified = classified_lines(staging)
            timings["apply"] = time.perf_counter() - mark
            break
        finally:
            staging.close()
    timings["total"] = time.perf_counter() - started
    tracker.phase("done")
    summary = _summary(
        import_id, resolved.preset.name, planned, streams, rejected, result, reject_path, timings
    )
    summary.non_product_lines = classified.non_product_lines
    summary.cancellations = classified.cancellations
    return summary
