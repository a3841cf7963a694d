"""Compressed request bodies on every ``/v1/*`` route: gzip and deflate accepted, limits applied after
decompression, bombs cut off with bounded work, corrupt or unknown encodings refused with nothing stored."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time
import tracemalloc
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ecomops.ingest.content_encoding import Inflater, UnsupportedEncoding, parse_content_encoding, read_body
from ecomops.ingest.messages import MAX_BATCH_BYTES, MAX_EVENT_BYTES
from ecomops.kernel.errors import BadRequest, PayloadTooLarge
from ecomops.platform.context import TenantInfo
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, LiveServer

Compress = Callable[[bytes], bytes]


def deflate_zlib(data: bytes) -> bytes:
    """``deflate`` as RFC 9110 defines it: a zlib (RFC 1950) stream."""
    return zlib.compress(data)


def deflate_raw(data: bytes) -> bytes:
    """``deflate`` as many clients send it: a bare RFC 1951 stream."""
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def gzip_two_members(data: bytes) -> bytes:
    """RFC 1952 allows several members back to back (``cat a.gz b.gz``)."""
    half = len(data) // 2
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


#: (Content-Encoding header as sent, compressor): names are case-insensitive.
CODINGS: dict[str, tuple[str, Compress]] = {
    "gzip": ("gzip", gzip.compress),
    "x-gzip": ("X-GZIP", gzip.compress),
    "gzip-members": ("gzip", gzip_two_members),
    "deflate-zlib": ("Deflate", deflate_zlib),
    "deflate-raw": ("deflate", deflate_raw),
}

CALLS: dict[str, dict[str, object]] = {
    "track": {"event": "Product Viewed", "userId": "u1", "properties": {"product_id": "p1", "price": 9.5}},
    "identify": {"userId": "u1", "traits": {"plan": "gold"}},
    "page": {"anonymousId": "a1", "name": "Home", "properties": {"url": "https://shop.example/"}},
    "screen": {"anonymousId": "a1", "name": "Cart"},
    "group": {"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}},
    "alias": {"userId": "u1", "previousId": "a1"},
}


def mid() -> str:
    return str(uuid.uuid4())


def post(
    client: httpx.Client, path: str, body: bytes, encoding: str | None, **headers: str
) -> httpx.Response:
    sent = {"content-type": "application/json", **headers}
    if encoding is not None:
        sent["content-encoding"] = encoding
    return client.post(path, content=body, headers=sent)


def nothing_stored(server: InProcServer) -> bool:
    events = server.query("SELECT count(*) FROM events")
    dead = server.query("SELECT count(*) FROM ingest_dead_letters")
    return events == [(0,)] and dead == [(0,)]


# -- every route, every coding, over real HTTP ----------------------------------------------------


@pytest.mark.parametrize("coding", list(CODINGS))
def test_every_route_accepts_compressed_bodies(server: InProcServer, coding: str) -> None:
    header, compress = CODINGS[coding]
    sent: dict[str, str] = {}
    with server.client() as c:
        for kind, call in CALLS.items():
            message_id = f"{coding}-{kind}"
            body = json.dumps({**call, "messageId": message_id}).encode()
            r = post(c, f"/v1/{kind}", compress(body), header)
            assert r.status_code == 200, r.text
            assert r.json() == {"success": True, "accepted": 1, "duplicates": 0, "rejected": []}
            sent[message_id] = kind
        batch = [
            {**call, "type": kind, "messageId": f"{coding}-batch-{kind}"} for kind, call in CALLS.items()
        ]
        r = post(c, "/v1/batch", compress(json.dumps({"batch": batch}).encode()), header)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == len(CALLS)
        sent.update({m["messageId"]: m["type"] for m in batch})  # type: ignore[misc]
    rows = server.query("SELECT message_id, type FROM events")
    assert dict(rows) == sent
    track = server.query(
        "SELECT event, product_id, properties->>'price' FROM events WHERE type = 'track' ORDER BY message_id"
    )
    assert track == [("Product Viewed", "p1", "9.5")] * 2
    assert server.query("SELECT DISTINCT traits->>'plan' FROM events WHERE type = 'identify'") == [("gold",)]


def test_identity_and_empty_encodings_are_plain_bodies(server: InProcServer) -> None:
    with server.client() as c:
        for n, header in enumerate(["identity", "IDENTITY", "", "identity , identity"]):
            body = json.dumps({**CALLS["track"], "messageId": f"plain-{n}"}).encode()
            assert post(c, "/v1/track", body, header).status_code == 200
        # identity tokens around one real coding are ignored.
        body = json.dumps({**CALLS["track"], "messageId": "gz-identity"}).encode()
        assert post(c, "/v1/track", gzip.compress(body), "identity, gzip").status_code == 200
    assert server.query("SELECT count(*) FROM events") == [(5,)]


def test_a_chunked_compressed_upload_is_decoded_as_it_arrives(server: InProcServer) -> None:
    batch = [{**CALLS["track"], "type": "track", "messageId": mid()} for _ in range(300)]
    compressed = gzip.compress(json.dumps({"batch": batch}).encode())

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(compressed), 1000):
            yield compressed[start : start + 1000]

    with server.client() as c:
        r = c.post("/v1/batch", content=chunks(), headers={"content-encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 300


def test_strict_mode_and_malformed_json_behave_as_for_plain_bodies(server: InProcServer) -> None:
    batch = [{**CALLS["track"], "type": "track", "messageId": mid()}, {"type": "track", "messageId": mid()}]
    with server.client() as c:
        body = gzip.compress(json.dumps({"batch": batch}).encode())
        r = post(c, "/v1/batch?strict=true", body, "gzip")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_events"
        r = post(c, "/v1/batch", gzip.compress(b'{"batch": ['), "gzip")
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    # The dead letter keeps the decompressed text, as for a plain body.
    assert server.query("SELECT payload FROM ingest_dead_letters") == [('{"batch": [',)]
    assert server.query("SELECT count(*) FROM events") == [(0,)]


# -- limits apply to the decompressed body --------------------------------------------------------


def test_limits_apply_after_decompression(server: InProcServer) -> None:
    # ~600 KB of JSON that gzips to a few KB: fine on the wire, over the 500 KB batch limit once inflated.
    batch = [
        {"type": "track", "event": "A", "userId": "u", "messageId": mid(), "properties": {"p": "z" * 30_000}}
        for _ in range(20)
    ]
    body = json.dumps({"batch": batch}).encode()
    assert len(body) > MAX_BATCH_BYTES and len(gzip.compress(body)) < 10_000
    # 33 KB of one event that deflates to a few hundred bytes: over the 32 KB event limit.
    event = json.dumps({**CALLS["track"], "messageId": mid(), "properties": {"p": "z" * 33_000}}).encode()
    with server.client() as c:
        r = post(c, "/v1/batch", gzip.compress(body), "gzip")
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["code"] == "payload_too_large"
        assert err["message"] == "decompressed body exceeds the 500 KB limit"
        assert err["details"]["decompressed_bytes"] == MAX_BATCH_BYTES + 1
        r = post(c, "/v1/track", deflate_raw(event), "deflate")
        assert r.status_code == 413 and "32 KB" in r.json()["error"]["message"]
        assert r.json()["error"]["details"]["decompressed_bytes"] == MAX_EVENT_BYTES + 1
        # Just under the limit once inflated is accepted.
        fits = json.dumps({"batch": batch[:16]}).encode()
        assert len(fits) < MAX_BATCH_BYTES
        r = post(c, "/v1/batch", gzip.compress(fits), "gzip")
        assert r.status_code == 200 and r.json()["accepted"] == 16
    assert server.query("SELECT count(*) FROM events") == [(16,)]


def test_the_compressed_body_is_capped_too(server: InProcServer) -> None:
    # Random bytes do not compress: a gzip body larger than the limit is refused before inflating.
    noise = random.Random(20261125).randbytes(MAX_EVENT_BYTES + 2000)
    compressed = gzip.compress(noise)
    assert len(compressed) > MAX_EVENT_BYTES

    def chunks() -> Iterator[bytes]:
        yield compressed[: len(compressed) // 2]
        yield compressed[len(compressed) // 2 :]

    with server.client() as c:
        r = post(c, "/v1/track", compressed, "gzip")
        assert r.status_code == 413
        assert r.json()["error"]["message"] == (
            f"gzip-compressed body of {len(compressed)} bytes exceeds the 32 KB limit"
        )
        r = c.post("/v1/track", content=chunks(), headers={"content-encoding": "gzip"})  # no Content-Length
        assert r.status_code == 413
        assert r.json()["error"]["message"] == "gzip-compressed body exceeds the 32 KB limit"
    assert nothing_stored(server)


@pytest.mark.parametrize(("header", "compress"), [("gzip", gzip.compress), ("deflate", deflate_zlib)])
def test_a_bomb_answers_413_after_inflating_no_more_than_the_limit(
    server: InProcServer, header: str, compress: Compress
) -> None:
    bomb = compress(b"\0" * (50 * 1024 * 1024))  # 50 MB of zeros in ~50 KB
    assert 40_000 < len(bomb) < 60_000
    with server.client() as c:
        r = post(c, "/v1/batch", bomb, header)
        assert r.status_code == 413, r.text
        details = r.json()["error"]["details"]
        # The server's own accounting: it inflated the limit plus one byte and then stopped.
        assert details["decompressed_bytes"] == MAX_BATCH_BYTES + 1
        assert details["compressed_bytes_read"] <= len(bomb)
        assert details["content_encoding"] == ("gzip" if header == "gzip" else "deflate")
        # A smaller bomb that fits the 32 KB compressed cap of a single event stops at 32 KB + 1.
        r = post(c, "/v1/track", compress(b"\0" * (20 * 1024 * 1024)), header)
        assert r.status_code == 413
        assert r.json()["error"]["details"]["decompressed_bytes"] == MAX_EVENT_BYTES + 1
        # The server is unharmed.
        ok = json.dumps({**CALLS["track"], "messageId": "after-bomb"}).encode()
        assert post(c, "/v1/track", compress(ok), header).status_code == 200
    assert server.query("SELECT message_id FROM events") == [("after-bomb",)]
    assert server.query("SELECT count(*) FROM ingest_dead_letters") == [(0,)]


# -- refused encodings and corrupt bodies: clear errors, nothing stored ---------------------------


@pytest.mark.parametrize("header", ["br", "zstd", "compress", "gzip, gzip", "deflate, gzip", "gzip;q=1"])
def test_unknown_or_stacked_encodings_answer_415(server: InProcServer, header: str) -> None:
    body = json.dumps({**CALLS["track"], "messageId": mid()}).encode()
    with server.client() as c:
        for path in ("/v1/track", "/v1/batch"):
            r = post(c, path, body, header)
            assert r.status_code == 415, r.text
            err = r.json()["error"]
            assert err["code"] == "unsupported_content_encoding"
            assert err["message"].startswith(f"Content-Encoding {header!r} is not supported")
            assert err["details"] == {
                "content_encoding": header,
                "supported": ["identity", "gzip", "x-gzip", "deflate"],
            }
    assert nothing_stored(server)


CORRUPT: dict[str, tuple[str, bytes, str]] = {
    "plain json sent as gzip": ("gzip", b'{"event": "A"}', "incorrect header check"),
    "truncated gzip": ("gzip", gzip.compress(b'{"batch": []}' * 50)[:-20], "empty or truncated"),
    "empty gzip": ("gzip", b"", "empty or truncated"),
    "bad gzip checksum": (
        "gzip",
        (lambda b: b[:-8] + bytes([b[-8] ^ 0xFF]) + b[-7:])(gzip.compress(b'{"batch": []}')),
        "incorrect data check",
    ),
    "garbage after a gzip member": ("gzip", gzip.compress(b'{"batch": []}') + b"junk!", "header check"),
    "garbage after deflate": ("deflate", deflate_zlib(b'{"batch": []}') + b"junk", "after the end"),
    "one byte of deflate": ("deflate", b"x", "empty or truncated"),
    "truncated deflate": ("deflate", deflate_raw(b'{"batch": []}' * 50)[:-3], "empty or truncated"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_compressed_bodies_answer_400(server: InProcServer, case: str) -> None:
    header, body, reason = CORRUPT[case]
    with server.client() as c:
        r = post(c, "/v1/batch", body, header)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "malformed_compressed_body"
    assert err["message"].startswith(f"Content-Encoding is {header} but the body is not valid {header} data")
    assert reason in err["message"]
    assert err["details"] == {"content_encoding": header}
    assert nothing_stored(server)


def test_trailing_zero_padding_after_gzip_is_tolerated(server: InProcServer) -> None:
    body = json.dumps({**CALLS["track"], "messageId": "padded"}).encode()
    with server.client() as c:
        assert post(c, "/v1/track", gzip.compress(body) + b"\0" * 512, "gzip").status_code == 200


def test_raw_body_limits_and_codes_are_unchanged(server: InProcServer) -> None:
    big = json.dumps({**CALLS["track"], "messageId": mid(), "properties": {"p": "x" * 33_000}}).encode()
    with server.client() as c:
        r = post(c, "/v1/track", big, None)
        assert r.status_code == 413
        assert r.json()["error"] == {
            "code": "payload_too_large",
            "message": f"body of {len(big)} bytes exceeds the 32 KB limit",
            "details": {"limit_bytes": MAX_EVENT_BYTES},
        }
        r = post(c, "/v1/track", b"{", None)
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"


def test_openapi_documents_compressed_bodies(server: InProcServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    for kind in (*CALLS, "batch"):
        operation = spec["paths"][f"/v1/{kind}"]["post"]
        assert {"200", "400", "401", "413", "415", "429"} <= set(operation["responses"])
        assert "Content-Encoding: gzip" in operation["description"]
        assert "decompress" in operation["responses"]["413"]["description"]


# -- the decoder itself: bounded work and memory, exact round trips ------------------------------


async def _chunks(data: bytes, size: int, taken: list[int]) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        taken.append(size)
        yield data[start : start + size]


def _read(data: bytes, limit: int, coding: str, chunk: int, taken: list[int] | None = None) -> bytes:
    return asyncio.run(read_body(_chunks(data, chunk, taken if taken is not None else []), limit, coding))


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_bomb_is_cut_off_with_bounded_memory(coding: str) -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024)) if coding == "gzip" else deflate_raw(b"\0" * 50_000_000)
    taken: list[int] = []
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as caught:
            _read(bomb, MAX_BATCH_BYTES, coding, 16 * 1024, taken)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    details = caught.value.details
    assert details["decompressed_bytes"] == MAX_BATCH_BYTES + 1
    # 16 KB of zeros' deflate inflates to ~16 MB: the very first chunk passes the limit, no more is read.
    assert taken == [16 * 1024] and details["compressed_bytes_read"] == 16 * 1024
    # Peak Python memory while decoding: the capped output and zlib's window, not 50 MB.
    assert peak < 2 * MAX_BATCH_BYTES + 256 * 1024, peak


def test_the_inflater_never_produces_more_than_the_limit_plus_one() -> None:
    inflater = Inflater("gzip", limit=1000)
    bomb = gzip.compress(b"a" * 1_000_000)
    with pytest.raises(PayloadTooLarge):
        for start in range(0, len(bomb), 7):
            inflater.feed(bomb[start : start + 7])
    assert inflater.decompressed_bytes == 1001
    assert inflater.compressed_bytes < len(bomb)


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=5000) | st.text(max_size=3000).map(str.encode),
    chunk=st.integers(min_value=1, max_value=700),
    coding=st.sampled_from(["gzip", "gzip-members", "deflate-zlib", "deflate-raw"]),
)
def test_any_body_round_trips_whatever_the_chunking(body: bytes, chunk: int, coding: str) -> None:
    header, compress = CODINGS[coding]
    assert _read(compress(body), 20_000, parse_content_encoding(header), chunk) == body


def test_parse_content_encoding() -> None:
    assert parse_content_encoding(None) == "identity"
    assert parse_content_encoding("GZip") == "gzip"
    assert parse_content_encoding("x-gzip") == "gzip"
    assert parse_content_encoding("identity, DEFLATE") == "deflate"
    for bad in ("br", "gzip, deflate", "*"):
        with pytest.raises(UnsupportedEncoding):
            parse_content_encoding(bad)


def test_an_empty_gzip_body_is_corrupt_not_empty_json() -> None:
    with pytest.raises(BadRequest) as caught:
        _read(b"", 100, "gzip", 10)
    assert caught.value.code == "malformed_compressed_body"


def _wait_until_loaded(server: LiveServer, tenant: TenantInfo, count: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        r = httpx.post(
            f"{server.url}/api/v1/t/{tenant.slug}/query",
            headers={"Authorization": f"Bearer {server.token}"},
            json={"sql": "SELECT count(*) FROM events"},
            timeout=30,
        )
        if r.status_code == 200 and r.json()["rows"] == [[count]]:
            return
        assert time.monotonic() < deadline, f"{count} event(s) not loaded in 30 s: {r.text}"
        time.sleep(0.05)


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak RSS from /proc")
def test_bombs_leave_the_server_process_memory_flat(
    live_server: LiveServer, engine: Engine, tenant: TenantInfo
) -> None:
    """A real ``ecomops serve`` process: 20 bombs of 50 MB each barely move its peak resident memory."""
    _, write_key = tenancy.create_source(engine, tenant.slug, "site", "web")
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with httpx.Client(base_url=live_server.url, auth=(write_key, ""), timeout=30) as c:
        warm = json.dumps({**CALLS["track"], "messageId": "warm"}).encode()
        assert post(c, "/v1/track", gzip.compress(warm), "gzip").status_code == 200
        # Let the first load open the tenant's warehouse (DuckDB's own memory) before measuring.
        _wait_until_loaded(live_server, tenant, 1)
        assert post(c, "/v1/batch", bomb, "gzip").status_code == 413
        before = _peak_rss_kib(live_server.proc.pid)
        for _ in range(20):
            r = post(c, "/v1/batch", bomb, "gzip")
            assert r.status_code == 413
            assert r.json()["error"]["details"]["decompressed_bytes"] == MAX_BATCH_BYTES + 1
        grown = _peak_rss_kib(live_server.proc.pid) - before
    # Inflating one bomb in full would take 50 MB at once.
    assert grown < 16 * 1024, f"peak RSS grew by {grown} KiB"
