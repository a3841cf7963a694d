"""The privacy module's public interface: what other modules may use.

The vault (personal data, encrypted per tenant, found through blind indexes), consents and marketing
eligibility, and the rules for which event fields hold personal data. Other modules go through
these names only (``make lint`` enforces it), so the vault's storage can change behind them.
"""

from __future__ import annotations

from ecomops.privacy.consents import (
    MARKETING_PURPOSES,
    consent_history,
    latest,
    marketing_allowed,
    record_consent,
)
from ecomops.privacy.fields import (
    PII_FIELDS,
    URL_PARAMETERS,
    mask_text,
    may_hold_pii,
    properties_may_hold_pii,
    split_properties,
    split_traits,
    strip_url_parameters,
    url_may_hold_pii,
    value_field,
)
from ecomops.privacy.vault import (
    VaultPseudonymKeys,
    find_customer_ids,
    get_many,
    get_pii,
    mask_all,
    upsert_many,
    upsert_pii,
)

__all__ = [
    "MARKETING_PURPOSES",
    "PII_FIELDS",
    "URL_PARAMETERS",
    "VaultPseudonymKeys",
    "consent_history",
    "find_customer_ids",
    "get_many",
    "get_pii",
    "latest",
    "marketing_allowed",
    "mask_all",
    "mask_text",
    "may_hold_pii",
    "properties_may_hold_pii",
    "record_consent",
    "split_properties",
    "split_traits",
    "strip_url_parameters",
    "upsert_many",
    "upsert_pii",
    "url_may_hold_pii",
    "value_field",
]
