"""The import presets by name."""

from __future__ import annotations

from ecomops.imports.presets import generic, olist, online_retail, sessions, shopify
from ecomops.imports.presets.base import Preset
from ecomops.kernel.errors import ValidationFailed

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        online_retail.PRESET,
        olist.PRESET,
        shopify.PRESET,
        generic.PRESET,
        sessions.PRESET,
        sessions.UCI_PRESET,
    )
}


def get_preset(name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        raise ValidationFailed(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}", {"field": "preset"}
        )
    return preset
