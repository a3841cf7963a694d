"""Signed webhook delivery for alert firings, with SSRF protection, a timeout and retries.

Signature (the receiver's recipe is in docs/alerts.md)::

    X-Ecomops-Timestamp: <unix seconds>
    X-Ecomops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body)>

Signing the timestamp with the body lets a receiver refuse replays of an old, validly signed request.

A webhook URL is chosen by a tenant user, and the server would then make requests on their behalf:
without a check it could be pointed at the metadata service, the database port or an admin panel on
the private network (server-side request forgery). So the host is resolved and every address must
be public, at creation and again right before each attempt (DNS answers change); redirects are not
followed. The attempt then connects to the very address that was checked (the URL's host replaced by
it, the name kept in ``Host`` and as the TLS server name, so the certificate is still checked against
it): resolving a second time for the connection would let a DNS server answer a public address to the
check and a private one to the connection (DNS rebinding). ``settings.alerts_allow_private_webhooks``
lifts the address check for on-premises receivers and the tests' local receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ecomops import __version__
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.settings import Settings

SIGNATURE_HEADER = "X-Ecomops-Signature"
TIMESTAMP_HEADER = "X-Ecomops-Timestamp"
MAX_URL = 2000
#: Bytes of a receiver's error answer kept in the event (enough to debug, not a log sink).
MAX_ERROR_TEXT = 300
#: Answers worth retrying: the receiver is overloaded or briefly down; other 4xx will not get better.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Ecomops-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = 300) -> bool:
    """Receiver side: check a signature header and that its timestamp is within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(url: str, allow_private: bool, resolve: bool = True) -> str:
    """Validate a webhook URL; raise ValidationFailed (field ``webhook_url``) saying what is wrong.

    ``resolve=False`` checks only the shape (used when an unreachable DNS should not block editing).
    """
    return checked_address(url, allow_private, resolve)[0]


def checked_address(url: str, allow_private: bool, resolve: bool = True) -> tuple[str, str | None]:
    """``check_url``, and the public address that was checked (None when no address was checked)."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValidationFailed(f"webhook_url is longer than {MAX_URL} characters", {"field": "webhook_url"})
    if any(ord(c) < 32 or c.isspace() for c in url):
        raise ValidationFailed(
            "webhook_url must not contain spaces or control characters", {"field": "webhook_url"}
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ValidationFailed(f"webhook_url is not a valid URL: {exc}", {"field": "webhook_url"}) from None
    if parts.scheme not in ("https", "http"):
        raise ValidationFailed(
            f"webhook_url must start with https:// or http://, got {url[:60]!r}", {"field": "webhook_url"}
        )
    if parts.username or parts.password:
        raise ValidationFailed(
            "webhook_url must not carry credentials; the signature authenticates the sender",
            {"field": "webhook_url"},
        )
    if not host:
        raise ValidationFailed(f"webhook_url has no host: {url[:60]!r}", {"field": "webhook_url"})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationFailed(
            f"webhook_url has an invalid port: {url[:60]!r}", {"field": "webhook_url"}
        ) from None
    if allow_private or not resolve:
        return url, None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"webhook_url host {host!r} does not resolve: {exc}", {"field": "webhook_url", "host": host}
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _blocked(address):
            raise ValidationFailed(
                f"webhook_url host {host!r} resolves to {address}, a private, loopback or otherwise "
                "non-public address; webhooks may only go to public addresses "
                "(ECOMOPS_ALERTS_ALLOW_PRIVATE_WEBHOOKS=true lifts this for on-premises receivers)",
                {"field": "webhook_url", "host": host, "address": str(address)},
            )
    return url, str(ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0]))


def pinned_request(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL to connect to, the extra headers and the request extensions that make the connection go
    to ``address`` while the receiver still sees (and the TLS check still uses) the URL's host."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    target = parts._replace(netloc=netloc).geturl()
    header_host = parts.netloc.rsplit("@", 1)[-1]
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return target, {"Host": header_host}, extensions


@dataclass
class Delivery:
    """The outcome of all attempts for one payload."""

    ok: bool
    attempts: int
    status_code: int | None
    error: str | None


def deliver(
    url: str,
    secret: str,
    payload: dict[str, Any],
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """POST ``payload`` as signed JSON; retry on network errors and retryable statuses with backoff.

    Each attempt re-checks the URL (SSRF) and is re-signed with a fresh timestamp. Waits are
    ``backoff × 2^(n-1)`` seconds before retry n.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    attempts, status, error = 0, None, None
    with httpx.Client(
        timeout=settings.alerts_webhook_timeout_seconds, follow_redirects=False, transport=transport
    ) as client:
        for attempt in range(1, settings.alerts_webhook_max_attempts + 1):
            if attempt > 1:
                sleep(settings.alerts_webhook_backoff_seconds * 2 ** (attempt - 2))
            attempts = attempt
            try:
                _, address = checked_address(url, settings.alerts_allow_private_webhooks)
            except ValidationFailed as exc:
                return Delivery(False, attempts, None, exc.message)
            target, pin_headers, extensions = pinned_request(url, address)
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"ecomops-alerts/{__version__}",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
                **pin_headers,
            }
            try:
                response = client.post(target, content=body, headers=headers, extensions=extensions)
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]
                continue
            status = response.status_code
            if 200 <= status < 300:
                return Delivery(True, attempts, status, None)
            error = f"HTTP {status}: {response.text[:MAX_ERROR_TEXT]}"
            if status not in RETRY_STATUSES:
                break
    return Delivery(False, attempts, status, error)
