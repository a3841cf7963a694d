"""JSON encoding that never fails on values JSON itself allows.

orjson is fast but refuses integers beyond 64 bits and lone surrogates, both of which a client may
legitimately send inside ``properties`` or ``context``; the standard library encodes them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()
