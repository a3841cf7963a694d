"""Security headers and the request id on every response, as plain ASGI middlewares (no per-request
task overhead on ingest).

HSTS is sent only when the request arrived over TLS, since browsers ignore it on plain HTTP and a local
`make demo` must stay reachable over http. "Over TLS" is ``scope["scheme"] == "https"``: uvicorn sets it
for a direct TLS connection, and from ``X-Forwarded-Proto`` only when the peer is a trusted proxy
(``ecomops serve --forwarded-allow-ips``). A client cannot talk the server into TLS-only behaviour by
sending that header itself; the proxy samples in deploy/ send HSTS on their own anyway.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecomops.kernel.ids import new_id
from ecomops.platform.web.deps import REQUEST_ID_SCOPE_KEY, valid_request_id

CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI boots with an inline script.
DOCS_CSP = CSP.replace("default-src 'self';", "default-src 'self'; script-src 'self' 'unsafe-inline';")
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def _over_tls(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path") == "/docs" else CSP
        extra = [*COMMON, (b"content-security-policy", csp.encode())]
        if _over_tls(scope):
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestId:
    """Give every request one id, echoed as ``X-Request-ID`` and used by the audit context.

    The client's ``X-Request-ID`` is kept when it is short and printable (so a caller can follow its
    own id through our logs and audit records); otherwise a fresh ``req_…`` id is made. The id is put
    in the ASGI scope, where ``web.deps.request_id`` reads it, so the response header and the audit
    record always agree, also for answers the app never sees (429 from the rate limiter).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if given is not None and valid_request_id(given) else new_id("req_")
        scope[REQUEST_ID_SCOPE_KEY] = rid
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = [*kept, header]
            await send(message)

        await self.app(scope, receive, send_with_id)
