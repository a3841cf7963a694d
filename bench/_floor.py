"""The HTTP + JSON + fsync floor for bench/ingest.py: the least a durable ingest endpoint must do.

One uvicorn process (like ``ecomops serve``) with a Starlette route that reads the body, parses the
whole JSON, appends it to a file and fsyncs before answering, once per request. Usage:
python bench/_floor.py PORT FILE
"""

from __future__ import annotations

import os
import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(path: str) -> Starlette:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    async def batch(request: Request) -> Response:
        body = await request.body()
        events = orjson.loads(body)["batch"]
        os.write(fd, body + b"\n")
        os.fsync(fd)
        return Response(
            orjson.dumps({"success": True, "accepted": len(events)}), media_type="application/json"
        )

    async def ready(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(routes=[Route("/v1/batch", batch, methods=["POST"]), Route("/readyz", ready)])


if __name__ == "__main__":
    uvicorn.run(
        build(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False
    )
