"""The security module: people (accounts, sessions, MFA, memberships) and who may call what.

It provides the platform's authenticator: API keys, the CLI's local token and console sessions.
"""

from __future__ import annotations

from pathlib import Path

from ecomops.platform.console.i18n import N_
from ecomops.platform.modules import Command, Module, NavEntry
from ecomops.platform.roles import MANAGERS, Permission
from ecomops.security import pages
from ecomops.security.api import admin, auth, invitations
from ecomops.security.authn import KeysAndSessions
from ecomops.security.cli import member_app, user_app

module = Module(
    name="security",
    title=N_("Sign-in and members"),
    summary=N_("Accounts, sign-in with MFA and step-up, sessions, memberships and roles."),
    docs="docs/security.md",
    order=50,
    api=(auth.router, admin.router, invitations.router),
    pages=(pages.router,),
    templates=Path(__file__).parent / "templates",
    store_migrations=Path(__file__).parent / "store_migrations",
    nav=(
        NavEntry(
            "members",
            N_("Members"),
            "/settings/members",
            "members:manage",
            "settings",
            "shield",
            N_("Who may use this shop, their roles, and the MFA policy."),
            order=10,
        ),
    ),
    commands=(Command("user", user_app), Command("member", member_app)),
    permissions=(Permission("members:manage", MANAGERS, "add and remove members and change their roles"),),
    authenticator=KeysAndSessions(),
)
