"""Who is acting, for whom, right now: the tenant a request acts in, and the audit context.

``TenantInfo`` is the tenant as every module sees it; ``TenantContext`` is an authenticated caller
in one tenant (built by the web shell's authenticator, checked by ``permissions.require``).

Audit context: who is acting right now, for audit records written deep inside service functions.

Service functions (create a tenant, finish an import…) are shared by the CLI, the API and the
server's worker threads; passing actor, IP and request id through every signature would touch
every caller for information only the audit record needs. A context variable carries it instead:
the API's tenant dependency sets it per request (``run_in_threadpool`` copies it into the worker
thread), worker threads set their own, and anything else is the command line of the OS user.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TenantInfo:
    """A tenant as every module sees it: id (for storage), slug (for URLs), zone and currency."""

    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class TenantContext:
    """Who calls, as whom, in which tenant.

    ``via`` is ``session`` (a person in the console), ``api_key`` or ``local`` (the CLI's control
    token); ``mfa_at`` is when a session last verified a TOTP code, for step-up checks.
    """

    tenant: TenantInfo
    actor: str
    role: str
    ip: str | None = None
    request_id: str | None = None
    via: str = "api_key"
    mfa_at: datetime | None = None


@dataclass(frozen=True)
class AuditContext:
    actor: str
    ip: str | None = None
    request_id: str | None = None


_current: ContextVar[AuditContext | None] = ContextVar("ecomops_audit_context", default=None)


def cli_actor() -> str:
    """``cli:<os user>``; containers without a passwd entry still get a stable name (the uid)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def current() -> AuditContext:
    ctx = _current.get()
    return ctx if ctx is not None else AuditContext(cli_actor())


def set_current(ctx: AuditContext) -> None:
    """Set for the rest of this task/thread context (an API request's task ends with the request)."""
    _current.set(ctx)


@contextmanager
def acting_as(ctx: AuditContext) -> Iterator[None]:
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)
