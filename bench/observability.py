"""Per-request cost of the access log and request metrics: CPU time of requests through ``AccessLog`` (one
JSON access line written to /dev/null, one histogram observation, the log context) around a trivial ASGI app,
against the bare app in the same process, at ``--log-level info`` and ``warning``.
Usage: python bench/observability.py [--requests 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecomops.platform.observability import logs
from ecomops.platform.observability.access import AccessLog
from ecomops.platform.observability.metrics import Metrics
from ecomops.platform.web.requestid import REQUEST_ID_SCOPE_KEY

#: CPU time of one 100-event ingest request at 60k events/s (docs/benchmarks.md, Ingest), for scale.
INGEST_REQUEST_MICROSECONDS = 1650.0


class _Route:
    path_format = "/v1/batch"


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    """What the router leaves behind (the matched route) and a small JSON answer."""
    scope["route"] = _Route()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"success":true}'})


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/batch",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        REQUEST_ID_SCOPE_KEY: "req_01m98tpxn9ewd65ara5bapjfnt",
    }


async def _run(app: ASGIApp, requests: int) -> float:
    """CPU microseconds per request."""
    start = time.process_time()
    for _ in range(requests):
        await app(_scope(), _receive, _send)
    return (time.process_time() - start) / requests * 1e6


def best(app: ASGIApp, requests: int, repeat: int) -> float:
    return min(asyncio.run(_run(app, requests)) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    metrics = Metrics()
    with open(os.devnull, "w") as devnull:
        for level in ("info", "warning"):
            logs.configure(level, "json", devnull)
            bare = best(answer, args.requests, args.repeat)
            observed = best(AccessLog(answer, metrics.observe_request), args.requests, args.repeat)
            print(
                f"--log-level {level:<8} bare app {bare:5.1f} µs/request, with access log and metrics "
                f"{observed:5.1f} µs/request: {observed - bare:5.1f} µs added "
                f"({(observed - bare) / INGEST_REQUEST_MICROSECONDS:.1%} of a 100-event ingest request)"
            )


if __name__ == "__main__":
    main()
