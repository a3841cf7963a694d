"""uvicorn's HTTP protocol with a deadline and a size cap on each request head (``ecomops serve``).

Why: uvicorn (httptools) arms no timer on a new connection and cancels its keep-alive timer on the
first byte, so a client that opens connections and sends a request line a byte at a time, or never
finishes its headers, holds each one forever (slowloris); nor does it bound the headers, so one request
could make the server buffer as many megabytes of "header" as it cares to send. Here a request's line and
headers must arrive whole within ``head_timeout`` seconds — counted from the connection opening, then on
a kept-alive connection from the request's first byte; a trickle does not extend it — and stay under
``max_head_bytes``, or the connection is closed (431 for the size). Slow *bodies* are the reverse proxy's
to bound (nginx ``client_body_timeout``, docs/security.md); idle kept-alive connections are uvicorn's
``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_HEAD_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_HEAD_BYTES = 64 * 1024
_TOO_LARGE = b"request line and headers too large"


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop httptools mid-feed (it wraps it in HttpParserError)."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes connections whose request head is late or too large."""

    head_timeout: float = DEFAULT_HEAD_TIMEOUT_SECONDS
    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES

    _head_timer: TimerHandle | None = None
    _head_bytes: int = 0
    _head_too_large: bool = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:  # a kept-alive connection's next request: its own deadline
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        """uvicorn 0.54's ``data_received``, answering 431 instead of 400 when the head is too large."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._head_too_large:
                self._send_431()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def _send_431(self) -> None:
        self._cancel_head_timer()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(_TOO_LARGE)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n" + _TOO_LARGE
        )
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def bounded_head_protocol(head_timeout: float, max_head_bytes: int) -> type[BoundedHeadProtocol]:
    """The protocol class for uvicorn's ``http=`` with these bounds (uvicorn instantiates it itself)."""
    return type(
        "BoundedHeadProtocol",
        (BoundedHeadProtocol,),
        {"head_timeout": head_timeout, "max_head_bytes": max_head_bytes},
    )
