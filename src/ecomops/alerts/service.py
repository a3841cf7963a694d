"""Alert rules: storage, validation, evaluation against the warehouse, firings and their delivery.

Two kinds of rule:

``metric``
    Any catalogue metric (``analytics.catalogue``), optionally for one breakdown value
    (``channel = tmall``), over the last *complete* hour or local day of the tenant's time zone.
    Conditions: ``above``/``below`` an absolute threshold, or ``drop``/``rise`` by at least
    ``threshold`` percent against the previous period, the same period last week or last year.
    The values come from the same measure sources the metrics API uses (the rollups when they can
    answer, else the raw facts), asked for exactly two buckets, so an alert and the dashboard never
    disagree about a number and an hourly evaluation does not rescan the raw events.
``stock``
    Products whose stock on hand (latest inventory snapshot per warehouse, summed: as
    ``products.service`` reads it) covers fewer than ``threshold`` days of sales, where days of
    sales = on hand / average daily units over the 14 complete local days before today.

Complete periods only: a partial hour or day compared against a full one would look like a drop every
morning. Noise guards: ``min_volume`` (the ``volume_metric``, by default orders, must reach it in the
evaluated period and in the baseline; for stock rules, units sold over the 14 days), a cool-down
after each firing, and at most one firing per rule and period.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import ibis
from sqlalchemy import Engine, select

from ecomops.alerts import webhook
from ecomops.alerts.models import AlertEvent, AlertRule
from ecomops.alerts.results import EvaluationResult, Rule, RuleEvent, RuleWithSecret, plain_number
from ecomops.analytics.service import (
    BASE_MEASURES,
    EXCLUDED_ORDER_STATUSES,
    METRICS_BY_ID,
    Bucket,
    Cells,
    FactsSource,
    Granularity,
    MeasureSource,
    Unit,
    bucket_at,
    last_year_bucket,
    local_midnight,
    parse_breakdown,
    rollup_source_for,
)
from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.kernel.ids import new_id
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.audit import record_action
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo, current
from ecomops.platform.crypto.keyring import decrypt_field, encrypt_field
from ecomops.platform.export import Column, ExportTable, Format, audit_export
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import system_session, tenant_session

KINDS = ("metric", "stock")
WINDOWS = ("hour", "day")
CONDITIONS = ("above", "below", "drop", "rise")
COMPARE_TO = ("previous", "last_week", "last_year")
STOCK_FILTERS = ("category", "product")
SALES_DAYS = 14
DEFAULT_VOLUME_METRIC = "orders"
MAX_COOLDOWN_MINUTES = 60 * 24 * 30
#: Fits the INTEGER column on every backend.
MAX_VOLUME = 10**9
MAX_EVENTS = 500
#: Products listed by name in a stock firing's message (the payload lists up to STOCK_PAYLOAD_ITEMS).
STOCK_MESSAGE_ITEMS = 5
STOCK_PAYLOAD_ITEMS = 100
SECRET_FIELD = "alert_rules.webhook_secret"


# --- rules ---------------------------------------------------------------------------------------


@dataclass
class RuleSpec:
    """A rule as the API, CLI and console send it (strings validated by :func:`validate`)."""

    name: str
    kind: str = "metric"
    metric: str | None = None
    breakdown: str | None = None
    breakdown_value: str | None = None
    window: str = "day"
    condition: str = "below"
    compare_to: str | None = None
    threshold: Decimal = Decimal(0)
    volume_metric: str | None = None
    min_volume: int = 0
    cooldown_minutes: int = 60
    enabled: bool = True
    webhook_url: str | None = None

    def fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field_name}: {message}", {"field": field_name})


def _choice(field_name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise _fail(field_name, f"must be one of {', '.join(allowed)}; got {value!r}")


def validate(spec: RuleSpec, settings: Settings) -> RuleSpec:
    """Check the rule as a whole; every error names the field. Returns the normalised spec."""
    spec.name = (spec.name or "").strip()
    if not 0 < len(spec.name) <= 200:
        raise _fail("name", "must be 1..200 characters")
    _choice("kind", spec.kind, KINDS)
    try:
        spec.threshold = Decimal(spec.threshold)
    except (InvalidOperation, TypeError, ValueError):
        raise _fail("threshold", f"must be a number, got {spec.threshold!r}") from None
    if not spec.threshold.is_finite() or abs(spec.threshold) >= Decimal(10) ** 17:
        raise _fail("threshold", "must be a finite number below 10^17")
    if not 0 <= spec.min_volume <= MAX_VOLUME:
        raise _fail("min_volume", f"must be between 0 and {MAX_VOLUME}")
    for name in (
        "name",
        "metric",
        "breakdown",
        "breakdown_value",
        "compare_to",
        "volume_metric",
        "webhook_url",
    ):
        value = getattr(spec, name)
        if isinstance(value, str) and any(ord(c) < 32 for c in value):
            raise _fail(name, "must not contain control characters")
    if not 0 <= spec.cooldown_minutes <= MAX_COOLDOWN_MINUTES:
        raise _fail("cooldown_minutes", f"must be between 0 and {MAX_COOLDOWN_MINUTES}")
    if (spec.breakdown is None) != (spec.breakdown_value in (None, "")):
        raise _fail("breakdown_value", "a breakdown filter needs both the breakdown and its value")
    if spec.breakdown_value is not None and len(spec.breakdown_value) > 200:
        raise _fail("breakdown_value", "must be at most 200 characters")
    if spec.kind == "stock":
        spec.metric, spec.compare_to, spec.volume_metric = None, None, None
        spec.window = "day"
        if spec.condition != "below":
            raise _fail("condition", "a stock rule fires when cover is below the threshold: use below")
        if spec.threshold <= 0:
            raise _fail("threshold", "days of stock cover must be more than 0")
        if spec.breakdown is not None:
            _choice("breakdown", spec.breakdown, STOCK_FILTERS)
    else:
        if spec.metric not in METRICS_BY_ID:
            raise _fail("metric", f"unknown metric {spec.metric!r}; see GET …/metrics/catalogue")
        _choice("window", spec.window, WINDOWS)
        _choice("condition", spec.condition, CONDITIONS)
        if spec.condition in ("drop", "rise"):
            _choice("compare_to", spec.compare_to, COMPARE_TO)
            if not 0 < spec.threshold <= (100 if spec.condition == "drop" else 10**6):
                raise _fail("threshold", f"a {spec.condition} is a percentage above 0 (a drop at most 100)")
        else:
            spec.compare_to = None
        if spec.breakdown is not None:
            parse_breakdown(spec.breakdown)
        spec.volume_metric = spec.volume_metric or (DEFAULT_VOLUME_METRIC if spec.min_volume else None)
        if spec.volume_metric is not None:
            volume = METRICS_BY_ID.get(spec.volume_metric)
            if volume is None or volume.unit is not Unit.count:
                counts = ", ".join(m for m, v in METRICS_BY_ID.items() if v.unit is Unit.count)
                raise _fail("volume_metric", f"must be a count metric ({counts}); got {spec.volume_metric!r}")
    if spec.webhook_url in ("", None):
        spec.webhook_url = None
    else:
        spec.webhook_url = webhook.check_url(spec.webhook_url, settings.alerts_allow_private_webhooks)
    return spec


def describe(r: AlertRule | Rule | RuleSpec) -> str:
    """The rule in one English line (CLI, messages, audit details)."""
    scope = f" for {r.breakdown}={r.breakdown_value}" if r.breakdown else ""
    if r.kind == "stock":
        return f"stock cover below {_num(r.threshold)} days{scope}"
    what = f"{r.metric} per {r.window}{scope}"
    if r.condition in ("above", "below"):
        return f"{what} {r.condition} {_num(r.threshold)}"
    return f"{what} {r.condition}s {_num(r.threshold)}% vs {_versus(r.compare_to)}"


def _versus(compare_to: str | None) -> str:
    """The period a drop/rise rule compares with, in words."""
    if compare_to == "previous":
        return "the previous period"
    if compare_to == "last_week":
        return "the same period last week"
    return "the same period last year"


def _num(value: Decimal | int | str) -> str:
    """A threshold without trailing zeros or exponent (30, 2.5, 1200)."""
    return plain_number(Decimal(str(value)))


def view(rule: AlertRule) -> Rule:
    """A rule for the API, CLI and console; the secret itself is never in it."""
    return Rule(
        id=rule.id,
        name=rule.name,
        kind=rule.kind,
        metric=rule.metric,
        breakdown=rule.breakdown,
        breakdown_value=rule.breakdown_value,
        window=rule.window,
        condition=rule.condition,
        compare_to=rule.compare_to,
        threshold=rule.threshold,
        volume_metric=rule.volume_metric,
        min_volume=rule.min_volume,
        cooldown_minutes=rule.cooldown_minutes,
        enabled=rule.enabled,
        webhook_url=rule.webhook_url,
        has_webhook_secret=rule.webhook_secret is not None,
        created_by=rule.created_by,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
        last_evaluated_at=rule.last_evaluated_at,
        last_status=rule.last_status,
        last_fired_at=rule.last_fired_at,
        description=describe(rule),
    )


def _with_secret(rule: Rule, secret: str | None) -> RuleWithSecret:
    return RuleWithSecret(**{f.name: getattr(rule, f.name) for f in fields(rule)}, webhook_secret=secret)


def _audited(rule: Rule) -> dict[str, Any]:
    """Rule fields worth recording in the audit log (no timestamps of evaluations), as the API shows them."""
    keep = set(RuleSpec.__dataclass_fields__) | {"has_webhook_secret"}
    return {k: v for k, v in json_form(rule, Rule).items() if k in keep}


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _sealed_secret(engine: Engine, tenant_id: str, rule_id: str) -> tuple[str, bytes]:
    """A new signing secret and its sealed form (AES-GCM under the tenant's data key, bound to the rule)."""
    secret = new_secret()
    return secret, encrypt_field(engine, tenant_id, SECRET_FIELD, rule_id, secret)


def create_rule(engine: Engine, settings: Settings, tenant_id: str, spec: RuleSpec) -> RuleWithSecret:
    """Store a rule (audited ``alert.create``); returns it with, for a webhook, its secret (shown once)."""
    spec = validate(spec, settings)
    rule_id = new_id("alr_")
    # Sealed before the session opens: the keyring may create the tenant's keys in its own transaction.
    secret, sealed = _sealed_secret(engine, tenant_id, rule_id) if spec.webhook_url else (None, None)
    with tenant_session(engine, tenant_id) as session:
        if session.scalar(select(AlertRule.id).where(AlertRule.name == spec.name)) is not None:
            raise Conflict(f"an alert rule named {spec.name!r} exists already", {"field": "name"})
        rule = AlertRule(
            id=rule_id,
            tenant_id=tenant_id,
            created_by=current().actor,
            webhook_secret=sealed,
            **spec.fields(),
        )
        session.add(rule)
        session.flush()
        out = view(rule)
        record_action(
            session,
            tenant_id,
            "alert.create",
            "alert_rule",
            rule.id,
            after=_audited(out),
            details={"rule": out.description},
        )
    return _with_secret(out, secret)


def _load(session: Any, rule_id: str) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"alert rule {rule_id!r} not found in this tenant", {"rule_id": rule_id})
    assert isinstance(rule, AlertRule)
    return rule


