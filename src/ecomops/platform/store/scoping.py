"""Tenant-scoped and system sessions: the application half of tenant isolation in the operational store.

Every tenant-owned table (each table with a ``tenant_id`` column, plus ``tenants`` itself keyed on
``id``) may only be touched through one of two kinds of session:

``tenant_session(engine, tenant_id)``
    ORM queries, ORM bulk UPDATE/DELETE and relationship loads are filtered to the tenant
    automatically (``do_orm_execute`` + ``with_loader_criteria``, SQLAlchemy's documented
    multi-tenancy recipe), so a query that forgets ``WHERE tenant_id = …`` still cannot read another
    tenant's rows. Flushing an object, or executing an INSERT/UPDATE, that carries another tenant's id
    is refused. Non-ORM statements (``text()``, Core ``Table`` statements) on tenant tables are refused
    too, because no filter can be added to them reliably.
``system_session(engine, reason)``
    No filtering: for the few lookups that are cross-tenant by nature (API-key and write-key lookup
    by hash, tenant by slug, a user's memberships in every tenant, listing tenants, audit
    verification). The ``reason`` is required so each use is greppable and reviewable.

A plain session (``store.db.session_scope``/``session_factory`` or any ``Session``) whose statement
or flush touches a tenant-owned table raises :class:`TenantScopeError` naming the table. The check is
registered on the ``Session`` class itself, so it covers every session in the process, including
Core statements executed through ``Session.execute``.

On PostgreSQL each transaction of a scoped session also sets ``app.tenant_id`` (tenant session) or
``app.rls_bypass = 'on'`` (system session) with ``set_config(…, true)`` — transaction-local, so a
pooled connection never carries one tenant's setting into another request — from the ``after_begin``
event, which re-applies it after every commit. The row-level-security policies created by
``store.rls.enable_tenant_rls`` check exactly those settings: the database refuses cross-tenant
access a second time even if this module had a bug. Core code that works on a ``Connection`` (the
audit chain) uses :func:`tenant_connection`/:func:`system_connection` or :func:`apply_scope`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, text
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.util import find_tables

from ecomops.platform.store.models import Base

#: Key in ``Session.info`` holding the session's :class:`TenantScope` or :class:`SystemScope`.
SCOPE_KEY = "ecomops.scope"
#: PostgreSQL settings read by the row-level-security policies (see ``store.rls``).
TENANT_SETTING = "app.tenant_id"
BYPASS_SETTING = "app.rls_bypass"


class TenantScopeError(RuntimeError):
    """A statement or flush would cross the tenant boundary, or touched a tenant table unscoped.

    This is a programming error (the code chose the wrong session), not a user error, so it is not
    an ``EcomopsError``: the HTTP layer reports it as a 500 and the test suite fails loudly.
    """


@dataclass(frozen=True)
class TenantScope:
    tenant_id: str


@dataclass(frozen=True)
class SystemScope:
    reason: str


Scope = TenantScope | SystemScope

_tables_cache: tuple[int, dict[str, str]] = (-1, {})


def tenant_tables() -> dict[str, str]:
    """Tenant-owned table name → the column holding the tenant id (``tenants`` → ``id``).

    Derived from the model metadata each time a model is added, so a new table with a
    ``tenant_id`` column is covered without anyone remembering to register it.
    """
    global _tables_cache
    tables = Base.metadata.tables
    if _tables_cache[0] != len(tables):
        found = {name: "tenant_id" for name, table in tables.items() if "tenant_id" in table.c}
        found["tenants"] = "id"
        _tables_cache = (len(tables), found)
    return _tables_cache[1]


def _tenant_mappers() -> list[tuple[Mapper[Any], str]]:
    owned = tenant_tables()
    result = []
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if isinstance(table, Table) and table.name in owned:
            result.append((mapper, owned[table.name]))
    return result


def _text_tables(statement: TextClause) -> set[str]:
    """Tenant table names appearing as words in raw SQL: conservative (a false positive raises)."""
    sql = statement.text.lower()
    return {name for name in tenant_tables() if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", sql)}


def tables_touched(statement: Any) -> set[str]:
    """Names of tenant-owned tables a statement reads or writes (subqueries and joins included)."""
    if isinstance(statement, TextClause):
        return _text_tables(statement)
    if not isinstance(statement, ClauseElement):
        return set()
    owned = tenant_tables()
    names: set[str] = set()
    for table in find_tables(
        statement, include_aliases=True, include_joins=True, include_selects=True, include_crud=True
    ):
        if isinstance(table, Table) and table.name in owned:
            names.add(table.name)
    return names


def scope_of(session: Session) -> Scope | None:
    """The scope a session was opened with, or None for a plain session."""
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, (TenantScope, SystemScope)) else None


def _unscoped(tables: set[str], what: str) -> TenantScopeError:
    listed = ", ".join(sorted(tables))
    return TenantScopeError(
        f"{what} touches tenant-owned table(s) {listed} through an unscoped session; open it with "
        "ecomops.platform.store.scoping.tenant_session(engine, tenant_id), or system_session(engine, reason) "
        "for a deliberate cross-tenant lookup"
    )


def _statement_values(state: ORMExecuteState, column: str) -> list[Any]:
    """Every value an INSERT/UPDATE assigns to ``column``, from the statement and the execute params."""
    values: list[Any] = []
    params = state.parameters
    rows: Sequence[Mapping[str, Any]] = (
        [params] if isinstance(params, Mapping) else list(params) if params is not None else []
    )
    for row in rows:
        if column in row:
            values.append(row[column])
    statement: Any = state.statement
    compiled = statement.compile(dialect=state.session.get_bind().dialect).params
    for key, value in compiled.items():
        if key == column or re.fullmatch(rf"{re.escape(column)}_m\d+", key):
            values.append(value)
    return values


@event.listens_for(Session, "do_orm_execute")
def _guard_execute(state: ORMExecuteState) -> None:
    """Refuse unscoped access; filter tenant-session statements to the tenant."""
    scope = scope_of(state.session)
    if isinstance(scope, SystemScope):
        return
    touched = tables_touched(state.statement)
    if not touched:
        return
    if scope is None:
        kind = "relationship load" if state.is_relationship_load else "statement"
        raise _unscoped(touched, f"a {kind}")
    if not state.is_orm_statement:
        raise TenantScopeError(
            f"a non-ORM statement (text() or Core Table) on tenant table(s) {', '.join(sorted(touched))} "
            f"in tenant_session({scope.tenant_id!r}) cannot be filtered to the tenant; select ORM "
            "entities (select(Model)) instead"
        )
    owned = tenant_tables()
    if state.is_insert or state.is_update:
        for name in touched:
            column = owned[name]
            for value in _statement_values(state, column):
                if value != scope.tenant_id:
                    raise TenantScopeError(
                        f"{'INSERT' if state.is_insert else 'UPDATE'} on {name} sets {column}={value!r} "
                        f"inside tenant_session({scope.tenant_id!r})"
                    )
    if state.is_select or state.is_update or state.is_delete:
        options = [
            with_loader_criteria(
                mapper.class_, getattr(mapper.class_, column) == scope.tenant_id, include_aliases=True
            )
            for mapper, column in _tenant_mappers()
            if mapper.local_table.name in touched  # type: ignore[attr-defined]
        ]
        if options:
            state.statement = state.statement.options(*options)


@event.listens_for(Session, "before_flush")
def _guard_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse flushing tenant rows unscoped, or rows of another tenant in a tenant session."""
    scope = scope_of(session)
    if isinstance(scope, SystemScope):
        return
    owned = tenant_tables()
    for kind, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            table = getattr(type(obj), "__table__", None)
            if not isinstance(table, Table) or table.name not in owned:
                continue
            if scope is None:
                raise _unscoped({table.name}, f"flushing ({kind}) a {type(obj).__name__}")
            column = owned[table.name]
            history = get_history(obj, column)
            seen = [v for v in (*history.added, *history.unchanged, *history.deleted) if v is not None]
            if not seen and kind != "insert":
                # Expired attribute: reload it (through this session's tenant filter; autoflush is
                # off during a flush) rather than refuse a row this tenant legitimately loaded.
                seen = [getattr(obj, column)]
            if not seen or any(v != scope.tenant_id for v in seen):
                raise TenantScopeError(
                    f"refusing to {kind} {type(obj).__name__} with {table.name}.{column}="
                    f"{getattr(obj, column)!r} in tenant_session({scope.tenant_id!r})"
                )


