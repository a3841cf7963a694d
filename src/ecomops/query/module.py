"""The query module: read-only SQL on a tenant's warehouse (API and ``ecomops query``)."""

from __future__ import annotations

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module
from ecomops.platform.roles import MANAGERS, Permission
from ecomops.query import api
from ecomops.query.cli import query_command

module = Module(
    name="query",
    title=N_("SQL query"),
    summary=N_("Read-only SQL on the shop's warehouse, guarded and time-limited."),
    docs="docs/query-and-doctor.md",
    order=130,
    api=(api.router,),
    commands=(Command("query", query_command),),
    permissions=(
        Permission("sql:query", MANAGERS | {"analyst"}, "run read-only SQL on the tenant's warehouse"),
    ),
)
