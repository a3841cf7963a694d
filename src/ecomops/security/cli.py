"""``ecomops user`` and ``ecomops member`` commands."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer
from rich.table import Table

from ecomops.cliutil import cli_errors, console, engine, print_json
from ecomops.security import accounts
from ecomops.tenancy.service import ROLES

user_app = typer.Typer(help="User accounts (people who sign in).", no_args_is_help=True)
member_app = typer.Typer(help="Tenant memberships and roles.", no_args_is_help=True)


def generate_password() -> str:
    """24 URL-safe characters from 18 random bytes (144 bits): passes the policy by construction."""
    return secrets.token_urlsafe(18)


@user_app.command("create")
def user_create(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (first line)")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an account; without --password-stdin a strong password is generated and shown once."""
    # Never a --password option: it would land in shell history and the process list.
    generated = not password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    with cli_errors():
        info = accounts.create_user(engine(), email, password)
    if json_out:
        print_json({**info.__dict__, **({"password": password} if generated else {})})
        return
    console.print(f"user [bold]{info.email}[/bold] created")
    if generated:
        console.print("Password (shown once):")
        console.print(password, highlight=False, soft_wrap=True)


@user_app.command("list")
def user_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List accounts."""
    with cli_errors():
        users = accounts.list_users(engine())
    if json_out:
        print_json([u.__dict__ for u in users])
        return
    table = Table("id", "email", "status", "created")
    for u in users:
        table.add_row(u.id, u.email, u.status, u.created_at.isoformat(timespec="seconds"))
    console.print(table)


@user_app.command("disable")
def user_disable(email: str) -> None:
    """Disable an account (kept for history; it can no longer sign in)."""
    with cli_errors():
        info = accounts.disable_user(engine(), email)
    console.print(f"user [bold]{info.email}[/bold] disabled")


_ROLE_HELP = f"One of: {', '.join(ROLES)}"


@member_app.command("add")
def member_add(
    email: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    role: Annotated[str, typer.Option(help=_ROLE_HELP)],
) -> None:
    """Make a user a member of a tenant with a role."""
    with cli_errors():
        info = accounts.add_member(engine(), tenant, email, role)
    console.print(f"{info.email} is now {info.role} of {tenant}")


@member_app.command("remove")
def member_remove(email: str, tenant: Annotated[str, typer.Option(help="Tenant slug")]) -> None:
    """Remove a user from a tenant (refused for the last owner)."""
    with cli_errors():
        accounts.remove_member(engine(), tenant, email)
    console.print(f"{email} removed from {tenant}")


@member_app.command("role")
def member_role(
    email: str,
    role: Annotated[str, typer.Argument(help=_ROLE_HELP)],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
) -> None:
    """Change a member's role (demoting the last owner is refused)."""
    with cli_errors():
        info = accounts.set_role(engine(), tenant, email, role)
    console.print(f"{info.email} is now {info.role} of {tenant}")


@member_app.command("list")
def member_list(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a tenant's members and roles."""
    with cli_errors():
        members = accounts.list_members(engine(), tenant)
    if json_out:
        print_json([m.__dict__ for m in members])
        return
    table = Table("email", "role")
    for m in members:
        table.add_row(m.email, m.role)
    console.print(table)
