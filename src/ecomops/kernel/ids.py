"""Identifiers: sortable random ids for rows we create, stable digests for rows we import."""

from __future__ import annotations

import hashlib
import os
import time


def new_id(prefix: str = "") -> str:
    """Time-ordered 128-bit id (48-bit ms timestamp + 80 random bits) as 26 Crockford base32 chars."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    chars = []
    for _ in range(26):
        chars.append(alphabet[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


def stable_id(*parts: object) -> str:
    """Deterministic id from natural-key parts so re-imports of the same record collide."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=12)
    return digest.hexdigest()