def update_rule(
    engine: Engine,
    settings: Settings,
    tenant_id: str,
    rule_id: str,
    changes: dict[str, Any],
    *,
    rotate_secret: bool = False,
) -> RuleWithSecret:
    """Change some fields (audited ``alert.update`` with before and after); the answer carries a new
    secret when one is created (first webhook URL, or ``rotate_secret``)."""
    unknown = set(changes) - set(RuleSpec.__dataclass_fields__)
    if unknown:
        raise ValidationFailed(
            f"unknown rule fields: {', '.join(sorted(unknown))}", {"fields": sorted(unknown)}
        )
    fresh = (
        _sealed_secret(engine, tenant_id, rule_id)
        if rotate_secret or changes.get("webhook_url")
        else (None, None)
    )
    with tenant_session(engine, tenant_id) as session:
        rule = _load(session, rule_id)
        before = view(rule)
        spec = RuleSpec(**{k: getattr(before, k) for k in RuleSpec.__dataclass_fields__})
        for key, value in changes.items():
            setattr(spec, key, value)
        spec = validate(spec, settings)
        if spec.name != rule.name and session.scalar(
            select(AlertRule.id).where(AlertRule.name == spec.name, AlertRule.id != rule.id)
        ):
            raise Conflict(f"an alert rule named {spec.name!r} exists already", {"field": "name"})
        for key, value in spec.fields().items():
            setattr(rule, key, value)
        secret = None
        if spec.webhook_url is None:
            rule.webhook_secret = None
        elif rule.webhook_secret is None or rotate_secret:
            secret, rule.webhook_secret = fresh
        rule.updated_at = utcnow()
        session.flush()
        out = view(rule)
        record_action(
            session,
            tenant_id,
            "alert.update",
            "alert_rule",
            rule.id,
            before=_audited(before),
            after=_audited(out),
            details={
                "changed": sorted(changes) + (["webhook_secret"] if secret else []),
                "rule": out.description,
            },
        )
    return _with_secret(out, secret)


