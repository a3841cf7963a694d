"""The sessions preset's mapping file: which column of a session-level export feeds which session field.

A session export has one row per visit (page counts, durations, traffic and visitor attributes, a
purchase flag) and often no order id and no full date. Validated strictly like the order mapping
(``imports.mapping``): unknown keys are errors reported with their location in the file.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecomops.imports.mapping import MappingBase, load_yaml, validate_file

#: Page types and property names become event paths and JSON keys: keep them plain.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Most page types and numeric properties one mapping may declare (each is a staged column).
MAX_NAMED = 20


class SessionColumns(BaseModel):
    """Session field → the header of the source column holding it (as written in the file)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: The export's own session id; without it a session is identified by the file's hash and row.
    session_id: str | None = None
    #: Start of the session (timestamp or date); without it ``month`` (+ ``weekend``) and the
    #: reference date place the session.
    started_at: str | None = None
    month: str | None = None
    weekend: str | None = None
    #: Page type → column with the number of pages of that type viewed in the session.
    pages: dict[str, str] = Field(min_length=1)
    #: Page type → column with the seconds spent on pages of that type.
    durations: dict[str, str] = Field(default_factory=dict)
    traffic_type: str | None = None
    #: Promoted to the events' ``utm_source``.
    traffic_source: str | None = None
    visitor_type: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
    region: str | None = None
    country: str | None = None
    #: True/false, yes/no or 1/0: whether the session ended in a purchase.
    purchased: str
    #: Amount of the purchase, when the export has one.
    revenue: str | None = None
    #: Property name → column of a numeric session measure kept on the session (bounce rate, …).
    measures: dict[str, str] = Field(default_factory=dict)

    @field_validator("pages", "durations", "measures")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_NAMED:
            raise ValueError(f"at most {MAX_NAMED} entries")
        for name in value:
            if not NAME_RE.match(name):
                raise ValueError(f"{name!r}: names are 1-40 lowercase letters, digits or '_', starting a-z")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SessionColumns:
        if self.started_at is None and self.month is None:
            raise ValueError("map started_at or month (a session needs a date)")
        unknown = [t for t in self.durations if t not in self.pages]
        if unknown:
            raise ValueError(f"durations of page types not in pages: {', '.join(unknown)}")
        return self


class SessionMapping(MappingBase):
    #: Namespace of the ids this mapping creates; keeps two exports' sessions apart.
    source: str = "sessions"
    #: Month-only rows fall in the 12 months ending with this date's month (``--reference-date``).
    reference_date: date | None = None
    #: Source text → visitor type (e.g. Returning_Visitor: returning); unmapped texts are kept as written.
    visitor_type_map: dict[str, str] = Field(default_factory=dict)
    columns: SessionColumns


def parse_session_mapping(text: str) -> SessionMapping:
    """Parse and validate a sessions mapping; every problem is reported with its dotted location."""
    return validate_file(SessionMapping, load_yaml(text, "a YAML mapping with a 'columns' section"))
