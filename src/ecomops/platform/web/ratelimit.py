"""Token-bucket rate limits as a plain ASGI middleware, in process memory or shared through Redis.

Why: one client (a leaked API key, a runaway SDK, a password-guessing script) must not be able to
take the server's capacity from every other tenant. Each request takes one token from every bucket
that applies to it; a bucket refills at ``rate`` tokens per second up to ``burst``. If any bucket is
empty, no bucket is charged and the answer is 429 with ``Retry-After`` (whole seconds until the
emptiest bucket holds a token again) and the usual ``{"error": {code, message, details}}`` body.

Buckets, all from ``Settings.ratelimit_*``:
- ``ip``: every request, per client IP (``scope["client"]``, which uvicorn rewrites from
  X-Forwarded-For only for proxies in ``--forwarded-allow-ips``);
- ``auth``: ``POST /auth/login``, ``/auth/mfa``, ``/auth/step-up`` per client IP, much tighter
  (password and TOTP guessing);
- ``api_key``: management API (``/api/v1/t/...``) per ``Authorization: Bearer`` credential;
- ``write_key``: ingest (``/v1/...``) per write key, from Basic (username) or Bearer here; a key sent
  only as the body's ``writeKey`` is charged by the ingest handler once load shedding admitted the
  request (``write_key_charge``), so this middleware never reads a body.

Credentials are never stored or used as keys: the bucket id is a BLAKE2b digest of the presented
value, so a multi-kilobyte header costs one hash and 32 hex characters of memory. Credentials are
charged before they are validated (the limiter runs in front of authentication), so guessing keys
also spends the guesser's IP bucket.

In memory, buckets live in an LRU dict bounded by ``ratelimit_max_buckets``: buckets that have
refilled completely are dropped (they are the same as absent ones), and past the bound the least
recently used go first. With ``redis_url`` set, one Lua script checks and charges all of a
request's buckets atomically, so several server processes share the limits; if Redis fails the
process falls back to its own memory buckets (limits stay on, per process) and logs a warning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ecomops.kernel.errors import Overloaded
from ecomops.platform.settings import Settings

log = logging.getLogger(__name__)

#: Console sign-in endpoints guarded by the ``auth`` bucket (and anything below them).
#: The console's HTML forms (/login, /login/mfa, /step-up) take passwords and codes too.
AUTH_PATHS = ("/auth/login", "/auth/mfa", "/auth/step-up", "/login", "/step-up")


@dataclass(frozen=True)
class Limit:
    kind: str
    rate: float
    burst: int


class Charge(NamedTuple):
    """One bucket a request takes ``cost`` tokens from: ``bucket`` is ``<kind>:<ip or credential digest>``.

    A NamedTuple, not a dataclass: two are made per request and tuples are several times cheaper.
    ``cost`` is capped at the bucket's burst, so a charge larger than the burst waits for a full bucket
    instead of never passing. A bucket must hold at least one token to pass, so ``cost=0`` asks "is
    this bucket spent?" without charging it (the cost is charged later with ``spend``)."""

    limit: Limit
    bucket: str
    cost: float = 1.0

    @property
    def tokens(self) -> float:
        return min(self.cost, float(self.limit.burst))


@dataclass(frozen=True)
class Denial:
    limit: Limit
    wait: float

    @property
    def retry_after(self) -> int:
        """Whole seconds until a token is back; rounded first so float noise cannot add a second."""
        return max(1, math.ceil(round(self.wait, 6)))


class Buckets(Protocol):
    async def take(self, charges: Sequence[Charge]) -> Denial | None: ...

    async def spend(self, charges: Sequence[Charge]) -> None:
        """Charge after the fact (what a request turned out to cost): never denied, and it may leave the
        bucket in debt down to ``-burst``. Floored at zero, a key could pass a 21-invalid-event request
        each time one token came back (20 such requests/s on a 20/s budget, 21 times the rate); with debt
        the key's sustained rate is the bucket's rate, whatever each request costs."""