def delete_rule(engine: Engine, tenant_id: str, rule_id: str) -> None:
    """Delete a rule and its firings (audited ``alert.delete``)."""
    with tenant_session(engine, tenant_id) as session:
        rule = _load(session, rule_id)
        before = view(rule)
        session.delete(rule)
        session.flush()
        record_action(
            session,
            tenant_id,
            "alert.delete",
            "alert_rule",
            rule_id,
            before=_audited(before),
            details={"name": before.name, "rule": before.description},
        )


def list_rules(engine: Engine, tenant_id: str) -> list[Rule]:
    with tenant_session(engine, tenant_id) as session:
        return [
            view(r) for r in session.scalars(select(AlertRule).order_by(AlertRule.created_at, AlertRule.id))
        ]


def get_rule(engine: Engine, tenant_id: str, rule_id: str) -> Rule:
    with tenant_session(engine, tenant_id) as session:
        return view(_load(session, rule_id))


def find_rule(engine: Engine, tenant_id: str, id_or_name: str) -> Rule:
    """By id, else by exact name (the CLI accepts either)."""
    with tenant_session(engine, tenant_id) as session:
        rule = session.get(AlertRule, id_or_name) or session.scalar(
            select(AlertRule).where(AlertRule.name == id_or_name)
        )
        if rule is None:
            raise NotFound(f"no alert rule with id or name {id_or_name!r}", {"rule": id_or_name})
        return view(rule)


