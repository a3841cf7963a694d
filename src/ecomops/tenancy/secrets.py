"""How the tenancy module stores secrets it hands out once (write keys, API keys): their SHA-256."""

from __future__ import annotations

import hashlib


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
