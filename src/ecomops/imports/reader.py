"""Streaming CSV reading: gzip and encoding detection, header recognition, chunked Arrow batches.

Every value is read as text (type conversion and its errors belong to validation, where a bad
value becomes a reject line instead of a failed import). Batches carry the file index and the
1-based data row number so every later error can point at the exact row of the file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ecomops.kernel.errors import ValidationFailed

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
SAMPLE_BYTES = 1 << 20
BLOCK_SIZE = 4 << 20


@dataclass(frozen=True)
class Column:
    """A column an importer understands: its canonical name and the header spellings that mean it."""

    name: str
    aliases: tuple[str, ...]
    required: bool = True
    #: Whether the canonical name itself is an accepted header (not for user mappings, which say exactly).
    match_name: bool = True


@dataclass(frozen=True)
class FileKind:
    """One kind of input file (e.g. Olist's order items): staged into table ``raw_<name>``."""

    name: str
    label: str
    columns: tuple[Column, ...]
    #: Canonical columns staged as NULL because this input doesn't have them (unmapped generic fields).
    absent: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"raw_{self.name}"

    def required(self) -> list[Column]:
        return [c for c in self.columns if c.required]


def normalize_header(text: str) -> str:
    """Compare headers the way people write them: case, spaces, underscores and BOMs don't matter."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass(frozen=True)
class HeaderMatch:
    kind: FileKind
    #: canonical column → position in the file.
    positions: dict[str, int]
    #: canonical column → the header as written in the file (for reject lines).
    headers: dict[str, str]


def match_header(header: list[str], kind: FileKind) -> tuple[HeaderMatch | None, list[str]]:
    """Map a file's header onto a kind; returns the match, or None and the missing required columns."""
    by_norm: dict[str, int] = {}
    for i, name in enumerate(header):
        by_norm.setdefault(normalize_header(name), i)
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    missing: list[str] = []
    for col in kind.columns:
        for alias in (col.name, *col.aliases) if col.match_name else col.aliases:
            pos = by_norm.get(normalize_header(alias))
            if pos is not None:
                positions[col.name] = pos
                headers[col.name] = header[pos]
                break
        else:
            if col.required:
                missing.append(col.aliases[0] if col.aliases else col.name)
    if missing:
        return None, missing
    return HeaderMatch(kind, positions, headers), []


def recognise(file_name: str, header: list[str], kinds: tuple[FileKind, ...]) -> HeaderMatch:
    """Pick the kind whose required columns the header has; the most specific one wins."""
    matches: list[HeaderMatch] = []
    missing_by_kind: dict[str, list[str]] = {}
    for kind in kinds:
        match, missing = match_header(header, kind)
        if match is not None:
            matches.append(match)
        else:
            missing_by_kind[kind.label] = missing
    if not matches:
        if len(kinds) == 1:
            missing = missing_by_kind[kinds[0].label]
            raise ValidationFailed(
                f"{file_name}: missing required column(s) {', '.join(missing)}",
                {"file": file_name, "missing": missing, "header": header},
            )
        raise ValidationFailed(
            f"{file_name}: header matches none of the expected files ({', '.join(k.label for k in kinds)})",
            {"file": file_name, "header": header, "missing_by_file": missing_by_kind},
        )
    matches.sort(key=lambda m: len(m.kind.required()), reverse=True)
    if len(matches) > 1 and len(matches[0].kind.required()) == len(matches[1].kind.required()):
        raise ValidationFailed(
            f"{file_name}: header is ambiguous between {matches[0].kind.label} and {matches[1].kind.label}",
            {"file": file_name, "header": header},
        )
    return matches[0]


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _sample(path: Path) -> bytes:
    opener: Any = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as fh:
        data: bytes = fh.read(SAMPLE_BYTES)
        return data


def _valid_utf8_prefix(data: bytes) -> bool:
    """True if ``data`` is UTF-8, allowing a multi-byte character cut at the sample's end."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path, requested: str) -> str:
    """UTF-8 (with or without BOM) when the sample decodes as UTF-8, else GB18030 (covers GBK/GB2312).

    Chinese platforms (Taobao, JD, Douyin back offices) export GBK; everything else is UTF-8.
    Only the first MiB is sampled: if a later chunk turns out not to be UTF-8 the reader raises
    ``NotUtf8`` and the service re-reads the file as GB18030.
    """
    if requested != "auto":
        return requested
    sample = _sample(path)
    if sample.startswith(UTF8_BOM) or _valid_utf8_prefix(sample):
        return "utf-8"
    return "gb18030"


def read_header(path: Path, encoding: str) -> list[str]:
    """The first CSV record, decoded; raises a clear error for empty or undecodable files."""
    sample = _sample(path)
    if sample.startswith(UTF8_BOM):
        sample = sample[len(UTF8_BOM) :]
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        text = decoder.decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{path.name}: not valid {encoding} text (use --encoding gb18030 for GBK exports)",
            {"file": path.name, "encoding": encoding},
        ) from exc
    rows = list(csv.reader(io.StringIO(text.split("\n", 1)[0])))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ValidationFailed(f"{path.name}: the file is empty or has no header line", {"file": path.name})
    return [cell.strip() for cell in rows[0]]


class NotUtf8(Exception):
    """Raised mid-file when a chunk is not UTF-8, so an auto-detected file can be re-read as GB18030."""

    def __init__(self, file_index: int, message: str) -> None:
        super().__init__(message)
        self.file_index = file_index


class _HashingReader(io.RawIOBase):
    """A file wrapper that hashes and counts the bytes PyArrow pulls, for the file hash and progress."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("rb")
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.bytes_read += n
        return n or 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.sha256.update(data)
        self.bytes_read += len(data)
        return data

    def close(self) -> None:
        self._fh.close()
        super().close()


@dataclass
class InvalidRow:
    row: int
    text: str
    reason: str


@dataclass
class FileStream:
    """Batches of one file, plus what the read learned: bad-shaped rows, bytes, hash."""

    path: Path
    encoding: str
    match: HeaderMatch
    header_width: int
    file_index: int
    invalid_rows: list[InvalidRow]
    bytes_read: int = 0
    sha256: str = ""
    rows_read: int = 0

    def batches(self, on_bytes: Callable[[int], None] | None = None) -> Iterator[pa.Table]:
        """Yield tables with the kind's canonical columns (text) plus ``_file`` and ``_row``."""
        raw = _HashingReader(self.path)
        source: Any = pa.PythonFile(raw, mode="r")
        if is_gzip(self.path):
            source = pa.CompressedInputStream(source, "gzip")
        names = [f"c{i}" for i in range(self.header_width)]
        wanted = sorted(set(self.match.positions.values()))
        pending: list[int] = []

        def on_invalid(row: Any) -> str:
            # ``number`` counts records including the header line, so the data row is number - 1.
            data_row = int(row.number) - 1 if row.number is not None else -1
            pending.append(data_row)
            self.invalid_rows.append(
                InvalidRow(
                    data_row,
                    (row.text or "")[:500],
                    f"expected {row.expected_columns} fields, found {row.actual_columns}",
                )
            )
            return "skip"

        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=1,
                block_size=BLOCK_SIZE,
                use_threads=False,
                encoding="utf8" if self.encoding == "utf-8" else self.encoding,
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={names[i]: pa.string() for i in wanted},
                include_columns=[names[i] for i in wanted],
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        next_row = 1
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                    if self.encoding == "utf-8" and (
                        "UTF8" in str(exc) or isinstance(exc, UnicodeDecodeError)
                    ):
                        raise NotUtf8(self.file_index, str(exc)) from exc
                    raise ValidationFailed(
                        f"{self.path.name}: cannot parse CSV: {exc}", {"file": self.path.name}
                    ) from exc
                rows, next_row = _row_numbers(next_row, batch.num_rows, pending)
                self.rows_read += batch.num_rows
                yield self._canonical(batch, rows)
                if on_bytes is not None:
                    on_bytes(raw.bytes_read)
        finally:
            raw.close()
        self.rows_read += len(self.invalid_rows)
        self.bytes_read = raw.bytes_read
        self.sha256 = raw.sha256.hexdigest()

    def _canonical(self, batch: pa.RecordBatch, rows: pa.Array) -> pa.Table:
        arrays: list[pa.Array] = []
        names: list[str] = []
        for col in self.match.kind.columns:
            pos = self.match.positions.get(col.name)
            arrays.append(
                batch.column(f"c{pos}") if pos is not None else pa.nulls(batch.num_rows, pa.string())
            )
            names.append(col.name)
        for name in self.match.kind.absent:
            arrays.append(pa.nulls(batch.num_rows, pa.string()))
            names.append(name)
        arrays.append(pa.array(np.full(batch.num_rows, self.file_index, dtype=np.int32)))
        arrays.append(rows)
        names += ["_file", "_row"]
        return pa.Table.from_arrays(arrays, names=names)


def _row_numbers(start: int, count: int, skipped: list[int]) -> tuple[pa.Array, int]:
    """Data row numbers for a batch of ``count`` rows, stepping over rows the parser skipped."""
    if not skipped:
        return pa.array(np.arange(start, start + count, dtype=np.int64)), start + count
    skip = set(skipped)
    numbers: list[int] = []
    n = start
    while len(numbers) < count:
        if n in skip:
            skip.discard(n)
        else:
            numbers.append(n)
        n += 1
    # Skipped rows inside this batch's span are consumed; later ones stay pending.
    skipped[:] = sorted(s for s in skip if s >= n)
    return pa.array(numbers, pa.int64()), n
