"""The console's navigation, assembled from every module's ``nav`` entries.

A role sees an entry only if ``permissions.allowed(role, permission)`` and the tenant has the
entry's module switched on; the page itself checks both again (hiding a link is convenience, the
check is security). Labels are marked with ``N_`` where modules declare them and translated when
the sidebar renders.
"""

from __future__ import annotations

from collections.abc import Collection

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import NavEntry
from ecomops.platform.permissions import allowed
from ecomops.platform.registry import registry

SECTIONS = (("analyse", N_("Analyse")), ("data", N_("Data")), ("settings", N_("Settings")))


def visible(role: str, disabled: Collection[str] = ()) -> list[NavEntry]:
    """Entries for ``role`` in a tenant whose ``disabled`` modules are hidden."""
    return [
        entry
        for module, entry in registry().nav
        if module not in disabled and (entry.permission is None or allowed(role, entry.permission))
    ]


def by_key(key: str) -> NavEntry | None:
    return next((entry for _, entry in registry().nav if entry.key == key), None)


def sections(role: str, disabled: Collection[str] = ()) -> list[tuple[str, str, list[NavEntry]]]:
    """(key, label, entries) per section that has at least one entry for this role."""
    shown = visible(role, disabled)
    out = []
    for key, label in SECTIONS:
        items = [i for i in shown if i.section == key]
        if items:
            out.append((key, label, items))
    return out
