"""JSON encoding that never fails on values JSON itself allows.

orjson is fast but refuses integers beyond 64 bits and lone surrogates, both of which a client may
legitimately send inside ``properties`` or ``context``; the standard library encodes them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def money_strings(row: dict[str, Any]) -> dict[str, Any]:
    """Decimals as strings (JSON numbers would lose cents in some clients), nested rows too."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, list):
            out[key] = [money_strings(v) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict):
            out[key] = money_strings(value)
        else:
            out[key] = value
    return out
