"""The demo-shop module: a realistic multi-channel shop simulator with a ground-truth manifest."""

from __future__ import annotations

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module
from ecomops.platform.roles import MANAGERS, Permission
from ecomops.simulate import api
from ecomops.simulate.cli import demo_app

module = Module(
    name="simulate",
    title=N_("Demo shop"),
    summary=N_("Seed a realistic multi-channel demo shop with a ground-truth manifest."),
    docs="docs/simulator.md",
    optional=True,
    order=140,
    api=(api.router,),
    commands=(Command("demo", demo_app),),
    permissions=(Permission("demo:seed", MANAGERS, "seed demo data (replaces the tenant's demo data)"),),
)
