"""Data-subject requests (GDPR art. 15/17/20, PIPL art. 45/47): export everything about a customer, or
erase them.

A request is a ``privacy_requests`` row (queued → running → done | failed) whose ``summary`` holds
counts only. Requests run synchronously in the process that owns the tenant's warehouse (the server,
or the CLI when no server runs): the work is a handful of statements over one customer's rows, and
answering with the finished request spares the caller a polling loop. A request interrupted by a
crash is marked failed on the next start (``privacy.runner``); both kinds can simply be run again.

**Export** collects the vault's PII (decrypted), the consent history, the marketing eligibility and
every warehouse row that belongs to the customer: rows of any table with a ``customer_id`` or
``user_id`` equal to the customer id, or an ``anonymous_id`` the customer used (found through their
events and orders), rows of tables linked only through ``order_id`` to their orders, and dead
letters whose raw payload names them. The JSON bundle is sealed with the tenant's data key
(``security.keyring``) in the request row until it expires (``EXPORT_TTL``) or the customer is erased.

**Erasure**, in this order so that a failure can be retried by running it again:

1. the ingest WAL is sealed: every acknowledged event is loaded and the segments are deleted, so no
   raw line (with the PII ciphertext) of this customer survives in the WAL directory;
2. in one DuckDB transaction, every occurrence of the customer id is replaced by a random tombstone
   ``erased_<random>`` (and each of their anonymous ids by its own tombstone), free-text columns that
   may hold personal data are nulled (event traits and context, review texts, refund reasons,
   customer attributes), personal keys are removed from JSON properties and query strings from
   URLs, and dead letters naming them are deleted. Rows keep their amounts and times, so totals and
   counts do not change, but link to nobody. The tombstone is stored nowhere: not even this module
   can map it back, and re-computing a keyed pseudonym (Shopify e-mails) gives the old id, which no
   row carries any more;
3. in one store transaction: the email/phone blind indexes go to ``marketing_suppressions``, the
   vault row is deleted (``vault.erase_pii``), every granted consent gets a withdrawal appended, and
   export bundles of earlier requests for the customer are dropped;
4. the warehouse file is rewritten so the old values do not linger in DuckDB's free space
   (``privacy.compaction``): at once by the CLI without a server, at the next start by the server.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
from sqlalchemy import Engine, select, update

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, EcomopsError, NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo, current
from ecomops.platform.crypto import keyring as keys
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.warehouse import facts
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.platform.warehouse.eventcontext import CONTEXT_COLUMNS, full_context
from ecomops.privacy import consents as consent_service
from ecomops.privacy import vault
from ecomops.privacy.models import Consent, PrivacyRequest

log = logging.getLogger(__name__)
KINDS = ("export", "erasure")
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: An export bundle holds PII in clear once decrypted: keep it only long enough to be downloaded.
EXPORT_TTL = timedelta(days=7)
BUNDLE_FORMAT = "ecomops.privacy-export/1"
#: Field name bound into the bundle ciphertext's AAD (with the tenant and request id).
BUNDLE_FIELD = "privacy_export_bundle"
TOMBSTONE_PREFIX = "erased_"
#: When the warehouse file is rewritten after an erasure (``privacy.compaction``), for the summary.
COMPACT_NOW, COMPACT_LATER = "immediate", "at_next_server_start"

#: Warehouse columns that identify a person directly.
ID_COLUMNS = ("customer_id", "user_id")
ANON_COLUMN = "anonymous_id"
ORDER_COLUMN = "order_id"
#: Free-text columns nulled on erasure (table → columns); only those that exist are touched. An event's
#: context is its JSON and the columns its standard fields moved to.
NULLED = {
    "events": ("traits", "context", *CONTEXT_COLUMNS),
    "customers": ("attributes",),
    "reviews": ("title", "body"),
    "refunds": ("reason",),
}
#: URL columns whose query string and fragment (tokens, e-mails in links) are cut on erasure.
URL_COLUMNS = {"events": ("page_url", "referrer")}
#: JSON columns whose personal keys are removed on erasure (the rest still feeds analytics).
JSON_CLEANED = {"events": ("properties",), "orders": ("properties",)}
#: Keys removed from JSON properties, compared lower-cased without ``_``/``-``. Not ``name``: in
#: e-commerce properties that is a product's name (products[].name), which analytics need.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "phone",
        "mobile",
        "firstname",
        "lastname",
        "fullname",
        "username",
        "address",
        "street",
        "address1",
        "address2",
        "shippingaddress",
        "billingaddress",
        "zip",
        "zipcode",
        "postalcode",
        "birthday",
        "ip",
        "useragent",
        "idcard",
        "wechat",
        "openid",
        "unionid",
    }
)
#: Warehouse tables never exported or rewritten (bookkeeping, and dead letters which are handled apart).
SKIPPED_TABLES = frozenset({"ingest_dead_letters"})
DEAD_LETTERS = "ingest_dead_letters"


@dataclass(frozen=True)
class RequestInfo:
    id: str
    tenant_id: str
    kind: str
    subject: str
    lookup: str
    status: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, Any] | None
    error: str | None
    bundle_available: bool
    bundle_expires_at: datetime | None

    @classmethod
    def of(cls, row: PrivacyRequest) -> RequestInfo:
        return cls(
            row.id,
            row.tenant_id,
            row.kind,
            row.subject,
            row.lookup,
            row.status,
            row.requested_by,
            row.created_at,
            row.started_at,
            row.finished_at,
            dict(row.summary) if row.summary is not None else None,
            row.error,
            row.bundle is not None,
            row.bundle_expires_at,
        )

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("created_at", "started_at", "finished_at", "bundle_expires_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


@dataclass(frozen=True)
class Lookup:
    """How the caller named the subject: exactly one of a customer id, an email or a phone."""

    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None

    def kind(self) -> str:
        given = [n for n in ("customer_id", "email", "phone") if getattr(self, n)]
        if len(given) != 1:
            raise ValidationFailed(
                "name the subject with exactly one of customer_id, email or phone"
                f" (got {', '.join(given) if given else 'none'})",
                {"given": given},
            )
        return given[0]


# -- subject -----------------------------------------------------------------------------------


def resolve_subject(engine: Engine, warehouse: Warehouse, tenant_id: str, lookup: Lookup) -> tuple[str, str]:
    """``(customer id, lookup kind)``; NotFound if nothing is known about the subject.

    Email and phone are matched through the vault's blind index (exact, after normalisation), so the
    address itself is never searched for in clear. Several customer ids for one address are refused
    with their ids: which of them is the requester is a decision for a person, not for this code.
    """
    kind = lookup.kind()
    if kind == "customer_id":
        customer_id = consent_service.check_customer_id(str(lookup.customer_id))
        if not _known(engine, warehouse, tenant_id, customer_id):
            raise NotFound(
                f"no data about customer {customer_id!r} in this tenant (vault, consents or warehouse)",
                {"customer_id": customer_id},
            )
        return customer_id, kind
    with tenant_session(engine, tenant_id) as session:
        if kind == "email":
            ids = vault.find_customer_ids(session, tenant_id, email=lookup.email)
        else:
            ids = vault.find_customer_ids(session, tenant_id, phone=lookup.phone)
    if not ids:
        raise NotFound(f"no customer with that {kind} in this tenant's vault", {"lookup": kind})
    if len(ids) > 1:
        raise Conflict(
            f"{len(ids)} customers share that {kind}; make one request per customer id",
            {"lookup": kind, "customer_ids": sorted(ids)},
        )
    return ids[0], kind


def _known(engine: Engine, warehouse: Warehouse, tenant_id: str, customer_id: str) -> bool:
    with tenant_session(engine, tenant_id) as session:
        if vault.get_pii(session, tenant_id, customer_id) is not None:
            return True
        if session.scalar(select(Consent.id).where(Consent.customer_id == customer_id).limit(1)):
            return True
    layout = _layout(warehouse)
    for table, columns in layout.direct.items():
        where, params = _subject_filter(columns, customer_id, [customer_id])
        sql = f"SELECT 1 FROM {_q(table)} WHERE {where} LIMIT 1"  # noqa: S608 (catalogue names)
        if warehouse.query(sql, params):
            return True
    return False


# -- warehouse layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    #: table → its person columns (customer_id / user_id / anonymous_id present in it)
    direct: dict[str, list[str]]
    #: tables reached only through order_id
    by_order: list[str]
    #: table → {column: data type}
    types: dict[str, dict[str, str]]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _layout(warehouse: Warehouse) -> _Layout:
    """Which warehouse tables hold person ids, read from the catalogue so new tables are covered."""
    rows = warehouse.query(
        """SELECT c.table_name, c.column_name, c.data_type
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema
            AND t.table_name = c.table_name
           WHERE c.table_catalog = current_database() AND c.table_schema = 'main'
             AND t.table_type = 'BASE TABLE'
           ORDER BY c.table_name, c.ordinal_position"""
    )
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        if table.startswith("_") or table in SKIPPED_TABLES:
            continue
        types.setdefault(table, {})[column] = str(data_type)
    direct: dict[str, list[str]] = {}
    by_order: list[str] = []
    for table, columns in types.items():
        person = [c for c in (*ID_COLUMNS, ANON_COLUMN) if c in columns]
        if person:
            direct[table] = person
        elif ORDER_COLUMN in columns:
            by_order.append(table)
    return _Layout(direct, by_order, types)


def _unidentified(columns: list[str]) -> str:
    """Rows whose person columns are all empty: an anonymous id counts only there. A device shared
    with someone who signed in afterwards carries the same anonymous id next to *their* user id, and
    those rows are theirs, not the subject's."""
    ids = [f"{_q(c)} IS NULL" for c in columns if c in ID_COLUMNS]
    return " AND ".join(ids) if ids else "TRUE"


