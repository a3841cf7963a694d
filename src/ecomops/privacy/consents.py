"""Customer consents per purpose, kept as an append-only history, and marketing eligibility.

Why a history and not a flag: GDPR art. 7(1) and PIPL art. 14 make the shop prove that a person
agreed, when, and through which channel, and a withdrawal must be as easy as the grant. Each
decision is a new ``consents`` row; the latest row per purpose (by ``recorded_at``, then the
time-ordered id) is the current state. Rows are never updated or deleted by the application — the
erasure of a customer appends withdrawals instead, so the proof of what was allowed when survives.

Marketing eligibility (``marketing_allowed``) needs both a current grant for the purpose and no
suppression: an erased person's email/phone blind indexes sit in ``marketing_suppressions`` so that
the same address coming back under a new customer id (a re-import, a re-identify) is not marketed to.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import current
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy import vault
from ecomops.privacy.models import Consent, MarketingSuppression

#: Purposes a consent can be given for. Marketing purposes gate outbound messages; the others gate
#: processing (recommendations from behaviour, analytics beyond what the contract needs).
PURPOSES = ("marketing_email", "marketing_sms", "personalisation", "analytics")
MARKETING_PURPOSES = ("marketing_email", "marketing_sms")
#: Where a decision was captured: a short label (``checkout_form``, ``customer_service``, ``api``…).
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,39}$")
#: Customer ids are the warehouse's pseudonymous ids: printable, no whitespace, bounded.
CUSTOMER_ID_RE = re.compile(r"^[^\s\x00-\x1f]{1,200}$")
#: Source label of the withdrawals an erasure appends.
ERASURE_SOURCE = "erasure"


@dataclass(frozen=True)
class ConsentRecord:
    id: str
    customer_id: str
    purpose: str
    granted: bool
    source: str
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, row: Consent) -> ConsentRecord:
        return cls(
            row.id,
            row.customer_id,
            row.purpose,
            row.granted,
            row.source,
            row.recorded_by,
            row.recorded_at,
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recorded_at"] = self.recorded_at.isoformat()
        return data


@dataclass(frozen=True)
class Eligibility:
    """Whether a customer may receive marketing for a purpose, and why not if they may not."""

    allowed: bool
    reason: str


def check_customer_id(customer_id: str) -> str:
    if not isinstance(customer_id, str) or not CUSTOMER_ID_RE.match(customer_id):
        raise ValidationFailed(
            f"customer id must be 1-200 printable characters without spaces, got {customer_id!r}",
            {"field": "customer_id"},
        )
    return customer_id


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValidationFailed(
            f"unknown consent purpose {purpose!r}; expected one of {', '.join(PURPOSES)}",
            {"field": "purpose", "allowed": list(PURPOSES)},
        )
    return purpose


def check_source(source: str) -> str:
    if not SOURCE_RE.match(source):
        raise ValidationFailed(
            f"consent source must be a short lower-case label like 'checkout_form' (a-z, 0-9, _ . : -, "
            f"at most 40 characters), got {source!r}",
            {"field": "source"},
        )
    return source


def append_consent(
    session: Session,
    tenant_id: str,
    customer_id: str,
    purpose: str,
    granted: bool,
    source: str,
    *,
    at: datetime | None = None,
) -> ConsentRecord:
    """Append one decision inside the caller's transaction, audited as ``consent.set``."""
    ctx = current()
    row = Consent(
        tenant_id=tenant_id,
        customer_id=check_customer_id(customer_id),
        purpose=check_purpose(purpose),
        granted=bool(granted),
        source=check_source(source),
        recorded_by=ctx.actor,
        recorded_at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    record_action(
        session,
        tenant_id,
        "consent.set",
        "customer",
        customer_id,
        after={"purpose": purpose, "granted": row.granted, "source": source},
        details={"purpose": purpose, "granted": row.granted, "source": source, "consent_id": row.id},
    )
    return ConsentRecord.of(row)


def record_consent(
    engine: Engine,
    tenant_id: str,
    customer_id: str,
    purpose: str,
    granted: bool,
    source: str,
    *,
    at: datetime | None = None,
) -> ConsentRecord:
    """Record a grant or a withdrawal for one purpose (its own transaction)."""
    with tenant_session(engine, tenant_id) as session:
        return append_consent(session, tenant_id, customer_id, purpose, granted, source, at=at)


def history_in(session: Session, customer_id: str, purpose: str | None = None) -> list[ConsentRecord]:
    """Every decision for a customer, oldest first (the session's tenant scope does the filtering)."""
    stmt = select(Consent).where(Consent.customer_id == customer_id)
    if purpose is not None:
        stmt = stmt.where(Consent.purpose == check_purpose(purpose))
    rows = session.scalars(stmt.order_by(Consent.recorded_at, Consent.id)).all()
    return [ConsentRecord.of(r) for r in rows]


def latest(records: list[ConsentRecord]) -> dict[str, ConsentRecord]:
    """The current decision per purpose: the last one in (recorded_at, id) order wins."""
    state: dict[str, ConsentRecord] = {}
    for record in sorted(records, key=lambda r: (r.recorded_at, r.id)):
        state[record.purpose] = record
    return state


def consent_history(
    engine: Engine, tenant_id: str, customer_id: str, purpose: str | None = None
) -> list[ConsentRecord]:
    check_customer_id(customer_id)
    with tenant_session(engine, tenant_id) as session:
        return history_in(session, customer_id, purpose)


def current_consents(engine: Engine, tenant_id: str, customer_id: str) -> dict[str, ConsentRecord]:
    return latest(consent_history(engine, tenant_id, customer_id))


def withdraw_all(session: Session, tenant_id: str, customer_id: str, source: str) -> int:
    """Append a withdrawal for every purpose currently granted; returns how many were withdrawn."""
    granted = [r for r in latest(history_in(session, customer_id)).values() if r.granted]
    for record in granted:
        append_consent(session, tenant_id, customer_id, record.purpose, False, source)
    return len(granted)


# -- suppression ------------------------------------------------------------------------------------


def suppress_blind_indexes(
    session: Session, tenant_id: str, indexes: dict[str, str | None], reason: str
) -> int:
    """Add the given ``kind → blind index`` pairs to the suppression list (idempotent); returns how many
    were new."""
    added = 0
    for kind, value in indexes.items():
        if not value:
            continue
        exists = session.scalar(
            select(MarketingSuppression.id).where(
                MarketingSuppression.kind == kind, MarketingSuppression.blind_index == value
            )
        )
        if exists is None:
            session.add(
                MarketingSuppression(tenant_id=tenant_id, kind=kind, blind_index=value, reason=reason)
            )
            added += 1
    session.flush()
    return added


def suppression_in(session: Session, tenant_id: str, customer_id: str) -> str | None:
    """The kind (``email``/``phone``) under which the customer's current contact data is suppressed."""
    indexes = vault.blind_indexes(session, tenant_id, customer_id)
    if indexes is None:
        return None
    for kind, value in indexes.items():
        if value and session.scalar(
            select(MarketingSuppression.id).where(
                MarketingSuppression.kind == kind, MarketingSuppression.blind_index == value
            )
        ):
            return kind
    return None


def eligibility_in(session: Session, tenant_id: str, customer_id: str, purpose: str) -> Eligibility:
    if purpose not in MARKETING_PURPOSES:
        raise ValidationFailed(
            f"{purpose!r} is not a marketing purpose; expected one of {', '.join(MARKETING_PURPOSES)}",
            {"field": "purpose"},
        )
    suppressed = suppression_in(session, tenant_id, customer_id)
    if suppressed is not None:
        return Eligibility(False, f"the customer's {suppressed} belongs to an erased person (suppressed)")
    record = latest(history_in(session, customer_id, purpose)).get(purpose)
    if record is None:
        return Eligibility(False, f"no {purpose} consent recorded")
    if not record.granted:
        return Eligibility(False, f"{purpose} consent withdrawn at {record.recorded_at.isoformat()}")
    return Eligibility(
        True, f"{purpose} consent granted at {record.recorded_at.isoformat()} via {record.source}"
    )


def marketing_allowed(engine: Engine, tenant_id: str, customer_id: str, purpose: str) -> Eligibility:
    """May this customer be sent marketing for ``purpose``? Needs a current grant and no suppression.

    Every outbound-marketing feature (journeys, campaigns, audience exports) must ask this, not read
    consents itself, so the suppression of erased people cannot be forgotten.
    """
    check_customer_id(customer_id)
    with tenant_session(engine, tenant_id) as session:
        return eligibility_in(session, tenant_id, customer_id, purpose)