def event_view(e: AlertEvent) -> RuleEvent:
    return RuleEvent(
        id=e.id,
        rule_id=e.rule_id,
        kind=e.kind,
        fired_at=e.fired_at,
        period=e.period,
        value=e.value,
        baseline=e.baseline,
        message=e.message,
        status=e.status,
        attempts=e.attempts,
        delivered_at=e.delivered_at,
        response_status=e.response_status,
        last_error=e.last_error,
        payload=dict(e.payload),
    )


def list_events(
    engine: Engine, tenant_id: str, rule_id: str | None = None, limit: int = 50
) -> list[RuleEvent]:
    """Firings and test deliveries, newest first."""
    if not 1 <= limit <= MAX_EVENTS:
        raise ValidationFailed(f"limit must be 1..{MAX_EVENTS}, got {limit}", {"field": "limit"})
    with tenant_session(engine, tenant_id) as session:
        query = select(AlertEvent).order_by(AlertEvent.fired_at.desc(), AlertEvent.id.desc()).limit(limit)
        if rule_id is not None:
            query = query.where(AlertEvent.rule_id == rule_id)
        return [event_view(e) for e in session.scalars(query)]


#: Alert firings as a file (the alerts page and ``GET …/alerts/events?format=``).
EVENT_COLUMNS = (
    Column("fired_at", N_("Fired at"), "datetime"),
    Column("rule", N_("Rule")),
    Column("rule_id", N_("Rule ID")),
    Column("kind", N_("Kind")),
    Column("period", N_("Period")),
    Column("value", N_("Value"), "number"),
    Column("baseline", N_("Baseline"), "number"),
    Column("message", N_("Message")),
    Column("status", N_("Delivery")),
    Column("attempts", N_("Attempts"), "int"),
    Column("delivered_at", N_("Delivered at"), "datetime"),
    Column("response_status", N_("Response status"), "int"),
    Column("last_error", N_("Last error")),
)


def export_events(
    engine: Engine, tenant: TenantInfo, rule_id: str | None, fmt: Format, *, via: str
) -> ExportTable:
    """The "export alert firings" use case: the firings and test deliveries kept (at most
    ``MAX_EVENTS``, newest first) with their rule's name; audited as ``alerts.export``."""
    events = list_events(engine, tenant.id, rule_id, MAX_EVENTS)
    names = {r.id: r.name for r in list_rules(engine, tenant.id)}
    filters = {"rule_id": rule_id} if rule_id else {}
    audit_export(engine, tenant.id, "alerts", fmt, filters=filters, rows=len(events), via=via)
    rows = ({**asdict(e), "rule": names.get(e.rule_id, e.rule_id)} for e in events)
    return ExportTable("alert-firings", EVENT_COLUMNS, rows, tenant.timezone, len(events))