def _subject_filter(columns: list[str], customer_id: str, anon_ids: list[str]) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for column in columns:
        if column == ANON_COLUMN:
            if anon_ids:
                parts.append(f"(list_contains(?::VARCHAR[], {_q(column)}) AND {_unidentified(columns)})")
                params.append(anon_ids)
        else:
            parts.append(f"{_q(column)} = ?")
            params.append(customer_id)
    return (" OR ".join(parts) or "FALSE"), params


def _or_their_orders(
    layout: _Layout, table: str, where: str, params: list[Any], order_ids: list[str]
) -> tuple[str, list[Any]]:
    """A table with person columns and an order id (refunds: imports fill ``customer_id``, ingest does
    not) holds the subject's rows either way: by person, or as a row of one of their orders."""
    if table == "orders" or not order_ids or ORDER_COLUMN not in layout.types[table]:
        return where, params
    return f"({where}) OR list_contains(?::VARCHAR[], order_id)", [*params, order_ids]


def _anonymous_ids(warehouse: Warehouse, layout: _Layout, customer_id: str) -> list[str]:
    """The customer id itself, then the anonymous ids the customer was seen with (events after the
    identify, orders placed while known). The id comes first because a visitor who never signed in is
    known by their anonymous id alone: the vault keys their PII by it, and their rows carry it only in
    ``anonymous_id``."""
    found: set[str] = set()
    for table, columns in layout.direct.items():
        if ANON_COLUMN not in columns:
            continue
        ids = [c for c in columns if c in ID_COLUMNS]
        if not ids:
            continue
        where = " OR ".join(f"{_q(c)} = ?" for c in ids)
        sql = (
            f"SELECT DISTINCT {_q(ANON_COLUMN)} FROM {_q(table)} "  # noqa: S608 (catalogue names)
            f"WHERE ({where}) AND {_q(ANON_COLUMN)} IS NOT NULL"
        )
        found.update(str(r[0]) for r in warehouse.query(sql, [customer_id] * len(ids)))
    found.discard(customer_id)
    return [customer_id, *sorted(found)]


