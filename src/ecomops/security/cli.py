"""``ecomops user`` and ``ecomops member`` commands (members join by invitation: ``security.invitations``)."""

from __future__ import annotations

import dataclasses
import io
import secrets
import sys
from datetime import datetime
from typing import Annotated

import segno
import typer
from rich.table import Table

from ecomops.platform.commandline import (
    ExportLang,
    ExportOutput,
    ListFormat,
    cli_errors,
    console,
    engine,
    parse_export_format,
    print_json,
    save_tenant_list,
)
from ecomops.platform.roles import ROLES
from ecomops.platform.settings import get_settings
from ecomops.platform.tenants import get_tenant
from ecomops.security import accounts, auth, invitations, mfa

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


def _invite(email: str, tenant: str, role: str, json_out: bool) -> None:
    settings = get_settings()
    with cli_errors():
        invited = invitations.invite(
            engine(),
            tenant,
            email,
            role,
            days=settings.invitation_days,
            per_hour=settings.invitations_per_hour,
        )
    link = f"http://{_host()}{invitations.link(invited.token)}"
    info = invited.invitation
    if json_out:
        print_json(
            {"status": "invited", "invitation": info.__dict__, "token": invited.token, "accept_url": link}
        )
        return
    console.print(f"{info.email} invited to {tenant} as {info.role} (until {_when(info.expires_at)})")
    console.print("Send them this link (shown once); they open it signed in with that e-mail:")
    console.print(link, highlight=False, soft_wrap=True)


