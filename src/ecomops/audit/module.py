"""The audit module: read, verify, anchor and export the hash-chained audit log every module writes."""

from __future__ import annotations

from pathlib import Path

from ecomops.audit import api, pages
from ecomops.audit.cli import audit_app
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import MANAGERS, Permission

module = Module(
    name="audit",
    title=N_("Audit log"),
    summary=N_("Hash-chained audit log: viewer, verification, anchors, export."),
    docs="docs/audit.md",
    order=60,
    api=(api.router,),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    nav=(
        NavEntry(
            "audit",
            N_("Audit log"),
            "/settings/audit",
            "audit:read",
            "settings",
            "list",
            N_("Every change, who made it, and a tamper check of the chain."),
            order=30,
        ),
    ),
    commands=(Command("audit", audit_app),),
    permissions=(Permission("audit:read", MANAGERS, "read and verify the audit log"),),
)
