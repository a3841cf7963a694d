"""Verify and export a tenant's hash-chained audit log (recording lives in ``ecomops.platform.audit``).

Verification walks the chain the platform appends to and reports the first record that does not
link; export reads records in chain order for the API, the CLI and the console.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select

from ecomops.platform.audit import GENESIS, AuditEntry, audit_key, entry_of, record_hash
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import CHUNK_ROWS, Column, ExportTable, Format, audit_export
from ecomops.platform.store.models import AuditRecord
from ecomops.platform.store.scoping import tenant_connection


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str | None
    last_seq: int | None
    head_hash: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(engine: Engine, tenant_id: str) -> VerifyResult:
    """Walk the chain in ``seq`` order and report the first record that does not link.

    A gap in ``seq`` (deletion) is reported at the missing number; a duplicate or out-of-place
    ``seq``, a ``prev_hash`` that is not the previous record's hash, or a hash that does not match
    the content (edit, forged or swapped row) is reported at that record's ``seq``.
    """
    key = audit_key()
    expected_seq, expected_prev, checked = 1, GENESIS, 0
    last: AuditEntry | None = None
    query = (
        select(*AuditRecord.__table__.columns)
        .where(AuditRecord.tenant_id == tenant_id)
        .order_by(AuditRecord.seq, AuditRecord.id)
    )
    with tenant_connection(engine, tenant_id) as conn:
        for row in conn.execute(query):
            entry = entry_of(row)
            checked += 1
            broken: tuple[int, str] | None = None
            if entry.seq < expected_seq:
                broken = (entry.seq, f"record seq {entry.seq} appears again or out of order")
            elif entry.seq > expected_seq:
                broken = (expected_seq, f"record seq {expected_seq} is missing (next stored is {entry.seq})")
            elif not hmac.compare_digest(entry.prev_hash, expected_prev):
                broken = (entry.seq, "prev_hash does not match the hash of the previous record")
            elif not hmac.compare_digest(entry.hash, record_hash(key, asdict(entry))):
                broken = (entry.seq, "hash does not match the record's content")
            if broken is not None:
                return VerifyResult(False, checked, broken[0], broken[1], last.seq if last else None, None)
            expected_seq, expected_prev, last = entry.seq + 1, entry.hash, entry
    return VerifyResult(True, checked, None, None, last.seq if last else None, last.hash if last else None)


def _filtered(
    tenant_id: str, since: datetime | None, until: datetime | None, action: str | None
) -> Select[Any]:
    query = select(*AuditRecord.__table__.columns).where(AuditRecord.tenant_id == tenant_id)
    if since is not None:
        query = query.where(AuditRecord.at >= since)
    if until is not None:
        query = query.where(AuditRecord.at < until)
    if action:
        if action.endswith("*"):
            query = query.where(AuditRecord.action.startswith(action[:-1], autoescape=True))
        else:
            query = query.where(AuditRecord.action == action)
    return query


def export(
    engine: Engine,
    tenant_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Records in chain order (or newest first), ``since`` inclusive, ``until`` exclusive.

    ``action`` matches exactly, or as a prefix when it ends with ``*`` (``import.*``).
    """
    order = AuditRecord.seq.desc() if newest_first else AuditRecord.seq
    query = _filtered(tenant_id, since, until, action).order_by(order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with tenant_connection(engine, tenant_id) as conn:
        return [entry_of(row).as_dict() for row in conn.execute(query)]


#: The audit log as a file (console and API ``?format=``): one row per record, details as JSON text.
EXPORT_COLUMNS = (
    Column("seq", N_("Sequence"), "int"),
    Column("at", N_("Time"), "datetime"),
    Column("actor", N_("Actor")),
    Column("action", N_("Action")),
    Column("target_type", N_("Target type")),
    Column("target_id", N_("Target")),
    Column("ip", N_("IP address")),
    Column("request_id", N_("Request ID")),
    Column("details", N_("Details")),
    Column("hash", N_("Hash")),
)


def iter_records(
    engine: Engine,
    tenant_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
    chunk: int = CHUNK_ROWS,
) -> Iterator[dict[str, Any]]:
    """Records newest first, a chunk at a time keyed on ``seq`` (records appended meanwhile shift nothing)."""
    below: int | None = None
    while True:
        query = _filtered(tenant_id, since, until, action)
        if below is not None:
            query = query.where(AuditRecord.seq < below)
        with tenant_connection(engine, tenant_id) as conn:
            entries = [entry_of(r) for r in conn.execute(query.order_by(AuditRecord.seq.desc()).limit(chunk))]
        rows = [{**entry.as_dict(), "at": entry.at} for entry in entries]  # a time, not its text
        for row in rows:
            row["details"] = json.dumps(row["details"], ensure_ascii=False, sort_keys=True, default=str)
            yield row
        if len(rows) < chunk:
            return
        below = rows[-1]["seq"]


def export_log(
    engine: Engine,
    tenant: TenantInfo,
    fmt: Format,
    *,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
    filters: dict[str, str],
    via: str,
) -> ExportTable:
    """The "export the audit log" use case: the filtered records as a file; the export is itself
    recorded (``audit.export``) before the rows are read, so it is the file's first row."""
    with tenant_connection(engine, tenant.id) as conn:
        count = conn.execute(
            select(func.count()).select_from(_filtered(tenant.id, since, until, action).subquery())
        ).scalar_one()
    audit_export(engine, tenant.id, "audit", fmt, filters=filters, rows=int(count), via=via)
    rows = iter_records(engine, tenant.id, since=since, until=until, action=action)
    return ExportTable("audit", EXPORT_COLUMNS, rows, tenant.timezone, int(count))
