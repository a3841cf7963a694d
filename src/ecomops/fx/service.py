"""The FX table's use cases: list, set, delete and import dated rates; the rates reports convert with.

A rate says "1 unit of ``currency`` is worth ``rate`` units of the tenant's currency from the local
day ``valid_from`` on", until the next rate of that currency. Reports (``analytics``) convert an
amount with the latest rate on or before the local day of its order; an order with no such rate is
reported as unconverted, never counted as 0.

Every change is audited (``fx.rate_set``, ``fx.rate_deleted``, ``fx.rates_imported``). A CSV import
is all-or-nothing: every row is checked first and the errors name the file's line and the field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, select

from ecomops.fx.models import FxRate
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo, current
from ecomops.platform.export import Column, ExportTable, Format, audit_export
from ecomops.platform.store.scoping import tenant_session

#: Columns of an import file (a header row naming them, in any order).
CSV_COLUMNS = ("currency", "valid_from", "rate")
#: Most data rows in one import (ten years of daily rates for a couple of currencies).
MAX_IMPORT_ROWS = 20_000
#: Most errors listed in one answer (the count of all of them is given too).
MAX_ERRORS = 50
#: Rates keep eight decimal places (models.RATE); the integer part stays within DECIMAL(18,8).
RATE_PLACES = 8
RATE_MAX = Decimal("9999999999")


@dataclass(frozen=True)
class Rate:
    """One dated rate: 1 ``currency`` = ``rate`` tenant currency from ``valid_from`` (local day) on."""

    currency: str
    valid_from: date
    rate: Decimal
    source: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class RateTable:
    tenant: str
    #: The currency every rate converts into (the tenant's reporting currency).
    currency: str
    rates: tuple[Rate, ...]


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    updated: int
    unchanged: int


def _view(row: FxRate) -> Rate:
    return Rate(row.currency, row.valid_from, Decimal(row.rate), row.source, row.updated_by, row.updated_at)


def _audited(rate: Rate) -> dict[str, str]:
    return {"currency": rate.currency, "valid_from": rate.valid_from.isoformat(), "rate": str(rate.rate)}


def parse_currency(value: object, home: str, field: str = "currency") -> str:
    """A 3-letter code other than the tenant's own (a rate from a currency into itself is always 1)."""
    text = value.strip().upper() if isinstance(value, str) else ""
    if len(text) != 3 or not text.isalpha() or not text.isascii():
        raise ValidationFailed(f"{field}: {value!r} is not a 3-letter ISO 4217 code", {"field": field})
    if text == home:
        raise ValidationFailed(
            f"{field}: {text} is the shop's own currency; rates convert other currencies into it",
            {"field": field},
        )
    return text


def parse_day(value: object, field: str = "valid_from") -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed(f"{field}: {value!r} is not a date (YYYY-MM-DD)", {"field": field}) from None


def parse_rate(value: object, field: str = "rate") -> Decimal:
    """A positive decimal with at most eight places, read from text (never through a float)."""
    if isinstance(value, (bool, float)):
        raise ValidationFailed(f"{field}: give the rate as a decimal string, not {value!r}", {"field": field})
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field}: {value!r} is not a number", {"field": field}) from None
    if not rate.is_finite() or rate <= 0:
        raise ValidationFailed(f"{field}: {value!r} must be a positive number", {"field": field})
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > RATE_PLACES:
        raise ValidationFailed(
            f"{field}: {value!r} has more than {RATE_PLACES} decimal places", {"field": field}
        )
    if rate > RATE_MAX:
        raise ValidationFailed(f"{field}: {value!r} is too large", {"field": field})
    return rate.quantize(Decimal(1).scaleb(-RATE_PLACES))


def list_rates(engine: Engine, tenant: TenantInfo) -> RateTable:
    """Every rate of the tenant, by currency then day."""
    return RateTable(tenant.slug, tenant.currency, rates_for(engine, tenant.id))


#: The FX table as a file (the exchange-rates page and ``GET …/fx-rates?format=``).
RATE_COLUMNS = (
    Column("currency", N_("Currency")),
    Column("valid_from", N_("Valid from"), "date"),
    Column("rate", N_("Rate"), "number"),
    Column("source", N_("Source")),
    Column("updated_by", N_("Changed by")),
    Column("updated_at", N_("Changed"), "datetime"),
)


def export_rates(engine: Engine, tenant: TenantInfo, fmt: Format, *, via: str) -> ExportTable:
    """The "export exchange rates" use case: the same rates :func:`list_rates` lists; audited as
    ``fx.export``."""
    rates = rates_for(engine, tenant.id)
    audit_export(engine, tenant.id, "fx", fmt, filters={}, rows=len(rates), via=via)
    rows = (asdict(r) for r in rates)
    return ExportTable("exchange-rates", RATE_COLUMNS, rows, tenant.timezone, len(rates))


def rates_for(engine: Engine, tenant_id: str) -> tuple[Rate, ...]:
    """The rates reports convert with (empty for a shop that has none: nothing is converted)."""
    with tenant_session(engine, tenant_id) as session:
        rows = session.scalars(select(FxRate).order_by(FxRate.currency, FxRate.valid_from)).all()
        return tuple(_view(r) for r in rows)


def _upsert(session: Any, tenant_id: str, currency: str, day: date, rate: Decimal, source: str) -> str:
    """Write one rate; returns "created", "updated" or "unchanged"."""
    row = session.scalar(select(FxRate).where(FxRate.currency == currency, FxRate.valid_from == day))
    actor = current().actor
    if row is None:
        session.add(
            FxRate(
                tenant_id=tenant_id,
                currency=currency,
                valid_from=day,
                rate=rate,
                source=source,
                updated_by=actor,
            )
        )
        return "created"
    if Decimal(row.rate) == rate:
        return "unchanged"
    row.rate, row.source, row.updated_by = rate, source, actor
    return "updated"


