"""The tenant-scoped routes of an app, for tests that must cover every one of them.

Read from the OpenAPI schema: since FastAPI 0.16x ``app.routes`` holds included routers as opaque
``_IncludedRouter`` entries, and a walk over ``APIRoute`` instances silently finds nothing. Every
tenant route is in the schema (none is hidden with ``include_in_schema=False``).
"""

from __future__ import annotations

from fastapi import FastAPI

TENANT_PREFIX = "/api/v1/t/{tenant}"
_METHODS = ("get", "post", "put", "patch", "delete")


def tenant_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path template) of every route under ``/api/v1/t/{tenant}``."""
    paths = app.openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(TENANT_PREFIX)
        for method in operations
        if method in _METHODS
    )
