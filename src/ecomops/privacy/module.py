"""The privacy module: PII vault, consents, data-subject export and erasure, retention, key rotation."""

from __future__ import annotations

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Job, Module
from ecomops.platform.roles import MANAGERS, Permission
from ecomops.privacy import api, retention, runner
from ecomops.privacy.cli.keys import keys_app
from ecomops.privacy.cli.privacy import privacy_app

module = Module(
    name="privacy",
    title=N_("Privacy"),
    summary=N_("PII vault, consents, data-subject export and erasure, retention, key rotation."),
    docs="docs/privacy.md",
    # First to start: no warehouse file is open yet, so erased tenants' files can be rewritten.
    order=10,
    api=(api.router,),
    commands=(Command("privacy", privacy_app), Command("keys", keys_app)),
    permissions=(
        Permission("privacy:erase", MANAGERS, "erase a customer's personal data"),
        Permission(
            "consents:write",
            MANAGERS | {"operator"},
            "record customers' consent grants and withdrawals (customer service)",
        ),
        Permission(
            "privacy:retention", MANAGERS, "set, view and run the retention policy (deletes old raw data)"
        ),
    ),
    jobs=(
        Job(
            "privacy.retention",
            interval_seconds=lambda settings: float(settings.retention_interval_seconds),
            tenants=retention.tenants_with_policies,
            run=runner.retention_for_tenant,
            actor=runner.ACTOR,
        ),
    ),
    startup=runner.startup,
)
