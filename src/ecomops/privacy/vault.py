"""The PII vault: customers' personal data, encrypted per field, outside the warehouse.

``customer_pii`` has one row per (tenant, pseudonymous customer id) and one AES-GCM ciphertext per
field (``security.keyring``; AAD = tenant + field + customer id, so a ciphertext copied to another
row or tenant does not decrypt). Email and phone also get a blind index (keyed HMAC of the
normalised value) for exact-match lookup without decrypting the table.

Callers pass a ``tenant_session`` (row-level security applies on PostgreSQL). These functions do
not write audit records themselves: ingestion writes PII for every identify call (auditing each
would flood the chain), while reads in clear text (``customer.pii_read``) and erasure are audited
by the API/CLI and privacy-request code that call them, with the reason they have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.crypto.keyring import (
    Keyring,
    KeyringPseudonymKeys,
    TenantKeysMissing,
    blob_version,
    keyring,
)
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy.fields import PII_FIELDS
from ecomops.privacy.models import CustomerPII

__all__ = [
    "PII_FIELDS",
    "erase_pii",
    "find_customer_ids",
    "get_pii",
    "mask",
    "mask_all",
    "reencrypt_tenant",
    "store_emails",
    "upsert_many",
    "upsert_pii",
]

#: Longest value accepted per field (an address as JSON is the longest legitimate one).
MAX_FIELD_CHARS = 2000


def _ring(session: Session) -> Keyring:
    bind = session.get_bind()
    engine: Engine = bind.engine
    return keyring(engine)


def _column(field: str) -> str:
    return f"{field}_ct"


def _row(session: Session, tenant_id: str, customer_id: str) -> CustomerPII | None:
    return session.scalars(
        select(CustomerPII).where(CustomerPII.tenant_id == tenant_id, CustomerPII.customer_id == customer_id)
    ).one_or_none()


def _check(customer_id: str, fields: dict[str, str | None]) -> None:
    if not customer_id or len(customer_id) > 200:
        raise ValidationFailed(
            "customer id must be 1 to 200 characters", {"field": "customer_id", "length": len(customer_id)}
        )
    unknown = sorted(set(fields) - set(PII_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"unknown PII field(s) {', '.join(unknown)}; the vault holds {', '.join(PII_FIELDS)}",
            {"fields": unknown},
        )
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"PII field {name} must be text", {"field": name})
        if value is not None and len(value) > MAX_FIELD_CHARS:
            raise ValidationFailed(
                f"PII field {name} is {len(value)} characters; the limit is {MAX_FIELD_CHARS}",
                {"field": name},
            )


def upsert_pii(session: Session, tenant_id: str, customer_id: str, fields: dict[str, str | None]) -> None:
    """Create or update a customer's vault row: given fields are (re)encrypted, others are kept.

    A field given as ``None`` or blank is cleared. The blind indexes follow email and phone. The
    tenant's keys are loaded (created on first use) before this session writes anything; on SQLite,
    call it before the session's other writes the first time a tenant stores PII (see
    ``Keyring.tenant_key``).
    """
    _check(customer_id, fields)
    ring = _ring(session)
    ring.tenant_key(tenant_id, "data")
    ring.tenant_key(tenant_id, "index")
    row = _row(session, tenant_id, customer_id)
    if row is None:
        row = CustomerPII(tenant_id=tenant_id, customer_id=customer_id, created_at=utcnow())
        session.add(row)
    _set_fields(ring, row, fields)
    row.updated_at = utcnow()
    session.flush()


def _set_fields(ring: Keyring, row: CustomerPII, fields: dict[str, str | None]) -> None:
    for name, value in fields.items():
        text = value.strip() if value is not None else ""
        setattr(
            row,
            _column(name),
            ring.encrypt_field(row.tenant_id, name, row.customer_id, text) if text else None,
        )
        if name in ("email", "phone"):
            setattr(row, f"{name}_bidx", ring.blind_index(row.tenant_id, name, text) if text else None)


def upsert_many(
    session: Session,
    tenant_id: str,
    changes: dict[str, dict[str, str | None]],
    fills: dict[str, dict[str, str]] | None = None,
    chunk: int = 500,
) -> int:
    """``upsert_pii`` for many customers at once: one query per ``chunk`` customers finds their rows and
    one flush writes them all (the ingest loader stores a whole load's personal data this way).

    ``fills`` are fields written only where the customer has no value yet (stored or in ``changes``);
    they never overwrite. Returns the number of customers written.
    """
    fills = fills or {}
    wanted: dict[str, dict[str, str | None]] = {}
    for customer_id in {**changes, **fills}:
        own = changes.get(customer_id, {})
        fill = {k: v for k, v in fills.get(customer_id, {}).items() if k not in own}
        _check(customer_id, {**fill, **own})
        wanted[customer_id] = {**fill, **own}
    if not wanted:
        return 0
    ring = _ring(session)
    ring.tenant_key(tenant_id, "data")
    ring.tenant_key(tenant_id, "index")
    ids = list(wanted)
    now = utcnow()
    written = 0
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        existing = {
            row.customer_id: row
            for row in session.scalars(
                select(CustomerPII).where(
                    CustomerPII.tenant_id == tenant_id, CustomerPII.customer_id.in_(part)
                )
            )
        }
        for customer_id in part:
            fields = wanted[customer_id]
            row = existing.get(customer_id)
            if row is None:
                row = CustomerPII(tenant_id=tenant_id, customer_id=customer_id, created_at=now)
                session.add(row)
            else:
                own = changes.get(customer_id, {})
                # A stored ciphertext is never blank (blanks are stored as NULL): it is a value to keep.
                fields = {k: v for k, v in fields.items() if k in own or getattr(row, _column(k)) is None}
            if not fields:
                continue
            _set_fields(ring, row, fields)
            row.updated_at = now
            written += 1
    session.flush()
    return written


def store_emails(session: Session, tenant_id: str, pairs: list[tuple[str, str]], chunk: int = 500) -> int:
    """Bulk ``upsert_pii(..., {"email": e})`` for importers: one query per chunk finds existing rows."""
    ring = _ring(session)
    latest = dict(pairs)  # one address per customer id: the last given wins
    ids = list(latest)
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        for customer_id in part:
            _check(customer_id, {"email": latest[customer_id]})
        existing = {
            row.customer_id: row
            for row in session.scalars(
                select(CustomerPII).where(
                    CustomerPII.tenant_id == tenant_id, CustomerPII.customer_id.in_(part)
                )
            )
        }
        now = utcnow()
        for customer_id in part:
            email = latest[customer_id].strip()
            row = existing.get(customer_id)
            if row is None:
                row = CustomerPII(tenant_id=tenant_id, customer_id=customer_id, created_at=now)
                session.add(row)
            row.email_ct = ring.encrypt_field(tenant_id, "email", customer_id, email)
            row.email_bidx = ring.blind_index(tenant_id, "email", email)
            row.updated_at = now
        session.flush()
    return len(ids)


@dataclass(frozen=True)
class VaultPseudonymKeys(KeyringPseudonymKeys):
    """Importers' pseudonym keys that also keep each pseudonymised address, encrypted, in the vault."""

    def remember_emails(self, tenant_id: str, pairs: list[tuple[str, str]]) -> None:
        if not pairs:
            return
        keyring(self.engine).tenant_key(tenant_id, "data")  # first-use key creation commits on its own
        with tenant_session(self.engine, tenant_id) as session:
            store_emails(session, tenant_id, pairs)


def _decrypt_row(ring: Keyring, row: CustomerPII) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in PII_FIELDS:
        blob = getattr(row, _column(name))
        if blob is not None:
            out[name] = ring.decrypt_field(row.tenant_id, name, row.customer_id, bytes(blob))
    return out


def get_pii(session: Session, tenant_id: str, customer_id: str) -> dict[str, str] | None:
    """The customer's fields in clear text, or None if the vault has no row for them."""
    row = _row(session, tenant_id, customer_id)
    if row is None:
        return None
    return _decrypt_row(_ring(session), row)


def get_many(session: Session, tenant_id: str, customer_ids: list[str]) -> dict[str, dict[str, str]]:
    """``get_pii`` for a page of customers in one query."""
    if not customer_ids:
        return {}
    ring = _ring(session)
    rows = session.scalars(
        select(CustomerPII).where(
            CustomerPII.tenant_id == tenant_id, CustomerPII.customer_id.in_(customer_ids)
        )
    )
    return {row.customer_id: _decrypt_row(ring, row) for row in rows}


def find_customer_ids(
    session: Session, tenant_id: str, *, email: str | None = None, phone: str | None = None
) -> list[str]:
    """Customers whose normalised email and/or phone equal the given ones (both must match if both given)."""
    if email is None and phone is None:
        raise ValidationFailed("give an email or a phone to look up", {"fields": ["email", "phone"]})
    ring = _ring(session)
    query = select(CustomerPII.customer_id).where(CustomerPII.tenant_id == tenant_id)
    indexes: list[tuple[Any, str]] = []
    for kind, value, column in (
        ("email", email, CustomerPII.email_bidx),
        ("phone", phone, CustomerPII.phone_bidx),
    ):
        if value is None:
            continue
        try:
            index = ring.blind_index(tenant_id, kind, value, create=False)
        except TenantKeysMissing:
            return []  # no keys: nothing was ever stored for this tenant (and a lookup creates none)
        if index is None:
            raise ValidationFailed(f"{kind} {value!r} is empty once normalised", {"field": kind})
        indexes.append((column, index))
    for column, index in indexes:
        query = query.where(column == index)
    return list(session.scalars(query.order_by(CustomerPII.customer_id)))


def blind_indexes(session: Session, tenant_id: str, customer_id: str) -> dict[str, str | None] | None:
    """The customer's email/phone blind indexes (for suppression lists), without decrypting anything."""
    row = _row(session, tenant_id, customer_id)
    if row is None:
        return None
    return {"email": row.email_bidx, "phone": row.phone_bidx}


def erase_pii(session: Session, tenant_id: str, customer_id: str) -> bool:
    """Delete the customer's vault row; True if there was one.

    The row is deleted, not blanked: on SQLite ``secure_delete`` zeroes the freed page content, on
    PostgreSQL the dead tuple is reclaimed by VACUUM (docs/privacy.md).
    """
    row = _row(session, tenant_id, customer_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def reencrypt_tenant(session: Session, tenant_id: str, batch: int = 500) -> int:
    """Rewrite every vault row of the tenant not yet under the current data-key version; returns the count.

    After ``ecomops keys rotate --tenant … --reencrypt`` no ciphertext depends on retired versions.
    """
    ring = _ring(session)
    ring.forget_current(tenant_id)
    current, _ = ring.tenant_key(tenant_id, "data")
    changed = 0
    last = ""
    while True:
        rows = list(
            session.scalars(
                select(CustomerPII)
                .where(CustomerPII.tenant_id == tenant_id, CustomerPII.customer_id > last)
                .order_by(CustomerPII.customer_id)
                .limit(batch)
            )
        )
        if not rows:
            return changed
        for row in rows:
            last = row.customer_id
            blobs = {name: getattr(row, _column(name)) for name in PII_FIELDS}
            if all(blob is None or blob_version(bytes(blob)) == current for blob in blobs.values()):
                continue
            for name, blob in blobs.items():
                if blob is not None:
                    text = ring.decrypt_field(tenant_id, name, row.customer_id, bytes(blob))
                    setattr(row, _column(name), ring.encrypt_field(tenant_id, name, row.customer_id, text))
            row.updated_at = utcnow()
            changed += 1
        session.flush()


def stale_rows(session: Session, tenant_id: str) -> dict[int, int]:
    """How many vault fields each data-key version still protects (for ``keys status``)."""
    counts: dict[int, int] = {}
    columns = [getattr(CustomerPII, _column(name)) for name in PII_FIELDS]
    for blobs in session.execute(select(*columns).where(CustomerPII.tenant_id == tenant_id)):
        for blob in blobs:
            if blob is not None:
                version = blob_version(bytes(blob))
                counts[version] = counts.get(version, 0) + 1
    return counts


def _mask_name(value: str) -> str:
    return value[0] + "*" * max(1, len(value) - 1)


def mask(field: str, value: str) -> str:
    """A display form that confirms "which one" without disclosing it.

    ``alice@example.com`` → ``a***@example.com``; ``13812345678`` → ``138****5678``; ``张三`` → ``张*``;
    addresses and birthdays are hidden entirely.
    """
    if not value:
        return value
    if field == "email":
        local, at, domain = value.partition("@")
        if not at:
            return _mask_name(value)
        return f"{local[:1]}***@{domain}"
    if field == "phone":
        digits = [ch for ch in value if ch.isdigit()]
        if len(digits) >= 8:
            prefix = "+" if value.strip().startswith("+") else ""
            return f"{prefix}{''.join(digits[:3])}****{''.join(digits[-4:])}"
        return "****" + "".join(digits[-2:])
    if field in ("name", "first_name", "last_name"):
        return _mask_name(value.strip())
    return "***"


def mask_all(fields: dict[str, str]) -> dict[str, Any]:
    return {name: mask(name, value) for name, value in fields.items()}
