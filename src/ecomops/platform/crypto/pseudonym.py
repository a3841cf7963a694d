"""Keyed pseudonyms for e-mail addresses found in order exports.

The warehouse must not hold PII, yet repeat-purchase analytics need "the same buyer". A keyed
hash (HMAC-SHA256 of the trimmed, lower-cased address under a per-tenant secret) gives a stable id
that cannot be reversed or recomputed without the secret — unlike a plain hash, which anyone can
brute-force from a list of addresses. Erasing a tenant's key turns its pseudonyms into noise.

Where the secret lives is behind ``PseudonymKeys`` so the security work (envelope-encrypted keys
in the operational store) can replace ``FileKeys`` without touching the importers. ``FileKeys``
keeps one random 256-bit key per tenant in ``<data dir>/keys/pseudonym/<tenant id>.key`` (mode 0600),
created on first use; server and CLI share the data dir, so both derive the same pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

KEY_BYTES = 32
#: 128 bits of the HMAC: collision-free for any realistic customer count, short enough to read.
PSEUDONYM_HEX = 32


class PseudonymKeys(Protocol):
    def key_for(self, tenant_id: str) -> bytes: ...


@runtime_checkable
class EmailVault(Protocol):
    """Optional extra of a ``PseudonymKeys``: keep each address, encrypted, under its pseudonym
    (``privacy.vault.VaultPseudonymKeys``), so the customers API can find and show imported buyers."""

    def remember_emails(self, tenant_id: str, pairs: list[tuple[str, str]]) -> None: ...


@dataclass(frozen=True)
class FileKeys:
    directory: Path

    def key_for(self, tenant_id: str) -> bytes:
        if not tenant_id or any(ch in tenant_id for ch in "/\\."):
            raise ValueError(f"unusable tenant id for a key file: {tenant_id!r}")
        path = self.directory / f"{tenant_id}.key"
        try:
            return self._read(path)
        except FileNotFoundError:
            pass
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.directory / f".{tenant_id}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # link() fails if another process created the key first; then everyone uses that one.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return self._read(path)

    @staticmethod
    def _read(path: Path) -> bytes:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"pseudonym key {path} is damaged ({len(key)} bytes, expected {KEY_BYTES})")
        return key


def file_keys(data_dir: Path) -> FileKeys:
    return FileKeys(data_dir / "keys" / "pseudonym")


def pseudonymize_email(key: bytes, email: str) -> str:
    normalized = email.strip().lower()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def pseudonymize_emails(key: bytes, emails: list[str | None]) -> list[str | None]:
    """Pseudonyms for a column of addresses; blanks stay None (a guest, not a shared customer)."""
    return [pseudonymize_email(key, e) if e is not None and e.strip() else None for e in emails]
