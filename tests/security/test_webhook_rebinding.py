"""A webhook connects to the address its SSRF check approved (issue 10: the guard resolved the host, then
the HTTP client resolved it again, so a DNS server could answer a public address to the check and a
private one to the connection — DNS rebinding).

The name server is played by a patched ``getaddrinfo`` that answers a public address first and the
metadata service's address afterwards; the receiver is an ``httpx.MockTransport`` that records where each
request was sent, with which ``Host`` header and TLS server name.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import httpx
import pytest

from ecomops.alerts import webhook
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.settings import Settings

PUBLIC = "93.184.215.14"
METADATA = "169.254.169.254"


def _rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    answers = [PUBLIC]
    asked: list[str] = []

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        address = answers.pop(0) if answers else METADATA
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_the_connection_goes_to_the_checked_address(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    asked = _rebinding_dns(monkeypatch)
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    settings = Settings(alerts_allow_private_webhooks=False, alerts_webhook_max_attempts=1)
    result = webhook.deliver(
        f"{scheme}://hooks.example.com:8443/in?x=1",
        "s3cret",
        {"alert": "gmv"},
        settings,
        transport=httpx.MockTransport(receiver),
    )
    assert result.ok, result
    [request] = seen
    assert request.url.host == PUBLIC and request.url.port == 8443 and request.url.query == b"x=1"
    assert request.headers["Host"] == "hooks.example.com:8443"
    assert request.extensions.get("sni_hostname") == ("hooks.example.com" if scheme == "https" else None)
    assert asked == ["hooks.example.com"]  # resolved once: by the check, never again by the client


def test_a_rebinding_answer_at_the_check_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _rebinding_dns(monkeypatch)
    webhook.check_url("https://hooks.example.com/in", allow_private=False)  # the public answer passes
    with pytest.raises(ValidationFailed, match=re.escape(METADATA)):
        webhook.check_url("https://hooks.example.com/in", allow_private=False)