def set_rate(engine: Engine, tenant: TenantInfo, currency: str, valid_from: object, rate: object) -> Rate:
    """Enter (or correct) one rate by hand; audited ``fx.rate_set`` with the rate before and after."""
    code = parse_currency(currency, tenant.currency)
    day = parse_day(valid_from)
    value = parse_rate(rate)
    with tenant_session(engine, tenant.id) as session:
        old = session.scalar(select(FxRate).where(FxRate.currency == code, FxRate.valid_from == day))
        before = _audited(_view(old)) if old is not None else None
        _upsert(session, tenant.id, code, day, value, "manual")
        session.flush()
        row = session.scalar(select(FxRate).where(FxRate.currency == code, FxRate.valid_from == day))
        assert row is not None
        out = _view(row)
        record_action(
            session,
            tenant.id,
            "fx.rate_set",
            "fx_rate",
            f"{code}:{day.isoformat()}",
            before=before,
            after=_audited(out),
        )
    return out


def delete_rate(engine: Engine, tenant: TenantInfo, currency: str, valid_from: object) -> None:
    """Remove one rate (the previous rate of the currency then applies from that day); audited."""
    code = parse_currency(currency, tenant.currency)
    day = parse_day(valid_from)
    with tenant_session(engine, tenant.id) as session:
        row = session.scalar(select(FxRate).where(FxRate.currency == code, FxRate.valid_from == day))
        if row is None:
            raise NotFound(
                f"no {code} rate valid from {day.isoformat()}", {"currency": code, "valid_from": str(day)}
            )
        before = _audited(_view(row))
        session.delete(row)
        record_action(
            session, tenant.id, "fx.rate_deleted", "fx_rate", f"{code}:{day.isoformat()}", before=before
        )


@dataclass(frozen=True)
class _Row:
    line: int
    currency: str
    valid_from: date
    rate: Decimal


def parse_csv(text: str, home: str) -> list[_Row]:
    """Every row of an import file, or a 422 listing each bad row and field (file line numbers: the
    header is line 1). Nothing is written by this function."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise ValidationFailed(
            f"line 1: the file is empty; it needs a header row {','.join(CSV_COLUMNS)}",
            {"errors": [{"row": 1, "field": None, "message": "empty file"}]},
        )
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if missing or unknown or duplicated:
        problems = [f"missing column {m!r}" for m in missing] + [f"unknown column {u!r}" for u in unknown]
        problems += [f"column {d!r} appears twice" for d in duplicated]
        raise ValidationFailed(
            f"line 1 (header): {'; '.join(problems)}; expected {','.join(CSV_COLUMNS)}",
            {"errors": [{"row": 1, "field": None, "message": p} for p in problems]},
        )
    index = {name: names.index(name) for name in CSV_COLUMNS}
    rows: list[_Row] = []
    errors: list[dict[str, Any]] = []
    seen: dict[tuple[str, date], int] = {}
    parsers: dict[str, Callable[[str], Any]] = {
        "currency": lambda v: parse_currency(v, home),
        "valid_from": parse_day,
        "rate": parse_rate,
    }
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) + len(errors) >= MAX_IMPORT_ROWS:
            raise ValidationFailed(
                f"line {line}: more than {MAX_IMPORT_ROWS} rows; split the file",
                {"errors": [{"row": line, "field": None, "message": "too many rows"}]},
            )
        if len(record) != len(names):
            errors.append(
                {
                    "row": line,
                    "field": None,
                    "message": f"{len(record)} fields where the header has {len(names)}",
                }
            )
            continue
        parsed: dict[str, Any] = {}
        for field, parse in parsers.items():
            try:
                parsed[field] = parse(record[index[field]])
            except ValidationFailed as exc:
                errors.append({"row": line, "field": field, "message": exc.message})
        if len(parsed) < len(parsers):
            continue
        key = (parsed["currency"], parsed["valid_from"])
        if key in seen:
            errors.append(
                {
                    "row": line,
                    "field": "valid_from",
                    "message": f"{key[0]} {key[1].isoformat()} is also on line {seen[key]}",
                }
            )
            continue
        seen[key] = line
        rows.append(_Row(line, parsed["currency"], parsed["valid_from"], parsed["rate"]))
    if errors:
        first = errors[0]
        where = f"line {first['row']}" + (f", {first['field']}" if first["field"] else "")
        raise ValidationFailed(
            f"{len(errors)} bad row(s), nothing imported; first: {where}: {first['message']}",
            {"errors": errors[:MAX_ERRORS], "error_count": len(errors)},
        )
    if not rows:
        raise ValidationFailed(
            "the file has a header but no rates",
            {"errors": [{"row": 2, "field": None, "message": "no rows"}]},
        )
    return rows


def import_csv(engine: Engine, tenant: TenantInfo, text: str) -> ImportResult:
    """Import a CSV of rates (``currency,valid_from,rate``): all rows or none; a rate already present
    for the same currency and day is replaced. One audit entry ``fx.rates_imported`` lists the rows."""
    rows = parse_csv(text, tenant.currency)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with tenant_session(engine, tenant.id) as session:
        for row in rows:
            counts[_upsert(session, tenant.id, row.currency, row.valid_from, row.rate, "csv")] += 1
        record_action(
            session,
            tenant.id,
            "fx.rates_imported",
            "fx_rates",
            tenant.id,
            after=[
                {"currency": r.currency, "valid_from": r.valid_from.isoformat(), "rate": str(r.rate)}
                for r in rows
            ],
            details={"rows": len(rows), **counts},
        )
    return ImportResult(len(rows), counts["created"], counts["updated"], counts["unchanged"])