def tenants_with_enabled_rules(engine: Engine) -> list[str]:
    with system_session(engine, "alert scheduler visits every tenant with an enabled rule") as session:
        return list(
            session.scalars(select(AlertRule.tenant_id).where(AlertRule.enabled.is_(True)).distinct())
        )


# --- evaluation ----------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What one rule found for one period, while it is being worked out (the details go into the
    webhook payload). ``status``: fired, ok, cooldown, already_fired, low_volume, unavailable, no_value
    or no_baseline. :meth:`result` is what the API and the CLI show."""

    rule_id: str
    status: str
    period: str
    value: Decimal | None = None
    baseline: Decimal | None = None
    change_pct: Decimal | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    delivery: str | None = None

    @property
    def triggered(self) -> bool:
        return self.status == "fired"

    def result(self) -> EvaluationResult:
        return EvaluationResult(
            self.rule_id,
            self.status,
            self.period,
            self.value,
            self.baseline,
            self.change_pct,
            self.message,
            self.event_id,
            self.delivery,
        )


def periods(
    window: str, compare_to: str | None, zone: ZoneInfo, now: datetime
) -> tuple[Bucket, Bucket | None]:
    """The last complete hour or local day before ``now``, and the period it is compared with."""
    local_now = now.astimezone(zone)
    if window == "hour":
        end = local_now.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        start = end - timedelta(hours=1)
        local = start.astimezone(zone)
        current = Bucket(local.isoformat(timespec="minutes"), start, end, local.date(), local.date())
        if compare_to == "previous":
            prev = start - timedelta(hours=1)
            pl = prev.astimezone(zone)
            base: Bucket | None = Bucket(pl.isoformat(timespec="minutes"), prev, start, pl.date(), pl.date())
        elif compare_to == "last_week":
            base = bucket_at(local.date() - timedelta(days=7), Granularity.hour, zone, hour=local.hour)
        elif compare_to == "last_year":
            base = last_year_bucket(current, Granularity.hour, zone)
        else:
            base = None
        return current, base
    day = local_now.date() - timedelta(days=1)
    current = bucket_at(day, Granularity.day, zone)
    offsets = {"previous": 1, "last_week": 7}
    if compare_to in offsets:
        base = bucket_at(day - timedelta(days=offsets[compare_to]), Granularity.day, zone)
    elif compare_to == "last_year":
        base = last_year_bucket(current, Granularity.day, zone)
    else:
        base = None
    return current, base


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def evaluate_metric(con: Any, tenant: TenantInfo, rule: Rule, now: datetime) -> Evaluation:
    """Compute the rule's metric for its period (and baseline) and decide whether it fires."""
    zone = ZoneInfo(tenant.timezone)
    current, base = periods(rule.window, rule.compare_to, zone, now)
    if rule.metric is None:  # validate() gives every metric rule one
        raise ValueError(f"metric rule {rule.id} has no metric")
    metric = METRICS_BY_ID[rule.metric]
    volume = METRICS_BY_ID[rule.volume_metric] if rule.volume_metric else None
    breakdown = parse_breakdown(rule.breakdown)
    granularity = Granularity(rule.window)
    needed = list(dict.fromkeys([*metric.measures, *(volume.measures if volume else ())]))
    result = Evaluation(rule.id, "ok", current.label)
    labelled = [Bucket("current", current.start, current.end, current.first_day, current.end_day)]
    if base is not None:
        labelled.append(Bucket("baseline", base.start, base.end, base.first_day, base.end_day))
    source: MeasureSource | None = rollup_source_for(con, labelled, timezone=tenant.timezone)
    if source is None:
        source = FactsSource(ibis.duckdb.from_connection(con))
    for m in needed:
        reason = source.unavailable(m, breakdown, granularity, tenant.currency)
        if reason is not None:
            result.status, result.message = "unavailable", f"{metric.id} cannot be computed: {reason}"
            return result
    cells: Cells = {}
    for family in dict.fromkeys(BASE_MEASURES[m].family for m in needed):
        wanted = [m for m in needed if BASE_MEASURES[m].family is family]
        for key, found in source.compute(family, labelled, breakdown, tenant.currency, wanted).items():
            cells.setdefault(key, {}).update(found)
    dim = rule.breakdown_value if breakdown is not None else None

    def values(label: str) -> dict[str, Decimal | int | None]:
        cell = cells.get((label, dim), {})
        zero = {Unit.money: Decimal(0)}
        return {m: cell.get(m, zero.get(BASE_MEASURES[m].unit, 0)) for m in needed}

    value = _decimal(metric.compute(values("current")))
    baseline = _decimal(metric.compute(values("baseline"))) if base is not None else None
    result.value, result.baseline = value, baseline
    result.details = {"period": _period(current), "baseline_period": _period(base) if base else None}
    if volume is not None:
        got = [int(volume.compute(values("current")) or 0)]
        if base is not None:
            got.append(int(volume.compute(values("baseline")) or 0))
        result.details["volume"] = {"metric": volume.id, "values": got, "min": rule.min_volume}
        if min(got) < rule.min_volume:
            result.status = "low_volume"
            result.message = f"{volume.id} {min(got)} is below the minimum volume {rule.min_volume}"
            return result
    if value is None:
        result.status, result.message = "no_value", f"{metric.id} has no value for {current.label}"
        return result
    threshold = Decimal(rule.threshold)
    scope = f" ({rule.breakdown}={dim})" if dim is not None else ""
    shown = _show(value, metric.unit)
    if rule.condition in ("above", "below"):
        hit = value > threshold if rule.condition == "above" else value < threshold
        result.status = "fired" if hit else "ok"
        result.message = (
            f"{metric.name_en}{scope} for {current.label} is {shown}, "
            f"{rule.condition} the threshold {_show(threshold, metric.unit)}"
            if hit
            else f"{metric.name_en}{scope} for {current.label} is {shown}"
        )
        return result
    if baseline is None or baseline == 0:
        result.status = "no_baseline"
        result.message = f"{metric.name_en}{scope} has no {rule.compare_to} value to compare with"
        return result
    change = ((value - baseline) / abs(baseline) * 100).quantize(Decimal("0.01"))
    result.change_pct = change
    hit = change <= -threshold if rule.condition == "drop" else change >= threshold
    result.status = "fired" if hit else "ok"
    result.message = (
        f"{metric.name_en}{scope} for {current.label} is {shown}, {change:+}% vs {_versus(rule.compare_to)} "
        f"({_show(baseline, metric.unit)})"
    )
    return result


