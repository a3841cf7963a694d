"""Domain errors that map onto the single JSON error shape ``{"error": {code, message, details}}``.

Services raise these; the HTTP layer and the CLI translate them, so a service never
knows which interface called it.
"""

from __future__ import annotations

from typing import Any


class EcomopsError(Exception):
    status_code = 400
    code = "bad_request"
    #: Answer with ``Connection: close``: set when a request is refused before its body was read, so the
    #: server drops the connection instead of reading and discarding a body it has already refused.
    close_connection = False

    def __init__(self, message: str, details: Any = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(EcomopsError):
    """A request that cannot be taken apart at all (malformed body); 400 as HTTP clients expect."""

    status_code = 400
    code = "bad_request"


class ValidationFailed(EcomopsError):
    status_code = 422
    code = "validation_failed"


class NotFound(EcomopsError):
    status_code = 404
    code = "not_found"


class Conflict(EcomopsError):
    status_code = 409
    code = "conflict"


class Unauthorized(EcomopsError):
    status_code = 401
    code = "unauthorized"


class Forbidden(EcomopsError):
    status_code = 403
    code = "forbidden"


class StepUpRequired(Forbidden):
    """A sensitive action needs a fresh second factor: the console re-asks for a TOTP code."""

    code = "step_up_required"


class RequestTimeout(EcomopsError):
    status_code = 408
    code = "request_timeout"


class PayloadTooLarge(EcomopsError):
    status_code = 413
    code = "payload_too_large"


class Overloaded(EcomopsError):
    status_code = 429
    code = "overloaded"

    def __init__(
        self, message: str, retry_after: int = 1, details: Any = None, *, code: str | None = None
    ) -> None:
        super().__init__(message, details, code=code)
        self.retry_after = retry_after