def apply_scope(connection: Connection, scope: Scope) -> None:
    """Set the PostgreSQL row-level-security setting for the connection's current transaction.

    Transaction-local (``set_config(…, true)``): call it again after each commit. A no-op on
    SQLite, which has no row-level security (there the session guard is the only line).
    """
    if connection.dialect.name != "postgresql":
        return
    if isinstance(scope, TenantScope):
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": TENANT_SETTING, "value": scope.tenant_id}
        )
    else:
        connection.execute(text("SELECT set_config(:name, 'on', true)"), {"name": BYPASS_SETTING})


@event.listens_for(Session, "after_begin")
def _set_rls(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    scope = scope_of(session)
    if scope is not None:
        apply_scope(connection, scope)


def _checked_tenant_id(tenant_id: str) -> str:
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError(f"tenant_session needs a non-empty tenant id, got {tenant_id!r}")
    return tenant_id


def _checked_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("system_session needs a reason saying why the lookup is cross-tenant")
    return reason


@contextmanager
def _scoped(engine: Engine, scope: Scope) -> Iterator[Session]:
    session = Session(engine, expire_on_commit=False, info={SCOPE_KEY: scope})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def tenant_session(engine: Engine, tenant_id: str) -> Iterator[Session]:
    """One unit of work confined to one tenant: commit on success, roll back on any error."""
    with _scoped(engine, TenantScope(_checked_tenant_id(tenant_id))) as session:
        yield session


@contextmanager
def system_session(engine: Engine, reason: str) -> Iterator[Session]:
    """One unit of work that may read and write any tenant's rows; say why in ``reason``."""
    with _scoped(engine, SystemScope(_checked_reason(reason))) as session:
        yield session


@contextmanager
def _scoped_connection(engine: Engine, scope: Scope) -> Iterator[Connection]:
    with engine.begin() as conn:
        apply_scope(conn, scope)
        yield conn


@contextmanager
def tenant_connection(engine: Engine, tenant_id: str) -> Iterator[Connection]:
    """A Core connection in one transaction with ``app.tenant_id`` set (PostgreSQL); commits on exit."""
    with _scoped_connection(engine, TenantScope(_checked_tenant_id(tenant_id))) as conn:
        yield conn


@contextmanager
def system_connection(engine: Engine, reason: str) -> Iterator[Connection]:
    """A Core connection in one transaction with the RLS bypass set (PostgreSQL); commits on exit."""
    with _scoped_connection(engine, SystemScope(_checked_reason(reason))) as conn:
        yield conn