def _order_ids(warehouse: Warehouse, layout: _Layout, customer_id: str, anon_ids: list[str]) -> list[str]:
    columns = layout.direct.get("orders")
    if not columns or ORDER_COLUMN not in layout.types.get("orders", {}):
        return []
    where, params = _subject_filter(columns, customer_id, anon_ids)
    sql = f"SELECT order_id FROM orders WHERE {where}"  # noqa: S608 (catalogue names)
    return [str(r[0]) for r in warehouse.query(sql, params)]


def _jsonable(value: Any, data_type: str) -> Any:
    if value is None:
        return None
    if data_type == "JSON" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _rows(
    warehouse: Warehouse, layout: _Layout, table: str, where: str, params: list[Any]
) -> list[dict[str, Any]]:
    types = layout.types[table]
    names = list(types)
    # An event's context is exported whole, as it was received (its fields also in their own columns).
    select_list = ", ".join(
        full_context(_q(table)) if table == "events" and c == "context" else _q(c) for c in names
    )
    sql = f"SELECT {select_list} FROM {_q(table)} WHERE {where}"  # noqa: S608 (catalogue names)
    return [
        {name: _jsonable(value, types[name]) for name, value in zip(names, row, strict=True)}
        for row in warehouse.query(sql, params)
    ]


