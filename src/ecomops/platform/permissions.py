"""The one role × permission matrix every gated route and command consults.

Routes used to carry their own role sets; scattered sets drift apart and cannot be reviewed or tested
as a whole. Each module declares its permissions (``Module.permissions``), each naming the roles
granted it; the matrix is their union, and anything not listed is denied (least privilege by
default): adding a permission grants it to nobody until someone writes it down. ``docs/security.md``
embeds :func:`markdown_table`; a test keeps the two identical.
"""

from __future__ import annotations

from ecomops.kernel.errors import Forbidden, ValidationFailed
from ecomops.platform.context import TenantContext
from ecomops.platform.registry import registry
from ecomops.platform.roles import ROLES, Permission


def matrix() -> dict[str, Permission]:
    """Every permission of the installed modules, by name, in module order."""
    return registry().permissions


def roles_with(permission: str) -> frozenset[str]:
    """Roles granted ``permission``; an unknown permission is a programming error, not a denial."""
    try:
        return matrix()[permission].roles
    except KeyError:
        raise ValidationFailed(f"unknown permission {permission!r}", {"permission": permission}) from None


def describe(permission: str) -> str:
    return matrix()[permission].description


def allowed(role: str, permission: str) -> bool:
    """True only if the matrix grants ``permission`` to ``role`` (unknown roles get nothing)."""
    return role in roles_with(permission)


def require(ctx: TenantContext, permission: str) -> None:
    """Raise Forbidden (403) unless the caller's role holds ``permission``.

    The message names the permission and the roles that hold it, so a denied client learns which
    key to ask for instead of guessing.
    """
    if not allowed(ctx.role, permission):
        holders = [r for r in ROLES if r in roles_with(permission)]
        raise Forbidden(
            f"role {ctx.role!r} lacks permission {permission!r} ({describe(permission)}); "
            f"roles with it: {', '.join(holders)}",
            {"role": ctx.role, "permission": permission},
        )


def require_owner_for(ctx: TenantContext, *roles: str) -> None:
    """Only an owner may hand out the owner role or act on an owner (keys, members, the MFA policy)."""
    if "owner" in roles and ctx.role != "owner":
        raise Forbidden(
            "only an owner can grant the owner role or change an owner's access",
            {"role": ctx.role},
        )


def markdown_table() -> str:
    """The matrix as a Markdown table (permission rows, role columns); docs/security.md embeds it."""
    lines = [
        "| permission | " + " | ".join(ROLES) + " | allows |",
        "|---|" + "---|" * len(ROLES) + "---|",
    ]
    for permission in matrix().values():
        cells = " | ".join("✓" if r in permission.roles else "–" for r in ROLES)
        lines.append(f"| `{permission.name}` | {cells} | {permission.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the table for docs/security.md
    print(markdown_table(), end="")
