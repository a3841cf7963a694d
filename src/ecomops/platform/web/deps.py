"""Authentication for the tenant-scoped management API ``/api/v1/t/{tenant}/...``.

Accepted credentials: an API key (``Bearer eco_live_…``) of that tenant, or the server's
local control token (CLI on the same machine). Ingest write keys never pass here.
"""

from __future__ import annotations

import hmac
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Forbidden, NotFound, Unauthorized
from ecomops.platform.context import AuditContext, set_current
from ecomops.platform.web.requestid import REQUEST_ID_SCOPE_KEY, request_id, valid_request_id
from ecomops.platform.web.state import AppState, app_state
from ecomops.security import auth, signin
from ecomops.tenancy import service as tenancy
from ecomops.tenancy.models import ApiKey

__all__ = ["REQUEST_ID_SCOPE_KEY", "request_id", "valid_request_id"]


@dataclass(frozen=True)
class TenantContext:
    """Who calls, as whom, in which tenant.

    ``via`` is ``session`` (a person in the console), ``api_key`` or ``local`` (the CLI's control
    token); ``mfa_at`` is when a session last verified a TOTP code, for step-up checks.
    """

    tenant: tenancy.TenantInfo
    actor: str
    role: str
    ip: str | None = None
    request_id: str | None = None
    via: str = "api_key"
    mfa_at: datetime | None = None


def _authenticated(request: Request, ctx: TenantContext) -> TenantContext:
    """Attach IP and request id and make them the audit context of the rest of this request."""
    ctx = replace(ctx, ip=request.client.host if request.client else None, request_id=request_id(request))
    set_current(AuditContext(ctx.actor, ctx.ip, ctx.request_id))
    return ctx


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


ResolvedKey = tuple[tenancy.ApiKeyInfo, tenancy.TenantInfo]


def _resolve_api_key(engine: Engine, token: str) -> ResolvedKey | None:
    """The key and its tenant in one worker-thread hop (the key says which tenant it belongs to)."""
    key = tenancy.api_key_for_secret(engine, token)
    if key is None:
        return None
    return key, tenancy.get_tenant_by_id(engine, key.tenant_id)


class ApiKeyCache:
    """Resolved API keys of this process for ``ttl`` seconds, so a request costs no store query.

    Why: resolving a key is a SHA-256 plus a store query (and a thread hop) per request, several
    times what a cheap route costs. Bounds: a key revoked (or its role or expiry changed) through
    this process is forgotten when that transaction commits (``_forget_changed_keys``); revoked by
    another process (the CLI, another server), it keeps working here for at most ``ttl`` seconds
    (``Settings.api_key_cache_seconds``). Expiry is checked on every hit. Only valid keys are kept,
    under the SHA-256 of the secret, never the secret; unknown keys always go to the store (the
    rate limiter bounds how often). At most ``max_entries`` keys; the oldest go first.
    """

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, ResolvedKey]] = {}
        _CACHES.add(self)

    def get(self, digest: str) -> ResolvedKey | None:
        hit = self._entries.get(digest)
        if hit is None:
            return None
        until, resolved = hit
        expires = resolved[0].expires_at
        if until <= self.clock() or (expires is not None and expires <= utcnow()):
            self._entries.pop(digest, None)
            return None
        return resolved

    def put(self, digest: str, resolved: ResolvedKey) -> None:
        while len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[digest] = (self.clock() + self.ttl, resolved)

    def forget(self, key_ids: set[str]) -> None:
        for digest in [d for d, (_, (key, _)) in self._entries.items() if key.id in key_ids]:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[ApiKeyCache] = weakref.WeakSet()
_CHANGED_KEYS = "ecomops.changed_api_keys"
#: Columns whose change must reach every cache at once (``last_used_at`` is not one of them).
_ACCESS_COLUMNS = ("revoked_at", "role", "expires_at", "tenant_id", "key_hash")