def _dead_letter_filter(needles: list[str]) -> tuple[str, list[Any]]:
    """Dead letters whose raw payload contains one of the needles (ids as JSON strings, email, phone)."""
    parts = ["strpos(payload, ?) > 0" for _ in needles]
    return (" OR ".join(parts) or "FALSE"), list(needles)


def _needles(customer_id: str, anon_ids: list[str], pii: dict[str, str] | None) -> list[str]:
    needles = [json.dumps(i) for i in dict.fromkeys((customer_id, *anon_ids))]
    for field in ("email", "phone"):
        value = (pii or {}).get(field)
        if value and len(value.strip()) >= 5:
            needles.append(value.strip())
    return needles


def _has_table(warehouse: Warehouse, table: str) -> bool:
    return bool(
        warehouse.query(
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'main' AND table_name = ?",
            [table],
        )
    )


def collect_warehouse(
    warehouse: Warehouse, customer_id: str, pii: dict[str, str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every warehouse row about the customer, by table (tables without rows are left out)."""
    layout = _layout(warehouse)
    anon_ids = _anonymous_ids(warehouse, layout, customer_id)
    order_ids = _order_ids(warehouse, layout, customer_id, anon_ids)
    found: dict[str, list[dict[str, Any]]] = {}
    for table, columns in sorted(layout.direct.items()):
        where, params = _subject_filter(columns, customer_id, anon_ids)
        where, params = _or_their_orders(layout, table, where, params, order_ids)
        rows = _rows(warehouse, layout, table, where, params)
        if rows:
            found[table] = rows
    if order_ids:
        for table in sorted(layout.by_order):
            rows = _rows(warehouse, layout, table, "list_contains(?::VARCHAR[], order_id)", [order_ids])
            if rows:
                found[table] = rows
    if _has_table(warehouse, DEAD_LETTERS):
        where, params = _dead_letter_filter(_needles(customer_id, anon_ids, pii))
        dead = warehouse.query(
            f"SELECT dead_letter_id, received_at, reason, payload FROM {DEAD_LETTERS} WHERE {where}",  # noqa: S608
            params,
        )
        if dead:
            found[DEAD_LETTERS] = [
                {"dead_letter_id": d, "received_at": _jsonable(r, ""), "reason": why, "payload": p}
                for d, r, why, p in dead
            ]
    return found


# -- erasure in the warehouse ------------------------------------------------------------------------


def tombstone() -> str:
    """A random id that stands for "an erased person": 96 random bits, derived from nothing."""
    return TOMBSTONE_PREFIX + secrets.token_hex(12)


def _strip_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_personal(v)
            for k, v in value.items()
            if re.sub(r"[_\-\s]", "", str(k)).lower() not in PERSONAL_KEYS
        }
    if isinstance(value, list):
        return [_strip_personal(v) for v in value]
    return value


def erase_warehouse(
    warehouse: Warehouse, customer_id: str, pii: dict[str, str] | None = None
) -> dict[str, int]:
    """Re-key and scrub the customer's warehouse rows in one transaction; returns counts per kind."""
    layout = _layout(warehouse)
    anon_ids = _anonymous_ids(warehouse, layout, customer_id)
    order_ids = _order_ids(warehouse, layout, customer_id, anon_ids)
    needles = _needles(customer_id, anon_ids, pii)
    tomb = tombstone()
    # The id as an anonymous id (a visitor who never signed in) becomes the same tombstone.
    anon_map = {a: tomb if a == customer_id else tombstone() for a in anon_ids}
    counts: dict[str, int] = {"anonymous_ids": len(anon_ids) - 1, "orders": len(order_ids)}
    with warehouse.write() as cur:
        for table, columns in sorted(layout.direct.items()):
            changed = 0
            for column in columns:
                if column == ANON_COLUMN:
                    # After the id columns: the subject's own rows now carry the tombstone.
                    ids = [c for c in columns if c in ID_COLUMNS]
                    mine = " OR ".join([_unidentified(columns), *(f"{_q(c)} = ?" for c in ids)])
                    for old, new in anon_map.items():
                        cur.execute(
                            f"UPDATE {_q(table)} SET {_q(column)} = ? "  # noqa: S608
                            f"WHERE {_q(column)} = ? AND ({mine})",
                            [new, old, *([tomb] * len(ids))],
                        )
                        changed += _changed(cur)
                else:
                    cur.execute(
                        f"UPDATE {_q(table)} SET {_q(column)} = ? WHERE {_q(column)} = ?",  # noqa: S608
                        [tomb, customer_id],
                    )
                    changed += _changed(cur)
            counts[f"{table}_ids_replaced"] = changed  # a row with two id columns counts twice
            where, params = _subject_filter(columns, tomb, list(anon_map.values()))
            _scrub(cur, layout, table, *_or_their_orders(layout, table, where, params, order_ids))
        if order_ids:
            for table in layout.by_order:
                _scrub(cur, layout, table, "list_contains(?::VARCHAR[], order_id)", [order_ids])
        if _has_table(warehouse, DEAD_LETTERS):
            where, params = _dead_letter_filter(needles)
            cur.execute(f"DELETE FROM {DEAD_LETTERS} WHERE {where}", params)  # noqa: S608
            counts["dead_letters_deleted"] = _changed(cur)
        # Buyer and visitor ids are in the rollups' grain: recompute their hours in this transaction.
        erased = facts.FactsChanged(
            "erased", order_ids=tuple(order_ids), subject_ids=(customer_id, *anon_ids)
        )
        facts.publish(cur, erased)
    return counts


def _checkpoint(warehouse: Warehouse) -> bool:
    """Fold DuckDB's own WAL into the database file, so the pre-erasure values do not linger in the
    ``.wal`` file; skipped (False) while other transactions are open, the next checkpoint does it."""
    try:
        with warehouse.write_lock:
            warehouse.con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        log.warning("CHECKPOINT after an erasure was not possible now: %s", exc)
        return False
    return True


def _changed(cur: Any) -> int:
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _scrub(cur: Any, layout: _Layout, table: str, where: str, params: list[Any]) -> None:
    columns = layout.types.get(table, {})
    nulled = [c for c in NULLED.get(table, ()) if c in columns]
    if nulled:
        assignments = ", ".join(f"{_q(c)} = NULL" for c in nulled)
        cur.execute(f"UPDATE {_q(table)} SET {assignments} WHERE {where}", params)  # noqa: S608
    for column in (c for c in URL_COLUMNS.get(table, ()) if c in columns):
        cur.execute(
            f"UPDATE {_q(table)} SET {_q(column)} = regexp_replace({_q(column)}, '[?#].*$', '') "  # noqa: S608
            f"WHERE ({where}) AND regexp_matches({_q(column)}, '[?#]')",
            params,
        )
    for column in (c for c in JSON_CLEANED.get(table, ()) if c in columns):
        rows = cur.execute(
            f"SELECT rowid, {_q(column)} FROM {_q(table)} WHERE ({where}) AND {_q(column)} IS NOT NULL",  # noqa: S608
            params,
        ).fetchall()
        updates = []
        for rowid, raw in rows:
            try:
                value = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                updates.append([None, rowid])
                continue
            cleaned = _strip_personal(value)
            if cleaned != value:
                updates.append([json.dumps(cleaned, ensure_ascii=False), rowid])
        if updates:
            cur.executemany(
                f"UPDATE {_q(table)} SET {_q(column)} = ? WHERE rowid = ?",  # noqa: S608
                updates,
            )


# -- bookkeeping ------------------------------------------------------------------------------------


def _audit(session: Any, tenant_id: str, action: str, target_id: str, details: dict[str, Any]) -> None:
    record_action(
        session,
        tenant_id,
        action,
        "privacy_request",
        target_id,
        details=details,
    )


def create_request(engine: Engine, tenant_id: str, kind: str, subject: str, lookup: str) -> RequestInfo:
    """A queued request, audited as ``privacy.<kind>_requested`` (subject id and lookup kind only)."""
    if kind not in KINDS:
        raise ValidationFailed(
            f"unknown request kind {kind!r}; expected export or erasure", {"field": "kind"}
        )
    with tenant_session(engine, tenant_id) as session:
        row = PrivacyRequest(
            tenant_id=tenant_id,
            kind=kind,
            subject=subject,
            lookup=lookup,
            status=QUEUED,
            requested_by=current().actor,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        _audit(
            session,
            tenant_id,
            f"privacy.{kind}_requested",
            row.id,
            {"customer_id": subject, "lookup": lookup},
        )
        return RequestInfo.of(row)


def _set(engine: Engine, tenant_id: str, request_id: str, **values: Any) -> None:
    with tenant_session(engine, tenant_id) as session:
        session.execute(update(PrivacyRequest).where(PrivacyRequest.id == request_id).values(**values))


def get_request(engine: Engine, tenant_id: str, request_id: str) -> RequestInfo:
    with tenant_session(engine, tenant_id) as session:
        row = session.scalars(select(PrivacyRequest).where(PrivacyRequest.id == request_id)).first()
        if row is None:
            raise NotFound(f"privacy request {request_id!r} not found", {"request_id": request_id})
        return RequestInfo.of(row)


def list_requests(
    engine: Engine, tenant_id: str, *, kind: str | None = None, limit: int = 50, offset: int = 0
) -> list[RequestInfo]:
    with tenant_session(engine, tenant_id) as session:
        stmt = select(PrivacyRequest)
        if kind is not None:
            stmt = stmt.where(PrivacyRequest.kind == kind)
        stmt = stmt.order_by(PrivacyRequest.created_at.desc(), PrivacyRequest.id.desc())
        return [RequestInfo.of(r) for r in session.scalars(stmt.limit(limit).offset(offset)).all()]


def fail_interrupted(engine: Engine, tenant_ids: list[str]) -> int:
    """Mark requests a stopped process left queued or running as failed; returns how many.

    Only for the given tenants (those whose warehouse lives in this data dir): hosts sharing one
    PostgreSQL store each own their tenants' files, and must not fail each other's live requests.
    Both kinds are safe to run again: the warehouse and store steps are each one transaction.
    """
    if not tenant_ids:
        return 0
    with system_session(
        engine, "privacy requests interrupted by a restart, across this host's tenants"
    ) as session:
        rows = session.scalars(
            select(PrivacyRequest).where(
                PrivacyRequest.status.in_((QUEUED, RUNNING)), PrivacyRequest.tenant_id.in_(tenant_ids)
            )
        ).all()
        for row in rows:
            row.status = FAILED
            row.finished_at = utcnow()
            row.error = "the process running this request stopped before it finished; make the request again"
        return len(rows)


# -- running -----------------------------------------------------------------------------------------

#: Called before an erasure touches the warehouse: load and delete the tenant's ingest WAL segments;
#: returns the number of segment bytes loaded.
WalSealer = Callable[[], int]


def run_request(
    engine: Engine,
    warehouse: Warehouse,
    tenant: TenantInfo,
    request_id: str,
    *,
    seal_wal: WalSealer | None = None,
    compaction: str = COMPACT_LATER,
) -> RequestInfo:
    """Run a queued request to done or failed (never raises for a failure of the work itself)."""
    info = get_request(engine, tenant.id, request_id)
    if info.status != QUEUED:
        raise Conflict(f"privacy request {request_id} is {info.status}, not queued", {"status": info.status})
    _set(engine, tenant.id, request_id, status=RUNNING, started_at=utcnow())
    try:
        if info.kind == "export":
            _run_export(engine, warehouse, tenant, request_id, info.subject)
        else:
            _run_erasure(engine, warehouse, tenant, request_id, info.subject, seal_wal, compaction)
    except Exception as exc:  # the request records any failure; the caller gets the failed request
        message = exc.message if isinstance(exc, EcomopsError) else f"{type(exc).__name__}: {exc}"
        _set(engine, tenant.id, request_id, status=FAILED, finished_at=utcnow(), error=message)
        with tenant_session(engine, tenant.id) as session:
            _audit(
                session,
                tenant.id,
                "privacy.request_failed",
                request_id,
                {"kind": info.kind, "error": message},
            )
    return get_request(engine, tenant.id, request_id)


def _run_export(
    engine: Engine, warehouse: Warehouse, tenant: TenantInfo, request_id: str, customer_id: str
) -> dict[str, Any]:
    with tenant_session(engine, tenant.id) as session:
        pii = vault.get_pii(session, tenant.id, customer_id)
        history = consent_service.history_in(session, customer_id)
        marketing = {
            p: consent_service.eligibility_in(session, tenant.id, customer_id, p).__dict__
            for p in consent_service.MARKETING_PURPOSES
        }
    rows = collect_warehouse(warehouse, customer_id, pii)
    bundle = {
        "format": BUNDLE_FORMAT,
        "tenant": tenant.slug,
        "customer_id": customer_id,
        "generated_at": utcnow().isoformat(),
        "request_id": request_id,
        "pii": pii or {},
        "consents": {
            "current": {p: r.as_dict() for p, r in consent_service.latest(history).items()},
            "history": [r.as_dict() for r in history],
        },
        "marketing": marketing,
        "warehouse": rows,
    }
    text = json.dumps(bundle, ensure_ascii=False, sort_keys=True, default=str)
    sealed = keys.encrypt_field(engine, tenant.id, BUNDLE_FIELD, request_id, text)
    summary: dict[str, Any] = {
        "pii_fields": sorted((pii or {}).keys()),
        "consents": len(history),
        "warehouse_rows": {t: len(r) for t, r in rows.items()},
        "bundle_bytes": len(text.encode()),
    }
    now = utcnow()
    with tenant_session(engine, tenant.id) as session:
        session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.id == request_id)
            .values(
                status=DONE,
                finished_at=now,
                summary=summary,
                bundle=sealed,
                bundle_expires_at=now + EXPORT_TTL,
            )
        )
        _audit(session, tenant.id, "privacy.export_done", request_id, {"customer_id": customer_id, **summary})
    return summary


def _run_erasure(
    engine: Engine,
    warehouse: Warehouse,
    tenant: TenantInfo,
    request_id: str,
    customer_id: str,
    seal_wal: WalSealer | None,
    compaction: str,
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if seal_wal is not None:
        # First: loading the WAL may still bring the customer's last events and PII in.
        summary["wal_bytes_loaded"] = seal_wal()
    with tenant_session(engine, tenant.id) as session:
        pii = vault.get_pii(session, tenant.id, customer_id)
    summary["warehouse"] = erase_warehouse(warehouse, customer_id, pii)
    summary["checkpointed"] = _checkpoint(warehouse)
    summary["compaction"] = compaction
    with tenant_session(engine, tenant.id) as session:
        indexes = vault.blind_indexes(session, tenant.id, customer_id) or {}
        summary["suppressed"] = consent_service.suppress_blind_indexes(session, tenant.id, indexes, "erasure")
        summary["vault_erased"] = vault.erase_pii(session, tenant.id, customer_id)
        summary["consents_withdrawn"] = consent_service.withdraw_all(
            session, tenant.id, customer_id, consent_service.ERASURE_SOURCE
        )
        dropped = session.execute(
            update(PrivacyRequest)
            .where(
                PrivacyRequest.subject == customer_id,
                PrivacyRequest.kind == "export",
                PrivacyRequest.bundle.is_not(None),
            )
            .values(bundle=None, bundle_expires_at=None)
        )
        summary["export_bundles_dropped"] = int(dropped.rowcount or 0)  # type: ignore[attr-defined]
        session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.id == request_id)
            .values(status=DONE, finished_at=utcnow(), summary=summary)
        )
        _audit(
            session, tenant.id, "privacy.erasure_done", request_id, {"customer_id": customer_id, **summary}
        )
    return summary


