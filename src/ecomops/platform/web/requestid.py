"""Request ids: one per request, echoed as ``X-Request-ID`` and written into audit records.

Separate from ``web.deps`` so the sign-in helpers (imported by deps) can use it without a cycle.
"""

from __future__ import annotations

import re

from fastapi import Request

from ecomops.kernel.ids import new_id

#: Client-chosen request ids are kept only if short and printable; otherwise a fresh one is used.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


#: Where ``web.headers.RequestId`` puts the request's id (it also echoes it as ``X-Request-ID``).
REQUEST_ID_SCOPE_KEY = "ecomops.request_id"


def valid_request_id(given: str) -> bool:
    return _REQUEST_ID.match(given) is not None


def request_id(request: Request) -> str:
    """This request's id: the one the response echoes, so audit records and clients agree on it."""
    assigned = request.scope.get(REQUEST_ID_SCOPE_KEY)
    if isinstance(assigned, str):
        return assigned
    # Without the middleware (an app assembled elsewhere): same rule, remembered for the request.
    given = request.headers.get("x-request-id", "")
    rid = given if valid_request_id(given) else new_id("req_")
    request.scope[REQUEST_ID_SCOPE_KEY] = rid
    return rid
