"""Write-key authentication for the Segment endpoints, cached so ingest doesn't hit the store per request.

A key revoked through this server stops at once (``forget``); revoked elsewhere (the CLI, another
process), it keeps working for at most ``POSITIVE_TTL`` seconds on a running server.
"""

from __future__ import annotations

import base64
import binascii
import time

from fastapi import Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from ecomops.tenancy.service import SourceInfo, source_for_write_key

POSITIVE_TTL = 60.0
NEGATIVE_TTL = 5.0


def write_key_from_headers(request: Request) -> str | None:
    """Segment SDKs send the key as the Basic username (empty password); servers often use Bearer."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key = decoded.partition(":")[0]
        return key or None
    return None


class WriteKeyCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, tuple[float, SourceInfo | None]] = {}

    async def resolve(self, write_key: str) -> SourceInfo | None:
        now = time.monotonic()
        hit = self._cache.get(write_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        source = await run_in_threadpool(source_for_write_key, self.engine, write_key)
        ttl = POSITIVE_TTL if source is not None else NEGATIVE_TTL
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[write_key] = (now + ttl, source)
        return source

    def forget(self, owner_id: str) -> None:
        """Drop every cached key of source ``owner_id`` (revoked or rotated here: refused at once)."""
        for key, (_, source) in list(self._cache.items()):
            if source is not None and source.id == owner_id:
                self._cache.pop(key, None)