@event.listens_for(Session, "after_flush")
def _note_changed_keys(session: Session, _context: Any) -> None:
    """Collect API keys whose access changed in this flush (state is still pre-flush here)."""
    changed = {obj.id for obj in session.deleted if isinstance(obj, ApiKey)}
    for obj in session.dirty:
        if isinstance(obj, ApiKey):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in _ACCESS_COLUMNS):
                changed.add(obj.id)
    if changed:
        session.info.setdefault(_CHANGED_KEYS, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _forget_changed_keys(session: Session) -> None:
    changed = session.info.pop(_CHANGED_KEYS, None)
    if changed:
        for cache in list(_CACHES):
            cache.forget(changed)


@event.listens_for(Session, "after_rollback")
def _drop_noted_keys(session: Session) -> None:
    session.info.pop(_CHANGED_KEYS, None)


def api_key_cache(state: AppState) -> ApiKeyCache | None:
    """This server's cache, made on first use; None when ``api_key_cache_seconds`` is 0."""
    cache = state.services.get("api_keys")
    if cache is None:
        ttl = state.settings.api_key_cache_seconds
        if ttl <= 0:
            return None
        cache = state.services["api_keys"] = ApiKeyCache(ttl)
    assert isinstance(cache, ApiKeyCache)
    return cache


async def tenant_context(
    request: Request,
    tenant: Annotated[str, Path(description="Tenant slug", max_length=63)],
    state: Annotated[AppState, Depends(app_state)],
) -> TenantContext:
    token = _bearer(request)
    if token is None:
        return await _session_context(request, tenant, state)
    # Compare bytes: compare_digest refuses non-ASCII str (a 500 for a stray header otherwise).
    if hmac.compare_digest(token.encode(), state.control_token.encode()):
        local = await run_in_threadpool(tenancy.get_tenant, state.engine, tenant)
        return _authenticated(request, TenantContext(local, "local-cli", "owner", via="local"))
    cache = api_key_cache(state)
    digest = tenancy.hash_secret(token)
    resolved = cache.get(digest) if cache is not None else None
    if resolved is None:
        resolved = await run_in_threadpool(_resolve_api_key, state.engine, token)
        if resolved is None:
            raise Unauthorized("invalid, expired or revoked API key")
        if cache is not None:
            cache.put(digest, resolved)
    key, info = resolved
    # Same answer for "no such tenant" and "not your tenant": slugs of other tenants stay unknowable.
    if info.slug != tenant:
        raise NotFound(f"tenant {tenant!r} not found", {"tenant": tenant})
    return _authenticated(request, TenantContext(info, f"api_key:{key.id}", key.role))


async def _session_context(request: Request, tenant: str, state: AppState) -> TenantContext:
    """A person signed in to the console: their membership decides the role in this tenant."""
    session = await signin.current_session(request, state)
    if session is None:
        raise Unauthorized("missing credentials: sign in, or send 'Authorization: Bearer <api key>'")
    if session.stage != "active":
        raise Unauthorized(
            "sign-in is not finished: complete two-factor authentication first",
            {"stage": session.stage},
            code="mfa_required",
        )
    if request.method not in signin.SAFE_METHODS:
        signin.check_csrf(request.headers.get(signin.CSRF_HEADER), session)
    info: tenancy.TenantInfo | None
    try:
        info = await run_in_threadpool(tenancy.get_tenant, state.engine, tenant)
    except NotFound:
        info = None
    membership = None
    if info is not None:
        membership = await run_in_threadpool(auth.role_in, state.engine, session.user_id, info.id)
    if info is None or membership is None:
        raise NotFound(f"tenant {tenant!r} not found", {"tenant": tenant})
    if membership.require_mfa and membership.role in auth.MFA_ROLES and not session.mfa_enabled:
        raise Forbidden(
            f"this tenant requires two-factor authentication for the {membership.role} role: "
            "set it up under Account → Two-factor authentication",
            {"role": membership.role},
            code="mfa_required",
        )
    ctx = TenantContext(info, f"user:{session.email}", membership.role, via="session", mfa_at=session.mfa_at)
    return _authenticated(request, ctx)


TenantDep = Annotated[TenantContext, Depends(tenant_context)]
StateDep = Annotated[AppState, Depends(app_state)]
