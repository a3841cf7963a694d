"""JSON encoding that never fails on values JSON itself allows, and the JSON form of typed results.

orjson is fast but refuses integers beyond 64 bits and lone surrogates, both of which a client may
legitimately send inside ``properties`` or ``context``; the standard library encodes them.

Service functions return typed results (dataclasses with Decimal money and datetime times); the API
serialises them through pydantic as its ``response_model``, and ``json_form`` gives a command's
``--json`` output exactly that JSON, so both paths print the same bytes for the same answer.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

import orjson
from pydantic import PlainSerializer, TypeAdapter


def _isoformat(value: datetime) -> str:
    return value.isoformat()


#: A datetime written as ``datetime.isoformat()`` ("+00:00" and the local offset kept, where pydantic
#: would write "Z"): the format of answers that were built as JSON dicts before they were typed.
IsoDateTime = Annotated[datetime, PlainSerializer(_isoformat, return_type=str, when_used="json")]


@lru_cache(maxsize=256)
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def json_form(value: Any, kind: Any) -> Any:
    """``value`` (declared as ``kind``, e.g. ``list[Rule]``) as the API answers it: aliases, Decimal
    strings, the fields' own serialisers; plain JSON types, ready for ``json.dumps``."""
    return _adapter(kind).dump_python(value, mode="json", by_alias=True)


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