def _show(value: Decimal, unit: Unit) -> str:
    if unit is Unit.ratio:
        return f"{(value * 100).quantize(Decimal('0.01'))}%"
    if unit is Unit.count:
        return str(value.quantize(Decimal(1)))
    return str(value.quantize(Decimal("0.01")))


def _period(b: Bucket) -> dict[str, str]:
    return {"label": b.label, "start": b.start.isoformat(), "end": b.end.isoformat()}


def stock_cover(con: Any, tenant: TenantInfo, now: datetime, rule: Rule) -> list[dict[str, Any]]:
    """Products selling in the 14 local days before today, with stock on hand and days of cover.

    Stock on hand is the latest inventory snapshot at or before ``now`` per warehouse, summed (as in
    ``products.service``); products without any snapshot are left out (their stock is unknown).
    """
    zone = ZoneInfo(tenant.timezone)
    today = now.astimezone(zone).date()
    start, end = local_midnight(today - timedelta(days=SALES_DAYS), zone), local_midnight(today, zone)
    excluded = sorted(EXCLUDED_ORDER_STATUSES)
    marks = ", ".join("?" for _ in excluded)
    where, params = "", []
    if rule.breakdown == "category":
        where, params = " AND p.category = ?", [rule.breakdown_value]
    elif rule.breakdown == "product":
        where, params = " AND s.product_id = ?", [rule.breakdown_value]
    sql = f"""
WITH latest AS (
    SELECT product_id, warehouse_code, arg_max(on_hand, snapshot_at) AS on_hand
    FROM inventory_snapshots WHERE snapshot_at <= ? GROUP BY product_id, warehouse_code
), stock AS (
    SELECT product_id, sum(on_hand) AS on_hand FROM latest GROUP BY product_id
), sold AS (
    SELECT i.product_id, sum(i.quantity) AS units
    FROM order_items i JOIN orders o ON o.order_id = i.order_id
    WHERE o.status NOT IN ({marks}) AND i.ordered_at >= ? AND i.ordered_at < ? AND i.product_id IS NOT NULL
    GROUP BY i.product_id
)
SELECT s.product_id, p.sku, p.name, p.category, st.on_hand, s.units
FROM sold s JOIN stock st ON st.product_id = s.product_id
LEFT JOIN products p ON p.product_id = s.product_id
WHERE s.units > 0{where}
ORDER BY s.product_id
"""  # noqa: S608 - only the fixed placeholder list and filter fragment are interpolated
    rows = con.execute(sql, [now, *excluded, start, end, *params]).fetchall()
    out = []
    for product_id, sku, name, category, on_hand, units in rows:
        daily = Decimal(int(units)) / SALES_DAYS
        cover = (Decimal(max(int(on_hand), 0)) / daily).quantize(Decimal("0.01"))
        out.append(
            {
                "product_id": product_id,
                "sku": sku,
                "name": name,
                "category": category,
                "on_hand": int(on_hand),
                "units_14d": int(units),
                "daily_units": str(daily.quantize(Decimal("0.01"))),
                "days_of_cover": str(cover),
            }
        )
    return out


