"""The one HTTP client every CLI command uses to reach the running server.

While ``ecomops serve`` runs it owns the tenant warehouses (DuckDB allows one writer per file), so a
command that needs a warehouse asks the server's API to run the same service function the command
would run itself without a server. Answers are decoded into the same typed results the service
returns (any type pydantic can validate: dataclasses, models, lists of them); errors come back in
the API's ``{"error": {code, message, details}}`` shape and are raised again as :class:`ServerError`
with that status, code and message, so a command prints the same thing on both paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from ecomops.kernel.errors import EcomopsError
from ecomops.platform.server import ServerInfo

T = TypeVar("T")
DEFAULT_TIMEOUT = 60.0


class ServerError(EcomopsError):
    """The running server refused the call (its status and code are kept) or could not be reached."""

    def __init__(self, message: str, details: Any = None, *, code: str, status_code: int) -> None:
        super().__init__(message, details, code=code)
        self.status_code = status_code


def tenant_path(tenant: str, *parts: str) -> str:
    """``/api/v1/t/{tenant}/…`` with every segment escaped (ids may hold ``/`` or spaces)."""
    return "/api/v1/t/" + "/".join(quote(p, safe="") for p in (tenant, *parts))


class ServerClient:
    """Calls the server's API as the local CLI (the control token from ``server.json``)."""

    def __init__(self, server: ServerInfo, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server = server
        self.timeout = timeout

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        timeout: float | None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return httpx.request(
                method,
                self.server.url + path,
                params=query,
                json=json_body,
                files=files,
                data=data,
                headers={"Authorization": f"Bearer {self.server.token}"},
                timeout=timeout or self.timeout,
            )
        except httpx.HTTPError as exc:
            raise ServerError(
                f"could not reach the server at {self.server.url}: {exc}",
                code="server_unreachable",
                status_code=503,
            ) from exc

    @overload
    def call(
        self,
        method: str,
        path: str,
        result: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> T: ...

    @overload
    def call(
        self,
        method: str,
        path: str,
        result: None = None,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> Any: ...

    def call(
        self,
        method: str,
        path: str,
        result: type[T] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> T | Any:
        """Send one request; decode a success into ``result`` (or plain JSON), raise a failure.

        ``files`` and ``data`` send a multipart form instead of JSON (uploads), as httpx takes them.
        """
        response = self._send(method, path, params, json, timeout, files, data)
        _raise_for(response)
        if response.status_code == 204:
            return None
        try:
            payload = response.json()
        except ValueError as exc:
            raise ServerError(
                f"server answered HTTP {response.status_code} without JSON",
                code="server_error",
                status_code=502,
            ) from exc
        if result is None:
            return payload
        return TypeAdapter(result).validate_python(payload)

    def raw(self, method: str, path: str, *, params: Mapping[str, Any] | None = None) -> bytes:
        """A success's body as bytes (downloads); failures raise like :meth:`call`."""
        response = self._send(method, path, params, None, None)
        _raise_for(response)
        return response.content

    def download(
        self,
        path: str,
        sink: BinaryIO,
        *,
        params: Mapping[str, Any] | None = None,
        language: str | None = None,
    ) -> None:
        """Stream a GET's body into ``sink`` a block at a time (table exports); failures raise like
        :meth:`call`. ``language`` asks for headers in that language (``Accept-Language``)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {"Authorization": f"Bearer {self.server.token}"}
        if language:
            headers["Accept-Language"] = language.replace("_", "-")
        try:
            with httpx.stream(
                "GET", self.server.url + path, params=query, headers=headers, timeout=self.timeout
            ) as response:
                if not response.is_success:
                    response.read()
                    _raise_for(response)
                for block in response.iter_bytes():
                    sink.write(block)
        except httpx.HTTPError as exc:
            raise ServerError(
                f"could not reach the server at {self.server.url}: {exc}",
                code="server_unreachable",
                status_code=503,
            ) from exc


def _raise_for(response: httpx.Response) -> None:
    """Raise the API's error (status, code, message, details) as a :class:`ServerError`."""
    if response.is_success:
        return
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    raise ServerError(
        str(error.get("message") or response.reason_phrase or f"HTTP {response.status_code}"),
        error.get("details"),
        code=str(error.get("code") or "server_error"),
        status_code=response.status_code,
    )
