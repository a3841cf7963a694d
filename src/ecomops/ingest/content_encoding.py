"""Request bodies of the Segment endpoints, decoded from their ``Content-Encoding`` under a hard cap.

Real SDKs compress what they send (RudderStack's Python SDK gzips every batch by default, Segment's does
with ``gzip=True``), so ``/v1/*`` accepts ``gzip``/``x-gzip`` and ``deflate`` besides ``identity``. The
size limits (500 KB a batch, 32 KB an event) apply to the *decompressed* body, and the body is inflated
incrementally as it arrives: a decompression bomb is cut off as soon as the output passes the limit, so at
most ``limit + 1`` bytes are ever produced and at most ``limit`` compressed bytes are ever read.

Kept free of FastAPI (it reads any async stream of chunks) so the accounting can be tested directly.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from ecomops.kernel.errors import BadRequest, EcomopsError, PayloadTooLarge

#: Codings as they may appear in the header, mapped to the decoder that undoes them.
CODINGS = {"identity": "identity", "gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
SUPPORTED = tuple(CODINGS)


class UnsupportedEncoding(EcomopsError):
    """415, with the one error shape: a ``Content-Encoding`` this API cannot undo."""

    status_code = 415
    code = "unsupported_content_encoding"


def parse_content_encoding(header: str | None) -> str:
    """The one coding to undo: ``identity``, ``gzip`` or ``deflate`` (names are case-insensitive).

    ``identity`` tokens are ignored; stacked codings (``gzip, deflate``) and anything else answer 415."""
    tokens = [t.strip().lower() for t in (header or "").split(",")]
    codings = [t for t in tokens if t and t != "identity"]
    if not codings:
        return "identity"
    if len(codings) == 1 and codings[0] in CODINGS:
        return CODINGS[codings[0]]
    raise UnsupportedEncoding(
        f"Content-Encoding {(header or '').strip()!r} is not supported: send the body as is, "
        "or compressed once with gzip or deflate" + (" (one coding only)" if len(codings) > 1 else ""),
        {"content_encoding": header, "supported": list(SUPPORTED)},
    )


def _is_zlib_header(head: bytes) -> bool:
    """RFC 1950: method 8 (deflate), window ≤ 32 KB, and the two bytes a multiple of 31."""
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


@dataclass
class Inflater:
    """Undo one gzip or deflate body chunk by chunk, never producing more than ``limit + 1`` bytes.

    ``deflate`` is zlib-wrapped (RFC 1950) by the standard, but many clients send a raw deflate stream
    (RFC 1951): the first two bytes tell which, as browsers and servers commonly decide. A gzip body may
    hold several members (RFC 1952) and zero padding after them; anything else after the end is corrupt.
    """

    coding: str
    limit: int
    compressed_bytes: int = 0
    decompressed_bytes: int = 0
    _inflater: zlib._Decompress | None = field(default=None, repr=False)
    _head: bytes = field(default=b"", repr=False)

    def feed(self, data: bytes) -> bytes:
        """Inflate the next chunk; raises 413 as soon as the output passes the limit, 400 if corrupt."""
        self.compressed_bytes += len(data)
        out: list[bytes] = []
        if self._inflater is None:
            data = self._start(data)
        while data:
            assert self._inflater is not None
            if self._inflater.eof:
                data = self._next_member(data)
                continue
            budget = self.limit - self.decompressed_bytes + 1
            try:
                piece = self._inflater.decompress(data, budget)
            except zlib.error as exc:
                raise self._corrupt(str(exc)) from None
            self.decompressed_bytes += len(piece)
            if self.decompressed_bytes > self.limit:
                raise PayloadTooLarge(
                    f"decompressed body exceeds the {self.limit // 1024} KB limit",
                    {
                        "limit_bytes": self.limit,
                        "content_encoding": self.coding,
                        "compressed_bytes_read": self.compressed_bytes,
                        "decompressed_bytes": self.decompressed_bytes,
                    },
                )
            out.append(piece)
            # Input is left over only when the output budget ran out (just raised) or the stream ended.
            data = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
        return b"".join(out)

    def finish(self) -> None:
        """The body ended: a stream cut short (or no stream at all) is corrupt."""
        if self._inflater is None or not self._inflater.eof:
            raise self._corrupt("the compressed data is empty or truncated")

    def _start(self, data: bytes) -> bytes:
        if self.coding == "gzip":
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return data
        self._head += data
        if len(self._head) < 2:
            return b""
        wbits = zlib.MAX_WBITS if _is_zlib_header(self._head) else -zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)
        data, self._head = self._head, b""
        return data

    def _next_member(self, data: bytes) -> bytes:
        if self.coding != "gzip":
            raise self._corrupt("data after the end of the deflate stream")
        data = data.lstrip(b"\x00")
        if data:
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return data

    def _corrupt(self, reason: str) -> BadRequest:
        return BadRequest(
            f"Content-Encoding is {self.coding} but the body is not valid {self.coding} data: {reason}",
            {"content_encoding": self.coding},
            code="malformed_compressed_body",
        )


async def read_body(
    chunks: AsyncIterable[bytes], limit: int, coding: str = "identity", content_length: str | None = None
) -> bytes:
    """The whole body, decoded, at most ``limit`` bytes once decoded (413 otherwise).

    The compressed body is capped at ``limit`` too: a body that does not even compress to the limit
    cannot fit it once inflated."""
    if coding == "identity":
        return await _read_identity(chunks, limit, content_length)
    label = f"{coding}-compressed body"
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(
            f"{label} of {int(content_length)} bytes exceeds the {limit // 1024} KB limit",
            {"limit_bytes": limit, "content_encoding": coding},
        )
    inflater = Inflater(coding, limit)
    out: list[bytes] = []
    async for chunk in chunks:
        if inflater.compressed_bytes + len(chunk) > limit:
            raise PayloadTooLarge(
                f"{label} exceeds the {limit // 1024} KB limit",
                {"limit_bytes": limit, "content_encoding": coding},
            )
        out.append(inflater.feed(chunk))
    inflater.finish()
    return b"".join(out)


async def _read_identity(chunks: AsyncIterable[bytes], limit: int, content_length: str | None) -> bytes:
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(
            f"body of {int(content_length)} bytes exceeds the {limit // 1024} KB limit",
            {"limit_bytes": limit},
        )
    out: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the {limit // 1024} KB limit", {"limit_bytes": limit})
        out.append(chunk)
    return b"".join(out)
