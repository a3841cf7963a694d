"""Per-tenant retention: how long raw events, dead letters and import reject files are kept.

Storage limitation (GDPR art. 5(1)(e), PIPL art. 19) means raw behavioural data should not be kept
forever just because it is cheap. A tenant's ``retention_policies`` row says, per kind of data, after
how many days it goes (NULL = keep; nothing is deleted until someone sets a policy):

* **raw events** older than ``events_days`` are either dropped or *anonymised*: traits nulled; the
  context's ip, userAgent, traits, device id and page url/search/referrer removed (from the JSON and
  from the columns they moved to, ``eventcontext``); query strings and fragments
  cut from ``page_url``/``referrer``; and ``user_id``/``anonymous_id`` re-keyed to a random id per
  person and UTC day (``rk_<random>``). Counts, funnels within a day, channels and revenue survive;
  following one person across days does not. Orders, refunds and reviews are business records and
  are not touched (their own retention is a legal question per country).
* **dead letters** (raw refused payloads) received more than ``dead_letters_days`` ago are deleted.
* **import reject files** (CSV lines quoting the bad input) of imports finished more than
  ``reject_files_days`` ago are deleted; the import's summary stays.

Expired privacy-export bundles are dropped on every run as well (they hold PII in clear once decrypted).
A run that removed or rewrote rows marks the warehouse for compaction, like an erasure: DuckDB keeps
the old values in its free space until the file is rewritten (``privacy.compaction``).
The server runs every tenant's policy hourly (``privacy.runner``, ``ECOMOPS_RETENTION_INTERVAL_SECONDS``);
``ecomops privacy retention run`` runs one tenant now. Each run is audited as ``retention.run`` with counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo, current
from ecomops.platform.registry import registry
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.warehouse import facts
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.platform.warehouse.eventcontext import (
    FROM_COLUMNS,
    IDENTIFYING_COLUMNS,
    PAGE_REFERRER_BIT,
    PAGE_URL_BIT,
)
from ecomops.privacy import compaction
from ecomops.privacy import requests as privacy_requests
from ecomops.privacy.models import RetentionPolicy

EVENT_ACTIONS = ("drop", "anonymise")
#: Upper bound on any retention period (100 years): larger numbers are typos, not policies.
MAX_DAYS = 36_500
RETENTION_PREFIX = "rk_"
#: JSON merge patches (RFC 7396: null deletes) removing what identifies a person from event context;
#: the nested ones apply only where the object exists (a patch would otherwise add an empty one).
CONTEXT_PATCH = '{"ip": null, "userAgent": null, "traits": null}'
DEVICE_PATCH = '{"device": {"id": null, "advertisingId": null}}'
PAGE_PATCH = '{"page": {"url": null, "search": null, "referrer": null}}'
CONTEXT_SQL = (
    "json_merge_patch(json_merge_patch(json_merge_patch(context, ?),"
    " CASE WHEN json_exists(context, '$.device') THEN ? ELSE '{}' END),"
    " CASE WHEN json_exists(context, '$.page') THEN ? ELSE '{}' END)"
)
#: The same fields where they moved out of the JSON (platform migration 0002): their typed columns, and
#: the bits saying page.url/page.referrer are those of ``page_url``/``referrer``, which stay (cut).
_PAGE_BITS = (1 << PAGE_URL_BIT) | (1 << PAGE_REFERRER_BIT)
COLUMNS_SQL = ", ".join(f"{c} = NULL" for c in IDENTIFYING_COLUMNS) + (
    f", {FROM_COLUMNS} = {FROM_COLUMNS} & ~CAST({_PAGE_BITS} AS USMALLINT)"
)
_IDENTIFIED_SQL = " OR ".join(f"{c} IS NOT NULL" for c in IDENTIFYING_COLUMNS) + (
    f" OR {FROM_COLUMNS} & {_PAGE_BITS} <> 0"
)


@dataclass(frozen=True)
class Policy:
    tenant_id: str
    events_days: int | None = None
    events_action: str = "anonymise"
    dead_letters_days: int | None = None
    reject_files_days: int | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None
    last_run_at: datetime | None = None
    last_run_summary: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: RetentionPolicy) -> Policy:
        return cls(
            row.tenant_id,
            row.events_days,
            row.events_action,
            row.dead_letters_days,
            row.reject_files_days,
            row.updated_by,
            row.updated_at,
            row.last_run_at,
            dict(row.last_run_summary) if row.last_run_summary is not None else None,
        )

    def rules(self) -> dict[str, Any]:
        return {
            "events_days": self.events_days,
            "events_action": self.events_action,
            "dead_letters_days": self.dead_letters_days,
            "reject_files_days": self.reject_files_days,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.rules(),
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_run_summary": self.last_run_summary,
        }


def _check_days(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise ValidationFailed(
            f"{name} must be a whole number of days from 1 to {MAX_DAYS}, or null to keep forever; "
            f"got {value!r}",
            {"field": name},
        )
    return value


def get_policy(engine: Engine, tenant_id: str) -> Policy:
    """The tenant's policy; a tenant that never set one keeps everything."""
    with tenant_session(engine, tenant_id) as session:
        row = session.get(RetentionPolicy, tenant_id)
        return Policy.of(row) if row is not None else Policy(tenant_id)


