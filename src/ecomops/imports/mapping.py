"""Mapping files: the generic preset's (which source column feeds which warehouse field) and the
line-class file of presets that classify non-product lines (which stock code is postage, a fee…).

Validated with Pydantic (unknown keys are errors, so a typo like ``quantitiy`` is reported
instead of silently ignored) and turned into one ``ValidationFailed`` whose message names the
first problem and whose details list all of them with their location in the file.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecomops.kernel.clock import validate_timezone
from ecomops.kernel.errors import ValidationFailed

_M = TypeVar("_M", bound=BaseModel)

SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
#: Warehouse order statuses a mapping may produce.
Status = Literal[
    "pending", "paid", "fulfilled", "shipped", "delivered", "cancelled", "refunded", "partially_refunded"
]


class ColumnMap(BaseModel):
    """Warehouse field → the header of the source column holding it (as written in the file)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Per order (taken from the order's first row when repeated or blank on later rows).
    order_id: str = Field(min_length=1)
    ordered_at: str = Field(min_length=1)
    customer_id: str | None = None
    #: Hashed with the tenant's pseudonym key into customer_id; the address is never stored.
    customer_email: str | None = None
    status: str | None = None
    channel: str | None = None
    currency: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    paid_at: str | None = None
    coupon: str | None = None
    order_discount: str | None = None
    shipping: str | None = None
    tax: str | None = None
    total: str | None = None
    # Per line.
    sku: str | None = None
    product_id: str | None = None
    name: str | None = None
    category: str | None = None
    quantity: str = Field(min_length=1)
    unit_price: str | None = None
    line_total: str | None = None
    discount: str | None = None

    @model_validator(mode="after")
    def _price_or_total(self) -> ColumnMap:
        if self.unit_price is None and self.line_total is None:
            raise ValueError("map unit_price or line_total (one of them is needed to value a line)")
        if self.customer_id is not None and self.customer_email is not None:
            raise ValueError("map customer_id or customer_email, not both")
        return self


class MappingBase(BaseModel):
    """What every mapping file (orders, sessions) declares beside its columns, validated alike."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(default=1, ge=1, le=1)
    #: Namespace of the ids this mapping creates (each kind of mapping has its default).
    source: str
    #: Channel when no column says (web, tmall, jd, douyin, pos, app, …).
    channel: str | None = None
    #: ISO currency when no column says; default: the tenant's.
    currency: str | None = None
    #: IANA zone of naive (or placed) timestamps; default: the tenant's.
    timezone: str | None = None
    #: strptime layout(s) of the timestamps, e.g. "%Y/%m/%d %H:%M"; default: ISO-like layouts.
    timestamp_format: list[str] | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not SOURCE_RE.match(value):
            raise ValueError("source must be 1-40 lowercase letters, digits, '-' or '_'")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 3 or not value.isalpha():
            raise ValueError("currency must be a 3-letter ISO 4217 code")
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_timezone(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from exc

    @field_validator("timestamp_format", mode="before")
    @classmethod
    def _formats(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            for fmt in value:
                if not isinstance(fmt, str) or "%" not in fmt:
                    raise ValueError(
                        f"timestamp_format entries are strptime layouts like '%Y-%m-%d %H:%M', got {fmt!r}"
                    )
        return value

    def aware_formats(self) -> list[str]:
        return [f for f in self.timestamp_format or [] if "%z" in f or "%Z" in f]

    def naive_formats(self) -> list[str]:
        return [f for f in self.timestamp_format or [] if "%z" not in f and "%Z" not in f]


class MappingFile(MappingBase):
    #: Namespace of the ids this mapping creates, e.g. "tmall"; keeps two platforms' ids apart.
    source: str = "generic"
    #: Status when no column is mapped or the cell is empty.
    status_default: Status = "paid"
    #: Source status text → warehouse status (e.g. 交易成功: paid); unmapped texts are kept lower-cased.
    status_map: dict[str, Status] = Field(default_factory=dict)
    columns: ColumnMap


#: What a non-product line of an export is in the order model (``order_charges.kind``); ``product``
#: in a line-class file makes a code an ordinary product line again.
LineClass = Literal["shipping", "discount", "fee", "adjustment", "sample", "product"]


class LineClassFile(BaseModel):
    """``--mapping`` of a preset that classifies lines by code (e.g. online-retail-ii)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(default=1, ge=1, le=1)
    #: true: only the codes listed here are non-product lines; false: they change the preset's defaults.
    replace_defaults: bool = False
    #: Stock code (matched ignoring case and surrounding spaces) → class, or ``product``.
    non_product_lines: dict[str, LineClass] = Field(default_factory=dict)

    @field_validator("non_product_lines")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if not code.strip():
                raise ValueError("a stock code must not be empty")
        return value

    def apply_to(self, defaults: dict[str, str]) -> dict[str, str]:
        """The effective code → class table: upper-cased codes, ``product`` entries removed."""
        merged = {} if self.replace_defaults else {k.upper(): v for k, v in defaults.items()}
        for code, kind in self.non_product_lines.items():
            merged[code.strip().upper()] = kind
        return {code: kind for code, kind in merged.items() if kind != "product"}


def _loc(parts: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def problems_of(exc: ValidationError) -> list[dict[str, str]]:
    """Each Pydantic error as its dotted location in the mapping file and a message."""
    return [{"loc": _loc(e["loc"]), "msg": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]


def parse_mapping(text: str) -> MappingFile:
    """Parse and validate mapping YAML; every problem is reported with its dotted location."""
    data = load_yaml(text, "a YAML mapping with a 'columns' section")
    return validate_file(MappingFile, data)


def parse_line_classes(text: str) -> LineClassFile:
    """Parse and validate a line-class file (same error reporting as the generic mapping)."""
    data = load_yaml(text, "a YAML mapping with a 'non_product_lines' section")
    return validate_file(LineClassFile, data)


def load_yaml(text: str, expected: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValidationFailed(
            f"mapping file is not valid YAML{where}: {getattr(exc, 'problem', exc)}", {"field": "mapping"}
        ) from exc
    if not isinstance(data, dict):
        raise ValidationFailed(f"mapping file must be {expected}", {"field": "mapping"})
    return data


def validate_file(model: type[_M], data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc)
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationFailed(
            f"mapping file: {first['loc']}: {first['msg']}{more}", {"field": "mapping", "errors": problems}
        ) from exc
