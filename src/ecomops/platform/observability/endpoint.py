"""``GET /metrics``: the Prometheus text format, for local scrapers and holders of a token only.

Who may read it: a client on a loopback address (a scraper or ``ecomops doctor`` on the same host),
or a request carrying ``Authorization: Bearer <token>`` where the token is ``ECOMOPS_METRICS_TOKEN``
(when set) or the server's control token (what ``ecomops doctor`` sends, whatever the bind address).
Everyone else gets the same 404 as any unknown path, so the endpoint is not advertised; it is left out
of the OpenAPI schema for the same reason.

"Loopback" is the client address uvicorn reports: behind a proxy listed in ``--forwarded-allow-ips``
it is the address from X-Forwarded-For, so a scrape relayed by the local proxy for a remote client is
refused. With ``--forwarded-allow-ips '*'`` any client can claim to be local: set a token there.

The rate limiter charges it like any request (one token of the client's IP bucket); a scraper every
few seconds never comes near the limit, and a client hammering the 404 spends its own bucket.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ecomops.platform.observability.metrics import metrics_of
from ecomops.platform.web.state import AppState, app_state

router = APIRouter(include_in_schema=False)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name (test clients say "testclient"), never a loopback address
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _bearer(request: Request) -> bytes | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip().encode()


def may_scrape(request: Request, state: AppState) -> bool:
    if is_loopback(request.client.host if request.client else None):
        return True
    presented = _bearer(request)
    if presented is None:
        return False
    tokens = [state.control_token]
    if state.settings.metrics_token is not None:
        tokens.append(state.settings.metrics_token.get_secret_value())
    # Compare with every token (constant time each), so timing tells nothing about which one is set.
    matches = [hmac.compare_digest(presented, token.encode()) for token in tokens if token]
    return any(matches)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state = app_state(request)
    if not may_scrape(request, state):
        raise HTTPException(404, "Not Found")
    body = await run_in_threadpool(metrics_of(state).exposition)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
