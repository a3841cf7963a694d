"""Which customer attributes are personal data, and how they are spotted in Segment traits.

Kept free of database imports so the ingest edge (``ingest.messages``) can use it on the hot path.
"""

from __future__ import annotations

from typing import Any

import orjson

#: Fields the vault stores (one ciphertext column each in ``customer_pii``).
PII_FIELDS = ("name", "first_name", "last_name", "email", "phone", "address", "birthday")

#: Segment trait names (spec spellings and common variants) → vault field. Anything listed here is
#: moved out of ``traits`` at the edge; it never reaches the WAL or the warehouse in clear text.
TRAIT_FIELDS: dict[str, str] = {
    "name": "name",
    "first_name": "first_name",
    "firstName": "first_name",
    "last_name": "last_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "phone_number": "phone",
    "phoneNumber": "phone",
    "mobile": "phone",
    "address": "address",
    "birthday": "birthday",
}
#: Cheap pre-check on raw JSON: traits without any of these substrings cannot hold PII keys.
_NEEDLES = tuple(f'"{key}"'.encode() for key in TRAIT_FIELDS)


def _as_text(value: Any) -> str | None:
    """Trait values as vault text: strings trimmed, objects (an address) as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value else None
    return str(value)


def may_hold_pii(raw: bytes) -> bool:
    """False only if no PII key can be in this JSON; a ``\\u`` escape could spell one, so it counts."""
    return b"\\u" in raw or any(needle in raw for needle in _NEEDLES)


def split_traits(traits: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(traits without PII keys, vault fields)``; the first spelling of a field wins."""
    kept: dict[str, Any] = {}
    pii: dict[str, str] = {}
    for key, value in traits.items():
        field = TRAIT_FIELDS.get(key)
        if field is None:
            kept[key] = value
            continue
        text = _as_text(value)
        if text is not None and field not in pii:
            pii[field] = text
    return kept, pii