def evaluate_stock(con: Any, tenant: TenantInfo, rule: Rule, now: datetime) -> Evaluation:
    zone = ZoneInfo(tenant.timezone)
    period = now.astimezone(zone).date().isoformat()
    threshold = Decimal(rule.threshold)
    products = stock_cover(con, tenant, now, rule)
    low = [
        p for p in products if Decimal(p["days_of_cover"]) < threshold and p["units_14d"] >= rule.min_volume
    ]
    low.sort(key=lambda p: (Decimal(p["days_of_cover"]), p["product_id"]))
    result = Evaluation(rule.id, "fired" if low else "ok", period)
    result.value = Decimal(len(low))
    result.baseline = threshold
    result.details = {"products": low[:STOCK_PAYLOAD_ITEMS], "products_checked": len(products)}
    if not low:
        result.message = f"all {len(products)} selling products have at least {_num(threshold)} days of stock"
        return result
    listed = ", ".join(
        f"{p['sku'] or p['product_id']} ({p['days_of_cover']} days: {p['on_hand']} on hand, "
        f"{p['daily_units']}/day)"
        for p in low[:STOCK_MESSAGE_ITEMS]
    )
    more = f" and {len(low) - STOCK_MESSAGE_ITEMS} more" if len(low) > STOCK_MESSAGE_ITEMS else ""
    result.message = (
        f"{len(low)} product{'s' if len(low) != 1 else ''} with less than {_num(threshold)} days of stock: "
        f"{listed}{more}"
    )
    return result


def evaluate(con: Any, tenant: TenantInfo, rule: Rule, now: datetime) -> Evaluation:
    """Evaluate one rule on a warehouse connection; no state is changed."""
    if rule.kind == "stock":
        return evaluate_stock(con, tenant, rule, now)
    return evaluate_metric(con, tenant, rule, now)


def _payload(
    tenant: TenantInfo, rule: Rule, kind: str, result: Evaluation, event_id: str, fired_at: datetime
) -> dict[str, Any]:
    return {
        "type": f"alert.{kind}",
        "event_id": event_id,
        "fired_at": fired_at.isoformat(),
        "tenant": tenant.slug,
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "kind": rule.kind,
            "metric": rule.metric,
            "condition": rule.condition,
            "compare_to": rule.compare_to,
            "threshold": _num(rule.threshold),
            "window": rule.window,
            "breakdown": rule.breakdown,
            "breakdown_value": rule.breakdown_value,
            "description": rule.description,
        },
        "period": result.period,
        "value": None if result.value is None else str(result.value),
        "baseline": None if result.baseline is None else str(result.baseline),
        "change_pct": None if result.change_pct is None else str(result.change_pct),
        "message": result.message,
        "details": result.details,
    }


Deliver = Callable[[str, str, dict[str, Any], Settings], webhook.Delivery]