class MemoryBuckets:
    """Buckets of one process. ``clock`` is injectable so tests move time instead of sleeping."""

    def __init__(self, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_buckets = max_buckets
        self.clock = clock
        #: bucket id -> [tokens, at, full_at], least recently charged first.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, now: float) -> None:
        # A bucket that has refilled to its burst is indistinguishable from a missing one.
        for _ in range(16):
            if not self._buckets:
                return
            first = next(iter(self._buckets.values()))
            if first[2] > now:
                break
            self._buckets.popitem(last=False)

    def _level(self, charge: Charge, now: float) -> float:
        rate, burst = charge.limit.rate, charge.limit.burst
        state = self._buckets.get(charge.bucket)
        if state is None:
            return float(burst)
        return min(float(burst), state[0] + max(0.0, now - state[1]) * rate)

    def _set(self, charge: Charge, left: float, now: float) -> None:
        self._buckets[charge.bucket] = [left, now, now + (charge.limit.burst - left) / charge.limit.rate]
        self._buckets.move_to_end(charge.bucket)

    def take_now(self, charges: Sequence[Charge]) -> Denial | None:
        now = self.clock()
        self._evict(now)
        levels: list[float] = []
        denial: Denial | None = None
        for charge in charges:
            tokens = self._level(charge, now)
            need = max(1.0, charge.tokens)
            if tokens < need:
                wait = (need - tokens) / charge.limit.rate
                if denial is None or wait > denial.wait:
                    denial = Denial(charge.limit, wait)
            levels.append(tokens)
        if denial is not None:
            return denial
        for charge, tokens in zip(charges, levels, strict=True):
            self._set(charge, tokens - charge.tokens, now)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return None

    def spend_now(self, charges: Sequence[Charge]) -> None:
        now = self.clock()
        for charge in charges:
            self._set(charge, max(-float(charge.limit.burst), self._level(charge, now) - charge.tokens), now)

    async def take(self, charges: Sequence[Charge]) -> Denial | None:
        return self.take_now(charges)

    async def spend(self, charges: Sequence[Charge]) -> None:
        self.spend_now(charges)


#: KEYS: bucket keys; ARGV[1] = now (s), ARGV[2] = 1 to spend (charge the cost, down to a debt of -burst,
#: never denied) or 0 to take, then rate, burst, cost per key. Taking returns {0, "0"} when every bucket
#: held its cost and at least one token (all charged), else {index of the emptiest bucket, seconds until
#: it does}
#: (nothing charged). The wait is a string to keep its fraction (Lua numbers returned to Redis are
#: truncated to integers).
TOKEN_BUCKET_LUA = """
local now = tonumber(ARGV[1])
local spend = tonumber(ARGV[2]) == 1
local levels = {}
local stamps = {}
local costs = {}
local wait = 0
local worst = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[3 * i])
  local burst = tonumber(ARGV[3 * i + 1])
  local cost = tonumber(ARGV[3 * i + 2])
  costs[i] = cost
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
    ts = now
  elseif now > ts then
    tokens = math.min(burst, tokens + (now - ts) * rate)
    ts = now
  end
  local need = math.max(1, cost)
  if tokens < need and not spend then
    local w = (need - tokens) / rate
    if w > wait then
      wait = w
      worst = i
    end
  end
  levels[i] = tokens
  stamps[i] = ts
end
if worst > 0 then
  return {worst, tostring(wait)}
end
for i = 1, #KEYS do
  local rate = tonumber(ARGV[3 * i])
  local burst = tonumber(ARGV[3 * i + 1])
  local left = math.max(-burst, levels[i] - costs[i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(left), 'ts', tostring(stamps[i]))
  redis.call('PEXPIRE', KEYS[i], math.ceil((burst - left) / rate * 1000) + 1000)
end
return {0, '0'}
"""


class RedisBuckets:
    """Buckets shared by every process using the same Redis; one round trip per request.

    Keys carry the hash tag ``{rl}`` so a request's keys share a cluster slot (a multi-key script
    needs that). ``clock`` is wall time: processes on different hosts compare timestamps, so their
    clocks should be NTP-synchronised (skew only shifts refills by the skew).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ecomops:rl:{rl}:",
        clock: Callable[[], float] = time.time,
        fallback: MemoryBuckets | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.clock = clock
        self.fallback = fallback or MemoryBuckets()
        self._client: Any = None
        self._script: Any = None
        self._warned_at = -math.inf
        self._missing_client = False

    def _connect(self) -> Any:
        try:
            import redis.asyncio as redis_asyncio  # imported only when Redis is configured
        except ImportError:
            self._missing_client = True  # a deployment error that retrying per request cannot fix
            log.error("ECOMOPS_REDIS_URL is set but redis-py is not installed: rate limits stay per process")
            raise

        # Short timeouts: a slow Redis must not hold every request; on failure we fall back.
        self._client = redis_asyncio.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(TOKEN_BUCKET_LUA)
        return self._script

    async def _run(self, charges: Sequence[Charge], spend: bool) -> Denial | None:
        args: list[Any] = [repr(self.clock()), int(spend)]
        for charge in charges:
            args += [repr(charge.limit.rate), charge.limit.burst, repr(charge.tokens)]
        fallback = self.fallback.spend if spend else self.fallback.take
        if self._missing_client:
            return await fallback(charges)
        try:
            script = self._script or self._connect()
            worst, wait = await script(keys=[self.prefix + c.bucket for c in charges], args=args)
        except Exception as exc:  # redis-py missing, Redis down or slow: keep limiting, per process
            now = time.monotonic()
            if now - self._warned_at > 30:
                self._warned_at = now
                log.warning("rate limits fall back to process memory: Redis at %s failed: %r", self.url, exc)
            return await fallback(charges)
        worst = int(worst)
        if worst == 0:
            return None
        return Denial(charges[worst - 1].limit, float(wait))

    async def take(self, charges: Sequence[Charge]) -> Denial | None:
        return await self._run(charges, spend=False)

    async def spend(self, charges: Sequence[Charge]) -> None:
        await self._run(charges, spend=True)

    async def connect(self) -> bool:
        """Open the connection now and say whether Redis answers (a failure is logged, not raised)."""
        try:
            self._script or self._connect()
            await self._client.ping()
        except Exception as exc:
            log.warning(
                "rate-limit Redis at %s does not answer (%r); using process memory until it does",
                self.url,
                exc,
            )
            return False
        return True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = self._script = None


def _digest(credential: bytes) -> str:
    return hashlib.blake2b(credential, digest_size=16).hexdigest()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def credential_from_authorization(header: bytes) -> bytes | None:
    """The secret in ``Bearer <secret>`` or the username of ``Basic base64(user:password)``.

    Same rule as ingest/auth.py, so a write key sent either way charges the same bucket.
    """
    scheme, _, value = header.partition(b" ")
    value = value.strip()
    if not value:
        return None
    scheme = scheme.lower()
    if scheme == b"bearer":
        return value
    if scheme == b"basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(b":")[0] or None
    return None


class RateLimiter:
    """The limits from Settings and where buckets live; ``charges`` decides which apply to a request."""

    def __init__(self, settings: Settings, buckets: Buckets | None = None) -> None:
        self.enabled = settings.ratelimit_enabled
        self.ip = Limit("ip", settings.ratelimit_ip_rate, settings.ratelimit_ip_burst)
        self.auth = Limit("auth", settings.ratelimit_auth_rate, settings.ratelimit_auth_burst)
        self.api_key = Limit("api_key", settings.ratelimit_api_key_rate, settings.ratelimit_api_key_burst)
        self.write_key = Limit(
            "write_key", settings.ratelimit_write_key_rate, settings.ratelimit_write_key_burst
        )
        self.write_key_events = Limit(
            "write_key_events",
            settings.ratelimit_write_key_events_rate,
            settings.ratelimit_write_key_events_burst,
        )
        self.write_key_invalid = Limit(
            "write_key_invalid",
            settings.ratelimit_write_key_invalid_rate,
            settings.ratelimit_write_key_invalid_burst,
        )
        if buckets is None:
            memory = MemoryBuckets(settings.ratelimit_max_buckets)
            buckets = RedisBuckets(settings.redis_url, fallback=memory) if settings.redis_url else memory
        self.buckets = buckets

    def write_key_charge(self, key: bytes) -> Charge:
        """The per-request charge of a write key. The middleware takes it for keys sent in a header; the
        ingest handler takes it for a key found in the body, once load shedding has admitted the request
        (reading bodies here, before shedding, would make a flood of body-key requests cost a body read
        each)."""
        return Charge(self.write_key, f"write_key:{_digest(key)}")

    def charges(self, scope: Scope) -> list[Charge]:
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        charges = [Charge(self.ip, f"ip:{ip}")]
        path: str = scope.get("path", "")
        if path.startswith("/v1/"):
            header = _header(scope, b"authorization")
            key = credential_from_authorization(header) if header else None
            if key:
                charges.append(self.write_key_charge(key))
        elif path.startswith("/api/v1/t/"):
            header = _header(scope, b"authorization")
            token = credential_from_authorization(header) if header else None
            if token:
                charges.append(Charge(self.api_key, f"api_key:{_digest(token)}"))
        elif scope.get("method") == "POST" and is_auth_path(path):
            charges.append(Charge(self.auth, f"auth:{ip}"))
        return charges


def is_auth_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in AUTH_PATHS)


_MESSAGES = {
    "ip": "too many requests from this address",
    "auth": "too many sign-in attempts from this address",
    "api_key": "too many requests with this API key",
    "write_key": "too many requests with this write key",
    "write_key_events": "too many events with this write key",
    "write_key_invalid": "too many invalid events with this write key",
}


def denied(denial: Denial) -> Overloaded:
    """The 429 error of a denial, for checks made inside a handler (the middleware answers directly)."""
    seconds = denial.retry_after
    return Overloaded(
        f"{_MESSAGES[denial.limit.kind]}: retry in {seconds} s",
        retry_after=seconds,
        details={
            "limit": denial.limit.kind,
            "rate_per_second": denial.limit.rate,
            "burst": denial.limit.burst,
            "retry_after": seconds,
        },
        code="rate_limited",
    )


def too_many_requests(denial: Denial) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of the 429 answer, in the API's one error shape."""
    seconds = denial.retry_after
    body = orjson.dumps(denied(denial).to_dict())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(seconds).encode()),
        # Refused before the body was read: close rather than read (up to 500 KB) and discard it.
        (b"connection", b"close"),
    ]
    return headers, body


class RateLimit:
    """ASGI middleware: charge the request's buckets, answer 429 when one is empty."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limiter.enabled:
            await self.app(scope, receive, send)
            return
        denial = await self.limiter.buckets.take(self.limiter.charges(scope))
        if denial is None:
            await self.app(scope, receive, send)
            return
        headers, body = too_many_requests(denial)
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def startup(state: Any) -> None:
    """Connect to Redis up front (when configured) so the first request does not pay for it."""
    limiter = state.services.get("ratelimit")
    if limiter is not None and isinstance(limiter.buckets, RedisBuckets):
        await limiter.buckets.connect()


async def shutdown(state: Any) -> None:
    limiter = state.services.get("ratelimit")
    if limiter is not None and isinstance(limiter.buckets, RedisBuckets):
        await limiter.buckets.close()
