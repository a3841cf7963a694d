"""JSON nesting depth without recursion, and a batch body split into its messages the same way.

Why: msgspec and orjson decode nested JSON recursively. An event nested a thousand levels deep makes
them raise ``RecursionError`` for the whole body, so one hostile event would cost its batch (and, before
this module, answered 500). The scanner here walks tokens with a regular expression and a counter, so it
cannot run out of stack: ``depth`` tells whether one event is too deep (a per-event rejection) and
``split_batch`` finds the messages of a batch whose body msgspec could not walk, so the good events
beside a deep one are still stored.

Only brackets outside strings count; strings are matched whole (escapes included), so ``"{"`` in a value
is not a level. The scanner trusts msgspec for everything else: it does not validate JSON.
"""

from __future__ import annotations

import re

#: A string (with escapes) or one structural character. Strings are matched so their brackets are skipped.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
_STRUCTURAL = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_OPEN = frozenset(b"[{")
_WHITESPACE = b" \t\r\n"


def depth(raw: bytes) -> int:
    """The deepest nesting of objects and arrays in ``raw`` (``{}`` is 1)."""
    if raw.count(b"{") + raw.count(b"[") <= 1:
        return raw.count(b"{") + raw.count(b"[")
    level = deepest = 0
    for match in _STRUCTURAL.finditer(raw):
        first = match.group()[0]
        if first in _OPEN:
            level += 1
            deepest = max(deepest, level)
        elif first != 34:  # closing bracket; 34 is '"'
            level -= 1
    return deepest


def exceeds(raw: bytes, limit: int) -> bool:
    """Whether ``raw`` nests deeper than ``limit``; counting brackets first keeps ordinary events cheap."""
    return raw.count(b"{") + raw.count(b"[") > limit and depth(raw) > limit


class Unsplittable(ValueError):
    """The body's brackets do not balance or it has no ``batch`` array: it is not a batch body."""


def split_batch(body: bytes) -> tuple[list[bytes], bytes]:
    """The raw messages of the top-level ``batch`` array, and the body with that array emptied.

    The emptied body keeps ``sentAt``, ``context`` and ``writeKey`` for the ordinary decoder. Used only
    when that decoder gave up on the nesting, so speed matters less than never recursing.
    """
    level = 0
    key: bytes | None = None
    batch_start = batch_end = -1
    starts: list[int] = []
    messages: list[bytes] = []
    for match in _TOKENS.finditer(body):
        token, at = match.group(), match.start()
        first = token[0]
        if first == 34:  # a string: remember a key of the top-level object
            if level == 1:
                key = token
            continue
        if token == b":" or (token == b"," and level != 2):
            continue
        if batch_start >= 0 and batch_end < 0 and level == 2 and first in b",]":
            item = body[starts[-1] : at].strip(_WHITESPACE)
            if item:
                messages.append(item)
            elif token == b"," or messages:
                raise Unsplittable("an empty item in the batch array")
            if token == b",":
                starts.append(at + 1)
                continue
        if first in _OPEN:
            level += 1
            if level == 2 and first == ord("[") and key == b'"batch"' and batch_start < 0:
                batch_start = at
                starts.append(at + 1)
        else:
            if token == b",":
                continue
            level -= 1
            if level < 0:
                raise Unsplittable("a closing bracket without its opening one")
            if level == 1 and batch_start >= 0 and batch_end < 0:
                batch_end = at + 1
    if level != 0:
        raise Unsplittable("the brackets do not balance")
    if batch_start < 0 or batch_end < 0:
        raise Unsplittable("no batch array at the top level")
    return messages, body[:batch_start] + b"[]" + body[batch_end:]