def read_bundle(engine: Engine, tenant_id: str, request_id: str) -> bytes:
    """The decrypted export bundle (JSON bytes), audited as ``privacy.export_downloaded``."""
    with tenant_session(engine, tenant_id) as session:
        row = session.scalars(select(PrivacyRequest).where(PrivacyRequest.id == request_id)).first()
        if row is None:
            raise NotFound(f"privacy request {request_id!r} not found", {"request_id": request_id})
        if row.kind != "export":
            raise ValidationFailed(
                f"privacy request {request_id} is an {row.kind}; only exports have a download",
                {"request_id": request_id, "kind": row.kind},
            )
        if row.bundle is None or (row.bundle_expires_at is not None and row.bundle_expires_at < utcnow()):
            raise NotFound(
                f"export {request_id} has no bundle (status {row.status}; bundles are kept "
                f"{EXPORT_TTL.days} days and dropped when the customer is erased): request a new export",
                {"request_id": request_id, "status": row.status},
            )
        text = keys.decrypt_field(engine, tenant_id, BUNDLE_FIELD, request_id, row.bundle)
        _audit(session, tenant_id, "privacy.export_downloaded", request_id, {"customer_id": row.subject})
    return text.encode()


def drop_expired_bundles(engine: Engine, tenant_id: str, now: datetime | None = None) -> int:
    """Delete export bundles past their expiry (retention does this hourly); returns how many."""
    with tenant_session(engine, tenant_id) as session:
        result = session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.bundle.is_not(None), PrivacyRequest.bundle_expires_at < (now or utcnow()))
            .values(bundle=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def submit(
    engine: Engine,
    warehouse: Warehouse,
    tenant: TenantInfo,
    kind: str,
    lookup: Lookup,
    *,
    seal_wal: WalSealer | None = None,
    compaction: str = COMPACT_LATER,
) -> RequestInfo:
    """Resolve the subject, record the request and run it: what the API and the CLI both call."""
    if kind not in KINDS:
        raise ValidationFailed(
            f"unknown request kind {kind!r}; expected export or erasure", {"field": "kind"}
        )
    customer_id, how = resolve_subject(engine, warehouse, tenant.id, lookup)
    info = create_request(engine, tenant.id, kind, customer_id, how)
    return run_request(engine, warehouse, tenant, info.id, seal_wal=seal_wal, compaction=compaction)
