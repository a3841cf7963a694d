"""Why a metric has no value: the engine's reasons, one template each, and how the console says them.

The API answers a metric's ``reason`` in English (scripts match on it; ``sources`` and ``rollups`` fill
these templates). Pages show it in the reader's language: :func:`explain` recognises a filled template and
renders its catalogue message with the same parameters, interpolated after translation (a breakdown named
by its label). Text from anywhere else passes through unchanged.
"""

from __future__ import annotations

import re

from ecomops.platform.console import i18n, labels
from ecomops.platform.console.i18n import N_

NOT_PER_VISITS = "visitors are not recorded per {dimension}"
NO_VISIT_EVENTS = (
    "this tenant has no page or screen events: visitors are counted from the event API "
    "(/v1/page, /v1/screen), not from imported orders"
)
NO_EVENTS = "this tenant has no '{event}' events"
SPEND_DAILY = "ad spend is recorded per day; use day, week or month"
NOT_PER_SPEND = "ad spend is not recorded per {dimension}"
NO_SPEND_IN = "this tenant has no ad spend in {currency}"
NO_COSTS = "no product has a cost (products.cost): margins cannot be computed"
NO_SPEND = "this tenant has no ad spend: no campaign to attribute orders to"

#: Each engine template and the catalogue message pages show for it.
MESSAGES = {
    NOT_PER_VISITS: N_("Visitors are not recorded per %(dimension)s."),
    NO_VISIT_EVENTS: N_(
        "This shop has no page or screen events: visitors are counted from the event API "
        "(/v1/page, /v1/screen), not from imported orders."
    ),
    NO_EVENTS: N_("This shop has no “%(event)s” events."),
    SPEND_DAILY: N_("Ad spend is recorded per day: use day, week or month."),
    NOT_PER_SPEND: N_("Ad spend is not recorded per %(dimension)s."),
    NO_SPEND_IN: N_("This shop has no ad spend in %(currency)s."),
    NO_COSTS: N_("No product has a cost: margins cannot be computed."),
    NO_SPEND: N_("This shop has no ad spend: no campaign to attribute orders to."),
}


def _pattern(template: str) -> re.Pattern[str]:
    """The template as a regular expression whose named groups are its ``{fields}``."""
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)) + r"\Z"
    )


_PATTERNS = [(_pattern(template), message) for template, message in MESSAGES.items()]


def explain(locale: str, reason: str | None) -> str | None:
    """``reason`` in ``locale`` when it is one of the engine's; other text as it is."""
    if not reason:
        return reason
    for pattern, message in _PATTERNS:
        found = pattern.match(reason)
        if found:
            values = found.groupdict()
            if "dimension" in values:
                values["dimension"] = labels.dimension(locale, values["dimension"])
            return i18n.gettext(locale, message) % values
    return reason