def set_policy(
    engine: Engine,
    tenant_id: str,
    *,
    events_days: int | None,
    events_action: str,
    dead_letters_days: int | None,
    reject_files_days: int | None,
) -> Policy:
    """Replace the tenant's policy, audited as ``retention.set`` with the old and new rules."""
    if events_action not in EVENT_ACTIONS:
        raise ValidationFailed(
            f"events_action must be drop or anonymise, got {events_action!r}", {"field": "events_action"}
        )
    rules = {
        "events_days": _check_days("events_days", events_days),
        "events_action": events_action,
        "dead_letters_days": _check_days("dead_letters_days", dead_letters_days),
        "reject_files_days": _check_days("reject_files_days", reject_files_days),
    }
    ctx = current()
    with tenant_session(engine, tenant_id) as session:
        row = session.get(RetentionPolicy, tenant_id)
        before = Policy.of(row).rules() if row is not None else None
        if row is None:
            row = RetentionPolicy(tenant_id=tenant_id)
            session.add(row)
        for name, value in rules.items():
            setattr(row, name, value)
        row.updated_by = ctx.actor
        row.updated_at = utcnow()
        session.flush()
        record_action(
            session,
            tenant_id,
            "retention.set",
            "retention_policy",
            tenant_id,
            before=before,
            after=rules,
            details={"before": before, "after": rules},
        )
        return Policy.of(row)


def tenants_with_policies(engine: Engine) -> list[str]:
    with system_session(engine, "hourly retention run visits every tenant with a policy") as session:
        return list(session.scalars(select(RetentionPolicy.tenant_id).order_by(RetentionPolicy.tenant_id)))


# -- the work -----------------------------------------------------------------------------------------


def _count(cur: Any) -> int:
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _not_anonymised() -> str:
    return (
        f"((user_id IS NOT NULL AND NOT starts_with(user_id, '{RETENTION_PREFIX}'))"
        f" OR (anonymous_id IS NOT NULL AND NOT starts_with(anonymous_id, '{RETENTION_PREFIX}'))"
        " OR traits IS NOT NULL"
        " OR json_exists(context, '$.ip') OR json_exists(context, '$.userAgent')"
        " OR json_exists(context, '$.traits') OR json_exists(context, '$.page.url')"
        f" OR {_IDENTIFIED_SQL}"
        " OR regexp_matches(coalesce(page_url, ''), '[?#]')"
        " OR regexp_matches(coalesce(referrer, ''), '[?#]'))"
    )