def _record_and_deliver(
    engine: Engine,
    settings: Settings,
    tenant: TenantInfo,
    rule: Rule,
    kind: str,
    result: Evaluation,
    now: datetime,
    deliver: Deliver,
) -> None:
    """Store the firing first (a crash while delivering still leaves it on record), then deliver."""
    with tenant_session(engine, tenant.id) as session:
        row = session.get(AlertRule, rule.id)
        if row is None:  # deleted meanwhile
            result.status = "deleted"
            return
        event = AlertEvent(
            tenant_id=tenant.id,
            rule_id=rule.id,
            kind=kind,
            fired_at=now,
            period=result.period,
            value=result.value,
            baseline=result.baseline,
            message=result.message,
            payload={},
            status="pending" if row.webhook_url else "no_webhook",
            attempts=0,
        )
        session.add(event)
        session.flush()
        event.payload = _payload(tenant, rule, kind, result, event.id, now)
        if kind == "firing":
            row.last_fired_at = now
        sealed, url = row.webhook_secret, row.webhook_url
        result.event_id, result.delivery = event.id, event.status
    if url is None or sealed is None:
        return
    secret = decrypt_field(engine, tenant.id, SECRET_FIELD, rule.id, sealed)
    with tenant_session(engine, tenant.id) as session:
        payload = dict(session.get(AlertEvent, result.event_id).payload)  # type: ignore[union-attr]
    outcome = deliver(url, secret, payload, settings)
    with tenant_session(engine, tenant.id) as session:
        stored = session.get(AlertEvent, result.event_id)
        if stored is not None:
            stored.attempts = outcome.attempts
            stored.response_status = outcome.status_code
            stored.last_error = outcome.error
            stored.status = "delivered" if outcome.ok else "failed"
            stored.delivered_at = utcnow() if outcome.ok else None
            result.delivery = stored.status


def run_rule(
    engine: Engine,
    settings: Settings,
    con: Any,
    tenant: TenantInfo,
    rule: Rule,
    now: datetime,
    deliver: Deliver = webhook.deliver,
) -> Evaluation:
    """Evaluate one rule and, when it fires outside its cool-down and for a new period, record and deliver."""
    result = evaluate(con, tenant, rule, now)
    if result.triggered:
        last = rule.last_fired_at
        with tenant_session(engine, tenant.id) as session:
            previous = session.scalar(
                select(AlertEvent.period)
                .where(AlertEvent.rule_id == rule.id, AlertEvent.kind == "firing")
                .order_by(AlertEvent.fired_at.desc())
                .limit(1)
            )
        if last is not None and now < last + timedelta(minutes=rule.cooldown_minutes):
            result.status = "cooldown"
        elif previous == result.period:
            result.status = "already_fired"
        else:
            _record_and_deliver(engine, settings, tenant, rule, "firing", result, now, deliver)
    with tenant_session(engine, tenant.id) as session:
        row = session.get(AlertRule, rule.id)
        if row is not None:
            row.last_evaluated_at = now
            row.last_status = result.status
    return result


def run_tenant(
    engine: Engine,
    settings: Settings,
    con: Any,
    tenant: TenantInfo,
    now: datetime | None = None,
    deliver: Deliver = webhook.deliver,
    rule_ids: list[str] | None = None,
) -> list[Evaluation]:
    """Evaluate every enabled rule of a tenant (or the given ones); a failing rule does not stop the rest."""
    now = now or utcnow()
    rules = [r for r in list_rules(engine, tenant.id) if (r.id in rule_ids if rule_ids else r.enabled)]
    results = []
    for rule in rules:
        try:
            results.append(run_rule(engine, settings, con, tenant, rule, now, deliver))
        except Exception as exc:
            failed = Evaluation(rule.id, "error", "", message=f"{type(exc).__name__}: {exc}"[:500])
            with tenant_session(engine, tenant.id) as session:
                row = session.get(AlertRule, rule.id)
                if row is not None:
                    row.last_evaluated_at, row.last_status = now, "error"
            results.append(failed)
    return results


def test_fire(
    engine: Engine,
    settings: Settings,
    tenant: TenantInfo,
    rule_id: str,
    deliver: Deliver = webhook.deliver,
    now: datetime | None = None,
) -> EvaluationResult:
    """Send a sample delivery of the rule to its webhook (recorded as a ``test`` event, audited)."""
    rule = get_rule(engine, tenant.id, rule_id)
    if rule.webhook_url is None:
        raise ValidationFailed(
            f"alert rule {rule.name!r} has no webhook_url to test",
            {"field": "webhook_url", "rule_id": rule_id},
        )
    now = now or utcnow()
    result = Evaluation(
        rule_id, "test", "test", message=f"Test delivery for alert rule {rule.name!r}: {rule.description}"
    )
    _record_and_deliver(engine, settings, tenant, rule, "test", result, now, deliver)
    record_action(
        engine,
        tenant.id,
        "alert.test",
        "alert_rule",
        rule_id,
        details={"event_id": result.event_id, "delivery": result.delivery},
    )
    return result.result()
