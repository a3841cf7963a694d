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
from ecomops.privacy.fields import PII_FIELDS, may_hold_pii, split_traits
from ecomops.privacy.vault import (
    VaultPseudonymKeys,
    find_customer_ids,
    get_many,
    get_pii,
    mask_all,
    upsert_pii,
)

__all__ = [
    "MARKETING_PURPOSES",
    "PII_FIELDS",
    "VaultPseudonymKeys",
    "consent_history",
    "find_customer_ids",
    "get_many",
    "get_pii",
    "latest",
    "marketing_allowed",
    "mask_all",
    "may_hold_pii",
    "record_consent",
    "split_traits",
    "upsert_pii",
]
