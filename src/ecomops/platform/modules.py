"""The module contract: everything a business domain brings to the platform, declared in one value.

A domain folder (``ecomops/orders``…) exports ``module = Module(...)`` from its ``module.py`` and is
listed once, in the ``ecomops.modules`` entry-point group (``pyproject.toml``); a package of another
distribution adds a module the same way (docs/modules.md). The app, the CLI, the navigation, the
permission matrix, the warehouse and store migrations, the scheduler and the fact-change hooks are
all assembled from these declarations (``ecomops.platform.registry``), so wiring a domain never
means editing a central list.

Why plain data instead of hooks discovered by name (pluggy, Django's AppConfig): a declaration can be
read, validated and tested as a whole (unique names, known roles, one authenticator) before anything
runs, and it is obvious from one file what a module adds.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import typer
from fastapi import APIRouter, Request, Response
from prometheus_client.metrics_core import Metric
from sqlalchemy import Engine

from ecomops.platform.context import TenantContext, TenantInfo
from ecomops.platform.roles import Permission
from ecomops.platform.settings import Settings
from ecomops.platform.web.state import AppState

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class NavEntry:
    """A console sidebar entry; shown to roles holding ``permission`` (None: every member)."""

    key: str
    label: str
    #: Below ``/t/{slug}``; "" is the tenant's home.
    path: str
    permission: str | None
    section: str
    icon: str
    description: str = ""
    #: Position within its section (smaller first).
    order: int = 100


@dataclass(frozen=True)
class Command:
    """A CLI command (a function) or command group (a Typer app) under ``ecomops <name>``."""

    name: str
    target: typer.Typer | Callable[..., Any]


@dataclass(frozen=True)
class Job:
    """Periodic work for each tenant, run by the server's scheduler in a worker thread.

    ``tenants`` lists the candidates (e.g. tenants with an enabled alert rule); the scheduler skips
    tenants that switched the module off, runs ``run(state, tenant, now)`` for each remaining one as
    ``actor``, and keeps going when one tenant fails (logged and counted in ``/metrics``). ``now`` is
    the time the pass runs for: None in production (each run reads the current time), pinned in tests.
    """

    name: str
    interval_seconds: Callable[[Settings], float]
    tenants: Callable[[Engine], Iterable[str]]
    run: Callable[[AppState, TenantInfo, datetime | None], object]
    actor: str


@dataclass(frozen=True)
class FactsChanged:
    """Facts of a tenant's warehouse changed inside the writer's open transaction.

    ``kind`` says what happened and which fields matter:
    - ``loaded``: orders (``order_ids``, a list or an Arrow table with an ``order_id`` column)
      and/or events (``events_table``: a table of the transaction holding the new events with the
      ``events`` columns the rollups read: ts, type, event, anonymous_id, user_id, channel, utm_source,
      utm_campaign, region, country, device)
      were written by ingest or import;
    - ``rebuilt``: everything was replaced (demo seeding), ``timezone`` is the tenant's zone;
    - ``erased``: a data subject's ids (``subject_ids``) and orders (``order_ids``) were erased;
    - ``events_before``: events older than ``cutoff`` were anonymised or deleted (retention).

    Listeners run in the same transaction, so readers never see facts without what is derived from
    them (rollups today; segments and journeys later).
    """

    kind: Literal["loaded", "rebuilt", "erased", "events_before"]
    order_ids: Any = ()
    events_table: str | None = None
    subject_ids: tuple[str, ...] = ()
    cutoff: datetime | None = None
    timezone: str | None = None


FactsListener = Callable[[duckdb.DuckDBPyConnection, FactsChanged], None]
Lifecycle = Callable[[AppState], Awaitable[None]]
#: Load a tenant's writes that were acknowledged but are still buffered outside its warehouse (the
#: ingest WAL) and, when the flag is true, delete the buffers; returns how much was loaded. Exports
#: load first so every acknowledged event counts; erasures also delete, so no copy of the subject's
#: data stays behind in a buffer.
PendingLoader = Callable[[AppState, TenantInfo, bool], int]
#: The module's live figures for ``/metrics`` (Prometheus metric families), read from its running
#: services in ``state`` at every scrape; yields nothing when they are not running.
MetricsSource = Callable[[AppState], Iterable[Metric]]


@dataclass(frozen=True)
class RetentionSweep:
    """Data a module keeps outside the warehouse facts that the tenant's retention policy bounds.

    ``policy_field`` names the policy's ``<what>_days`` rule; ``run(engine, settings, tenant_id,
    cutoff)`` deletes what is older than ``cutoff`` and returns how many items went (reported as
    ``result_key`` in the retention run's summary).
    """

    policy_field: str
    result_key: str
    run: Callable[[Engine, Settings, str, datetime], int]


@dataclass(frozen=True)
class PageVisit:
    """A person allowed onto a tenant's console page: who, in which tenant, with which role."""

    session: Any
    tenant: TenantInfo
    role: str
    #: (slug, name, role) of every tenant the person belongs to, for the tenant switcher.
    memberships: list[Any]
    actor: str


class Authenticator(Protocol):
    """Turns a request into an authenticated caller. Exactly one module provides it (security).

    The platform calls it for every ``/api/v1/t/{tenant}/…`` request and every console page, so the
    web shell depends on this contract and not on how sessions, keys and memberships are stored.
    """

    async def api_context(self, request: Request, tenant: str, state: AppState) -> TenantContext:
        """The caller of a tenant API route, or raise Unauthorized / NotFound / Forbidden."""
        ...

    async def page_visit(self, request: Request, slug: str, state: AppState) -> PageVisit | Response:
        """The person on a console page, or the response to send instead (login redirect, 404 page)."""
        ...

    async def signed_in(self, request: Request, state: AppState) -> Any | None:
        """The console session of this request, if any (pages outside a tenant use it)."""
        ...


@dataclass(frozen=True)
class Module:
    """One business domain, as the platform sees it. Only ``name`` and ``title`` are required."""

    name: str
    title: str
    summary: str = ""
    #: Path of the module's page in docs/, for the README's table.
    docs: str | None = None
    #: May a tenant switch it off? Core modules (ingest, security…) cannot be.
    optional: bool = False
    #: For optional modules: on for tenants that never chose.
    enabled_by_default: bool = True
    #: Position among modules: start-up order, router order, CLI order (smaller first).
    order: int = 100
    api: tuple[APIRouter, ...] = ()
    pages: tuple[APIRouter, ...] = ()
    #: Folder added to the console's template search path (holds ``<module>/*.html``).
    templates: Path | None = None
    nav: tuple[NavEntry, ...] = ()
    commands: tuple[Command, ...] = ()
    permissions: tuple[Permission, ...] = ()
    #: Alembic versions folder of the module's own operational tables (branch label = module name).
    store_migrations: Path | None = None
    #: Folder of numbered warehouse SQL files (``NNNN_name.sql``), applied per tenant in order.
    warehouse_migrations: Path | None = None
    jobs: tuple[Job, ...] = ()
    startup: Lifecycle | None = None
    shutdown: Lifecycle | None = None
    facts_listeners: tuple[FactsListener, ...] = ()
    pending_loaders: tuple[PendingLoader, ...] = ()
    retention_sweeps: tuple[RetentionSweep, ...] = ()
    #: Extra readiness checks for ``/readyz``: name -> check returning {"ok": bool, ...}.
    readiness: tuple[tuple[str, Callable[[AppState], dict[str, Any]]], ...] = ()
    metrics: tuple[MetricsSource, ...] = ()
    authenticator: Authenticator | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"module name {self.name!r} must be 2-40 lowercase letters, digits or '_'")
        if self.enabled_by_default is False and not self.optional:
            raise ValueError(f"module {self.name!r}: only optional modules can start disabled")
