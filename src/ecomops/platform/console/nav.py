"""The console's navigation: one list of entries, each gated by the permission its page checks.

A role sees an entry only if ``permissions.allowed(role, permission)``; the page itself checks the same
permission again (hiding a link is convenience, the check is security). Labels are marked with
``N_`` for extraction and translated when the sidebar renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecomops.platform.console.i18n import N_
from ecomops.platform.permissions import allowed


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    #: Below ``/t/{slug}``; "" is the tenant's home.
    path: str
    #: None: every member may open it.
    permission: str | None
    section: str
    icon: str
    description: str = ""


SECTIONS = (("analyse", N_("Analyse")), ("data", N_("Data")), ("settings", N_("Settings")))

NAV: tuple[NavItem, ...] = (
    NavItem("home", N_("Overview"), "", None, "analyse", "home"),
    NavItem(
        "live",
        N_("Live"),
        "/live",
        "orders:read",
        "analyse",
        "activity",
        N_("Today's GMV, orders, visitors and live streams, second by second; big-screen mode."),
    ),
    NavItem(
        "orders",
        N_("Orders"),
        "/orders",
        "orders:read",
        "analyse",
        "receipt",
        N_("Find orders by date, channel, status, amount, customer or coupon."),
    ),
    NavItem(
        "products",
        N_("Products"),
        "/products",
        "orders:read",
        "analyse",
        "box",
        N_("Units sold, revenue, margin, stock on hand and reviews per product."),
    ),
    NavItem(
        "customers",
        N_("Customers"),
        "/customers",
        "customers:read",
        "analyse",
        "users",
        N_("Customers with their orders; personal data stays masked."),
    ),
    NavItem(
        "alerts",
        N_("Alerts"),
        "/alerts",
        "alerts:read",
        "analyse",
        "bell",
        N_("Rules on metrics and stock that fire webhooks, and their recent firings."),
    ),
    NavItem(
        "sources",
        N_("Data sources"),
        "/sources",
        "keys:manage",
        "data",
        "plug",
        N_("Write keys and code snippets to send events."),
    ),
    NavItem(
        "imports",
        N_("Imports"),
        "/imports",
        "imports:read",
        "data",
        "upload",
        N_("Upload order exports and follow their progress."),
    ),
    NavItem(
        "members",
        N_("Members"),
        "/settings/members",
        "members:manage",
        "settings",
        "shield",
        N_("Who may use this shop, their roles, and the MFA policy."),
    ),
    NavItem(
        "keys",
        N_("API keys"),
        "/settings/keys",
        "keys:manage",
        "settings",
        "key",
        N_("Keys for scripts and integrations."),
    ),
    NavItem(
        "audit",
        N_("Audit log"),
        "/settings/audit",
        "audit:read",
        "settings",
        "list",
        N_("Every change, who made it, and a tamper check of the chain."),
    ),
)
BY_KEY = {item.key: item for item in NAV}


def visible(role: str) -> list[NavItem]:
    return [item for item in NAV if item.permission is None or allowed(role, item.permission)]


def sections(role: str) -> list[tuple[str, str, list[NavItem]]]:
    """(key, label, entries) per section that has at least one entry for this role."""
    shown = visible(role)
    out = []
    for key, label in SECTIONS:
        items = [i for i in shown if i.section == key]
        if items:
            out.append((key, label, items))
    return out
