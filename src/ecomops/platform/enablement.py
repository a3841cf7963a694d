"""Which optional modules each tenant uses (payment, logistics, marketing… in the seed's words).

A tenant switches an optional module off; its routes then answer 404 for that tenant, its navigation
entries disappear and its scheduled jobs skip the tenant. Core modules cannot be switched off.
Every change is audited (``module.enable`` / ``module.disable``).

Why a cache: the check runs on every tenant request. Choices change rarely, so each process keeps
them for ``ttl`` seconds; a change made through this process is seen at once, one made by another
process (the CLI, another server) within ``ttl`` (``Settings.api_key_cache_seconds``, the same bound
as API-key revocation).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import current
from ecomops.platform.registry import registry
from ecomops.platform.store.models import TenantModule
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.web.state import AppState


class ModuleDisabled(NotFound):
    """A route of a module the tenant switched off: 404, like a route that does not exist."""

    code = "module_disabled"


@dataclass(frozen=True)
class ModuleState:
    name: str
    title: str
    summary: str
    optional: bool
    enabled: bool
    #: True when the tenant chose; False when ``enabled`` is the module's default.
    chosen: bool


def _choices(engine: Engine, tenant_id: str) -> dict[str, bool]:
    with tenant_session(engine, tenant_id) as s:
        rows = s.scalars(select(TenantModule).where(TenantModule.tenant_id == tenant_id))
        return {r.module: r.enabled for r in rows}


def disabled_modules(engine: Engine, tenant_id: str) -> frozenset[str]:
    """Names of the installed optional modules that are off for this tenant (from the store)."""
    choices = _choices(engine, tenant_id)
    return frozenset(m.name for m in registry().optional if not choices.get(m.name, m.enabled_by_default))


def module_states(engine: Engine, tenant_id: str) -> list[ModuleState]:
    choices = _choices(engine, tenant_id)
    return [
        ModuleState(
            m.name,
            m.title,
            m.summary,
            m.optional,
            True if not m.optional else choices.get(m.name, m.enabled_by_default),
            m.optional and m.name in choices,
        )
        for m in registry().modules
    ]


def set_enabled(engine: Engine, tenant_id: str, name: str, enabled: bool) -> ModuleState:
    """Switch an optional module on or off for a tenant (audited; a no-op change is not recorded)."""
    module = registry().get(name)
    if module is None:
        raise NotFound(f"no module named {name!r} is installed", {"module": name})
    if not module.optional:
        raise ValidationFailed(
            f"module {name!r} is part of the core and cannot be switched off",
            {"module": name, "optional": False},
        )
    with tenant_session(engine, tenant_id) as s:
        row = s.scalar(
            select(TenantModule).where(TenantModule.tenant_id == tenant_id, TenantModule.module == name)
        )
        before = row.enabled if row is not None else module.enabled_by_default
        if row is None:
            row = TenantModule(tenant_id=tenant_id, module=name, enabled=enabled, changed_by="")
            s.add(row)
        row.enabled = enabled
        row.changed_at = utcnow()
        row.changed_by = current().actor
        s.flush()
        if before != enabled:
            record_action(
                s,
                tenant_id,
                "module.enable" if enabled else "module.disable",
                "module",
                name,
                before={"enabled": before},
                after={"enabled": enabled},
            )
    _forget(tenant_id)
    return ModuleState(module.name, module.title, module.summary, True, enabled, True)


class EnablementCache:
    """Each tenant's disabled modules for ``ttl`` seconds (see the module docstring for the bound)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}
        _CACHES.add(self)

    def disabled(self, engine: Engine, tenant_id: str) -> frozenset[str]:
        with self._lock:
            hit = self._entries.get(tenant_id)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        found = disabled_modules(engine, tenant_id)
        with self._lock:
            self._entries[tenant_id] = (self.clock() + self.ttl, found)
        return found

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._entries.pop(tenant_id, None)


_CACHES: weakref.WeakSet[EnablementCache] = weakref.WeakSet()


def enablement_cache(state: AppState) -> EnablementCache:
    """This server's cache, made on first use (``ttl`` = ``Settings.api_key_cache_seconds``)."""
    cache = state.services.get("enablement")
    if cache is None:
        cache = state.services["enablement"] = EnablementCache(max(state.settings.api_key_cache_seconds, 0))
    assert isinstance(cache, EnablementCache)
    return cache


def check_enabled(state: AppState, tenant_id: str, module: str) -> None:
    """Raise :class:`ModuleDisabled` (404) when ``module`` is off for the tenant."""
    if module in enablement_cache(state).disabled(state.engine, tenant_id):
        raise ModuleDisabled(f"the {module} module is switched off for this shop", {"module": module})


def _forget(tenant_id: str) -> None:
    for cache in _CACHES:
        cache.forget(tenant_id)
