"""Per-tenant write-ahead log: NDJSON segments that make an acknowledgement durable.

Ingest acknowledges a request once its lines are written and fsynced here; the loader
then moves them into DuckDB and records the loaded offset in the same transaction, so
after a crash (even ``kill -9``) replay loads exactly what was not loaded yet. A torn
tail (a write cut short by the crash, never acknowledged) is cut at the last newline.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STREAMS = ("events", "dead")
SEGMENT_RE = re.compile(r"^(events|dead)-(\d{20})\.ndjson$")
SEGMENT_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class _Open:
    number: int
    path: Path
    fd: int
    size: int


@dataclass
class TenantWal:
    """Segments of one tenant. The writer appends and syncs; the loader reads up to ``durable``."""

    directory: Path
    segment_max_bytes: int = SEGMENT_MAX_BYTES
    #: segment file name → bytes known to be fsynced (the loader never reads past this).
    durable: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _open: dict[str, _Open] = field(default_factory=dict)
    _group_start: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.iterdir():
            if SEGMENT_RE.match(path.name):
                self.durable[path.name] = _cut_torn_tail(path)

    def segments(self, stream: str) -> list[str]:
        with self.lock:
            names = [n for n in self.durable if n.startswith(stream + "-")]
        return sorted(names)

    def _current(self, stream: str) -> _Open:
        current = self._open.get(stream)
        if current is not None:
            return current
        existing = [
            int(m.group(2)) for n in self.durable if (m := SEGMENT_RE.match(n)) and m.group(1) == stream
        ]
        # Numbers never repeat, even after every segment was loaded and deleted: a name that came back
        # could meet a stale offset row and skip acknowledged lines. Time keeps them rising across restarts.
        number = max([*existing, time.time_ns() - 1]) + 1
        path = self.directory / f"{stream}-{number:020d}.ndjson"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        opened = _Open(number, path, fd, 0)
        self._open[stream] = opened
        with self.lock:
            self.durable[path.name] = 0
        _fsync_dir(self.directory)
        return opened

    def append(self, stream: str, data: bytes) -> None:
        """Write without syncing; ``sync`` makes every append so far durable."""
        current = self._current(stream)
        view = memoryview(data)
        while view:
            written = os.write(current.fd, view)
            view = view[written:]
        current.size += len(data)

    def begin(self) -> None:
        """Remember where a group commit starts, for ``rollback``."""
        self._group_start = {o.path.name: o.size for o in self._open.values()}

    def sync(self) -> None:
        """fsync every open segment (nothing becomes visible to the loader until ``publish``)."""
        for current in self._open.values():
            os.fsync(current.fd)

    def publish(self) -> None:
        """The group is on disk for every tenant: let the loader see it, and roll segments grown too big."""
        for stream, current in list(self._open.items()):
            with self.lock:
                self.durable[current.path.name] = current.size
            if current.size >= self.segment_max_bytes:
                os.close(current.fd)
                del self._open[stream]

    def commit(self) -> None:
        """sync + publish, for a single writer outside a group commit (tests, tools)."""
        self.sync()
        self.publish()

    def rollback(self) -> None:
        """A group commit failed (for any tenant): cut every segment back to where the group started, so
        its refused requests are neither loaded later (their retries would be stored twice) nor left
        behind to misalign the offsets. Nothing of the group was published, so the loader never saw it."""
        for current in self._open.values():
            self._group_start.setdefault(current.path.name, 0)  # created by this group
        for name, keep in self._group_start.items():
            opened = next((o for o in self._open.values() if o.path.name == name), None)
            try:
                os.truncate(self.directory / name, keep)
            except OSError:
                # Cannot repair it: stop writing there; the next append starts a new segment.
                if opened is not None:
                    os.close(opened.fd)
                    self._open = {k: v for k, v in self._open.items() if v is not opened}
            else:
                if opened is not None:
                    opened.size = keep

    def read(self, name: str, start: int) -> bytes:
        """Durable bytes of a segment from ``start`` (whole lines only)."""
        with self.lock:
            end = self.durable.get(name, 0)
        if end <= start:
            return b""
        with open(self.directory / name, "rb") as fh:
            fh.seek(start)
            return fh.read(end - start)

    def is_current(self, name: str) -> bool:
        return any(o.path.name == name for o in self._open.values())

    def drop(self, name: str) -> None:
        """Delete a fully loaded, no longer written segment."""
        with self.lock:
            self.durable.pop(name, None)
        (self.directory / name).unlink(missing_ok=True)

    def close(self) -> None:
        for current in self._open.values():
            os.close(current.fd)
        self._open.clear()


def _cut_torn_tail(path: Path) -> int:
    """Truncate anything after the last newline (an unacknowledged partial write) and return the size."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        pos = size
        chunk = 1 << 16
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            block = fh.read(pos - start)
            idx = block.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        else:
            keep = 0
        if keep != size:
            fh.truncate(keep)
            os.fsync(fh.fileno())
    return keep


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
