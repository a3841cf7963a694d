"""Server logs: one JSON object per line on stderr (or one readable text line), each carrying the
request id, tenant and route of the request it was written for.

Stdlib logging rather than structlog: uvicorn, SQLAlchemy and httpx already log through stdlib
loggers, so one formatter on the root handler gives every line the same shape without a second
logging system to configure.

The request's fields live in a context variable holding a mutable :class:`LogFields`. The access-log
middleware (``observability.access``) makes one per request; authentication fills in the tenant
(:func:`set_tenant`: the API dependency, the console shell, ingest once the write key is known) by
changing that same object, so the access line written at the end of the request, and every record
written meanwhile (worker threads too: ``run_in_threadpool`` copies the context, and the object is
shared), see the tenant as soon as it is known. Work outside requests (a job pass for one tenant)
binds its own fields with :func:`bound`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson
from starlette.types import Scope

LogFormat = Literal["json", "text"]
#: Route label of requests no route matched (404s, and answers sent before routing such as a 429).
UNROUTED = "unrouted"

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged,
#: except uvicorn's ``color_message`` (the message again, with terminal colour codes).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/api/v1/t/{tenant}/orders``), None before or without a match.

    Starlette's router records the route it picked in the scope (the same dict every middleware holds).
    Templates, not paths, so a label or a log field never holds one value per order id.
    """
    route = scope.get("route")
    if route is None:
        return None
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else None


@dataclass
class LogFields:
    """The context of a unit of work (a request, a job pass for one tenant), added to its records."""

    request_id: str | None = None
    method: str | None = None
    tenant: str | None = None
    #: Other fields of this unit of work (``job`` of a scheduler pass).
    extra: dict[str, Any] = field(default_factory=dict)
    #: The request's ASGI scope, for the route template once the router has matched one.
    scope: Scope | None = None

    @property
    def route(self) -> str | None:
        return route_template(self.scope) if self.scope is not None else None

    def as_dict(self) -> dict[str, Any]:
        values = {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "route": self.route,
            "method": self.method,
            **self.extra,
        }
        return {k: v for k, v in values.items() if v is not None}


_fields: ContextVar[LogFields | None] = ContextVar("ecomops_log_fields", default=None)


def current_fields() -> LogFields | None:
    return _fields.get()


def set_tenant(slug: str) -> None:
    """The tenant the current request acts in, from now on in its records (no-op outside one)."""
    fields = _fields.get()
    if fields is not None:
        fields.tenant = slug


@contextmanager
def bound(fields: LogFields) -> Iterator[LogFields]:
    """Add ``fields`` to every record written inside the block (in this context)."""
    token = _fields.set(fields)
    try:
        yield fields
    finally:
        _fields.reset(token)


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The unit of work's fields, then the record's own ``extra`` (which win on a clash)."""
    current = _fields.get()
    values = current.as_dict() if current is not None else {}
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
            values[key] = value
    return values


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message", request_id, tenant, route, method, ...extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields_of(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``<timestamp> <LEVEL> <logger>: <message> key=value ...`` for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={v}" for k, v in _fields_of(record).items())
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if pairs:
            text += f"  {pairs}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


#: Marks the handler :func:`configure` installed, so configuring again replaces it.
_OURS = "_ecomops_handler"
#: Alembic says this at info each time the store's revision is read, i.e. on every /readyz probe.
_ALEMBIC_CHATTER = ("Context impl ", "Will assume ")


def _not_alembic_chatter(record: logging.LogRecord) -> bool:
    return not (record.name == "alembic.runtime.migration" and str(record.msg).startswith(_ALEMBIC_CHATTER))


def configure(level: str, fmt: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records at ``level`` and above to ``stream`` (stderr) as ``fmt`` lines.

    uvicorn's loggers are made to propagate here too (run uvicorn with ``log_config=None``), so its
    start-up and error lines have the same shape; its own access log stays off, ours replaces it.
    """
    # Our lines carry no caller, thread or process fields: skip collecting them for every record, as the
    # logging HOWTO's "Optimization" section describes (the access log writes one record per request).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_not_alembic_chatter)
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    return handler