def anonymise_events(warehouse: Warehouse, cutoff: datetime) -> int:
    """Anonymise events with ``ts < cutoff`` not anonymised yet (one transaction); returns how many."""
    pending = _not_anonymised()
    with warehouse.write() as cur:
        cur.execute(
            f"""CREATE TEMP TABLE _retention_keys AS
                SELECT id, day, '{RETENTION_PREFIX}' || replace(CAST(gen_random_uuid() AS VARCHAR), '-', '')
                       AS new_id
                FROM (SELECT DISTINCT id, day FROM (
                        SELECT user_id AS id, CAST(ts AS DATE) AS day FROM events
                         WHERE ts < ? AND {pending}
                        UNION
                        SELECT anonymous_id, CAST(ts AS DATE) FROM events
                         WHERE ts < ? AND {pending}) WHERE id IS NOT NULL
                          AND NOT starts_with(id, '{RETENTION_PREFIX}'))""",  # noqa: S608 (constants only)
            [cutoff, cutoff],
        )
        try:
            cur.execute(
                f"""UPDATE events SET
                        user_id = coalesce(
                            (SELECT k.new_id FROM _retention_keys k
                              WHERE k.id = events.user_id AND k.day = CAST(events.ts AS DATE)), user_id),
                        anonymous_id = coalesce(
                            (SELECT k.new_id FROM _retention_keys k
                              WHERE k.id = events.anonymous_id AND k.day = CAST(events.ts AS DATE)),
                            anonymous_id),
                        traits = NULL,
                        context = CASE WHEN context IS NULL THEN NULL ELSE {CONTEXT_SQL} END,
                        {COLUMNS_SQL},
                        page_url = regexp_replace(page_url, '[?#].*$', ''),
                        referrer = regexp_replace(referrer, '[?#].*$', '')
                    WHERE ts < ? AND {pending}""",  # noqa: S608 (constants only)
                [CONTEXT_PATCH, DEVICE_PATCH, PAGE_PATCH, cutoff],
            )
            changed = _count(cur)
            if changed:  # visitor ids changed: visitor rollups of those hours, same transaction
                facts.publish(cur, facts.FactsChanged("events_before", cutoff=cutoff))
            return changed
        finally:
            cur.execute("DROP TABLE _retention_keys")


def drop_events(warehouse: Warehouse, cutoff: datetime) -> int:
    with warehouse.write() as cur:
        cur.execute("DELETE FROM events WHERE ts < ?", [cutoff])
        dropped = _count(cur)
        if dropped:
            facts.publish(cur, facts.FactsChanged("events_before", cutoff=cutoff))
        return dropped


def delete_dead_letters(warehouse: Warehouse, cutoff: datetime) -> int:
    with warehouse.write() as cur:
        cur.execute("DELETE FROM ingest_dead_letters WHERE received_at < ?", [cutoff])
        return _count(cur)


def run_retention(
    engine: Engine,
    settings: Settings,
    warehouse: Warehouse,
    tenant: TenantInfo,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply the tenant's policy as of ``now`` (default: the current time); audited as ``retention.run``."""
    now = now or utcnow()
    policy = get_policy(engine, tenant.id)
    summary: dict[str, Any] = {"at": now.isoformat(), "policy": policy.rules()}
    if policy.events_days is not None:
        cutoff = now - timedelta(days=policy.events_days)
        if policy.events_action == "drop":
            summary["events_dropped"] = drop_events(warehouse, cutoff)
        else:
            summary["events_anonymised"] = anonymise_events(warehouse, cutoff)
    if policy.dead_letters_days is not None:
        summary["dead_letters_deleted"] = delete_dead_letters(
            warehouse, now - timedelta(days=policy.dead_letters_days)
        )
    for sweep in registry().retention_sweeps:  # e.g. the imports module's reject files
        days = getattr(policy, sweep.policy_field)
        if days is not None:
            summary[sweep.result_key] = sweep.run(engine, settings, tenant.id, now - timedelta(days=days))
    summary["export_bundles_dropped"] = privacy_requests.drop_expired_bundles(engine, tenant.id, now)
    if any(summary.get(k) for k in ("events_dropped", "events_anonymised", "dead_letters_deleted")):
        # The old values linger in DuckDB's free space until the file is rewritten (privacy.compaction).
        compaction.mark_pending(settings.warehouse_dir(), tenant.id)
        summary["compaction_pending"] = True
    with tenant_session(engine, tenant.id) as session:
        row = session.get(RetentionPolicy, tenant.id)
        if row is not None:
            session.execute(
                update(RetentionPolicy)
                .where(RetentionPolicy.tenant_id == tenant.id)
                .values(last_run_at=now, last_run_summary=summary)
            )
        record_action(
            session,
            tenant.id,
            "retention.run",
            "retention_policy",
            tenant.id,
            details=summary,
        )
    return summary
