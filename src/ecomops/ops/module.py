"""The operations module: ``ecomops doctor`` checks of the installation and running server."""

from __future__ import annotations

from ecomops.ops.cli import doctor_command
from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module

module = Module(
    name="ops",
    title=N_("Operations"),
    summary=N_("Health checks of the installation, stores, warehouses and the running server."),
    docs="docs/query-and-doctor.md",
    order=150,
    commands=(Command("doctor", doctor_command),),
)