def _when(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


@member_app.command("invite")
def member_invite(
    email: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    role: Annotated[str, typer.Option(help=_ROLE_HELP)],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Invite someone by e-mail with a role; prints the link to send them (ecomops sends no e-mail)."""
    _invite(email, tenant, role, json_out)


@member_app.command("add")
def member_add(
    email: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    role: Annotated[str, typer.Option(help=_ROLE_HELP)],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The former name of `member invite`: members join by accepting an invitation."""
    _invite(email, tenant, role, json_out)


@member_app.command("invitations")
def member_invitations(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a tenant's pending invitations."""
    with cli_errors():
        pending = invitations.list_pending(engine(), tenant)
    if json_out:
        print_json([i.__dict__ for i in pending])
        return
    table = Table("id", "email", "role", "invited by", "expires")
    for i in pending:
        table.add_row(i.id, i.email, i.role, i.invited_by, _when(i.expires_at))
    console.print(table)


@member_app.command("revoke-invitation")
def member_revoke_invitation(
    invitation_id: str, tenant: Annotated[str, typer.Option(help="Tenant slug")]
) -> None:
    """Revoke a pending invitation: its link stops working."""
    with cli_errors():
        info = invitations.revoke(engine(), tenant, invitation_id)
    console.print(f"invitation of {info.email} to {tenant} revoked")


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
    format: ListFormat = None,
    output: ExportOutput = None,
    lang: ExportLang = "en",
) -> None:
    """List a tenant's members and roles."""
    fmt = parse_export_format(format, output)
    if fmt is not None:
        save_tenant_list(tenant, fmt, output, lang, route="members", export=accounts.export_members)
        return
    with cli_errors():
        members = accounts.list_members(engine(), tenant)
    if json_out:
        print_json([m.__dict__ for m in members])
        return
    table = Table("email", "role")
    for m in members:
        table.add_row(m.email, m.role)
    console.print(table)


@user_app.command("bootstrap")
def user_bootstrap(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    email: Annotated[str, typer.Option(help="The owner's email")],
    reset_password: Annotated[
        bool, typer.Option("--reset-password", help="Give an existing account a new password (shown once)")
    ] = False,
    enroll_totp: Annotated[
        bool,
        typer.Option(
            "--enroll-totp",
            help="Turn MFA on with a new authenticator secret, shown once as a QR code "
            "(kept if MFA is already on)",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """First run: create an owner for TENANT and print the sign-in (idempotent)."""
    with cli_errors():
        result = auth.bootstrap_owner(engine(), tenant, email, reset_password=reset_password)
        enrolment = auth.enroll_totp(engine(), email) if enroll_totp else None
    if enrolment is not None:
        result = dataclasses.replace(result, mfa_enabled=True)
    if json_out:
        totp = {"totp_secret": enrolment.secret, "totp_uri": enrolment.uri} if enrolment else {}
        print_json({**result.__dict__, **totp})
        return
    console.print(f"Console sign-in for [bold]{tenant}[/bold]: http://{_host()}/login")
    console.print(f"  email:    {result.email}", highlight=False)
    if result.password:
        console.print(f"  password: {result.password}", highlight=False, soft_wrap=True)
    else:
        console.print("  password: unchanged (use --reset-password for a new one)")
    if enrolment is not None:
        _print_enrolment(enrolment)
    elif enroll_totp:
        console.print("  MFA:      the authenticator app set up before (new one: `ecomops user mfa-reset`)")
    elif result.mfa_required and not result.mfa_enabled:
        console.print("  The first sign-in asks you to set up an authenticator app (owners need MFA).")


def _print_enrolment(enrolment: mfa.Enrolment) -> None:
    """The QR code in the terminal (Unicode half blocks, scannable from the screen) and the secret for
    apps that take it typed; shown this once."""
    console.print("  MFA:      scan this QR code with an authenticator app (shown once):")
    out = io.StringIO()
    segno.make(enrolment.uri, error="m").terminal(out=out, compact=True, border=2)
    sys.stdout.write(out.getvalue())
    sys.stdout.flush()
    console.print(f"  secret:   {enrolment.secret}", highlight=False)
    console.print(f"  uri:      {enrolment.uri}", highlight=False, soft_wrap=True)


def _host() -> str:
    settings = get_settings()
    return f"{settings.host}:{settings.port}"


def _password_from(stdin: bool) -> tuple[str, bool]:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


@user_app.command("set-password")
def user_set_password(
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read it from stdin")] = False,
) -> None:
    """Set a new password (generated and shown once unless --password-stdin); ends all sessions."""
    password, generated = _password_from(password_stdin)
    with cli_errors():
        accounts.set_password(engine(), email, password)
    console.print(f"password of [bold]{email}[/bold] changed; its sessions were ended")
    if generated:
        console.print(password, highlight=False, soft_wrap=True)


@user_app.command("unlock")
def user_unlock(email: str) -> None:
    """Lift a sign-in lockout caused by failed attempts."""
    with cli_errors():
        auth.unlock(engine(), email)
    console.print(f"{email} unlocked")


@user_app.command("mfa-reset")
def user_mfa_reset(email: str) -> None:
    """Turn off a user's MFA (lost phone): the next sign-in enrols a new authenticator."""
    with cli_errors():
        auth.reset_mfa(engine(), email)
    console.print(f"MFA of {email} reset; its sessions were ended")


#: ``--rise-colour`` values: a colour, or ``language`` to follow the console's language again.
RISE_CHOICES = ("red", "green", "language")


@user_app.command("preferences")
def user_preferences(
    email: str,
    rise_colour: Annotated[
        str,
        typer.Option(
            help="Colour of a rise in the console: red (A-share: red up, green down), green (the reverse) "
            "or language (zh-CN red, English green)"
        ),
    ],
) -> None:
    """Set a user's console preferences: the colour of a rise (a fall takes the other colour)."""
    if rise_colour not in RISE_CHOICES:
        console.print(f"[red]--rise-colour must be one of {', '.join(RISE_CHOICES)}[/red]")
        raise typer.Exit(2)
    with cli_errors():
        accounts.set_rise_colour(engine(), email, None if rise_colour == "language" else rise_colour)
    console.print(f"{email}: a rise is {'as the language' if rise_colour == 'language' else rise_colour}")


@member_app.command("mfa-policy")
def member_mfa_policy(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    require: Annotated[
        bool | None, typer.Option("--require/--no-require", help="Owners and admins must use MFA")
    ] = None,
) -> None:
    """Show or set whether the tenant's owners and admins must sign in with MFA (default: required)."""
    with cli_errors():
        info = get_tenant(engine(), tenant)
        if require is not None:
            auth.set_mfa_policy(engine(), info.id, require)
        current = auth.mfa_policy(engine(), info.id)
    console.print(f"{tenant}: MFA {'required' if current else 'optional'} for owners and admins")
