"""The one role × permission matrix every gated route and command consults.

Routes used to carry their own role sets; scattered sets drift apart and cannot be reviewed or tested
as a whole. Here each permission names the roles granted it, and anything not listed is denied
(least privilege by default): adding a permission grants it to nobody until someone writes it down.
``docs/security.md`` embeds :func:`markdown_table`; a test keeps the two identical.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecomops.kernel.errors import Forbidden, ValidationFailed
from ecomops.tenancy.service import ROLES

if TYPE_CHECKING:
    from ecomops.platform.web.deps import TenantContext

_ALL = frozenset(ROLES)
_MANAGERS = frozenset({"owner", "admin"})

#: permission -> (roles granted, what it allows). Order is the order of the rendered table.
MATRIX: dict[str, tuple[frozenset[str], str]] = {
    "orders:read": (_ALL, "read orders and order analytics"),
    "customers:read": (_ALL, "read customers (pseudonymised identifiers, aggregates)"),
    "customers:read_pii": (_MANAGERS, "read customers' personal data in clear text"),
    "imports:read": (_ALL, "list imports, their status and reject files"),
    "imports:run": (_MANAGERS | {"operator"}, "upload files and start an import"),
    "ingest:read_dead_letters": (
        _MANAGERS | {"analyst", "operator"},
        "list dead letters (raw event payloads)",
    ),
    "events:write_dead_letters": (_MANAGERS | {"operator"}, "replay dead letters into the pipeline"),
    "sql:query": (_MANAGERS | {"analyst"}, "run read-only SQL on the tenant's warehouse"),
    "demo:seed": (_MANAGERS, "seed demo data (replaces the tenant's demo data)"),
    "pricing:write": (_MANAGERS | {"marketer"}, "change prices and price rules"),
    "journeys:publish": (_MANAGERS | {"marketer"}, "publish marketing journeys"),
    "keys:manage": (_MANAGERS, "create, list and revoke API keys and write keys"),
    "members:manage": (_MANAGERS, "add and remove members and change their roles"),
    "privacy:erase": (_MANAGERS, "erase a customer's personal data"),
    "consents:write": (
        _MANAGERS | {"operator"},
        "record customers' consent grants and withdrawals (customer service)",
    ),
    "privacy:retention": (_MANAGERS, "set, view and run the retention policy (deletes old raw data)"),
    "audit:read": (_MANAGERS, "read and verify the audit log"),
    "alerts:read": (_ALL, "list alert rules and their firings"),
    "alerts:write": (
        _MANAGERS | {"marketer", "operator"},
        "create, change, delete and test-fire alert rules and their webhooks",
    ),
    "rollups:rebuild": (
        _MANAGERS | {"operator"},
        "recompute the tenant's metric rollups from the raw facts (heavy; changes no fact)",
    ),
}
PERMISSIONS = tuple(MATRIX)


def _check_matrix() -> None:
    """Fail at import on a typo'd role: a misspelt role would silently grant nothing."""
    for permission, (roles, _) in MATRIX.items():
        unknown = roles - _ALL
        if unknown:
            raise RuntimeError(f"permission {permission!r} names unknown roles {sorted(unknown)}")


_check_matrix()


def roles_with(permission: str) -> frozenset[str]:
    """Roles granted ``permission``; an unknown permission is a programming error, not a denial."""
    try:
        return MATRIX[permission][0]
    except KeyError:
        raise ValidationFailed(f"unknown permission {permission!r}", {"permission": permission}) from None


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
            f"role {ctx.role!r} lacks permission {permission!r} ({MATRIX[permission][1]}); "
            f"roles with it: {', '.join(holders)}",
            {"role": ctx.role, "permission": permission},
        )


def markdown_table() -> str:
    """The matrix as a Markdown table (permission rows, role columns); docs/security.md embeds it."""
    lines = [
        "| permission | " + " | ".join(ROLES) + " | allows |",
        "|---|" + "---|" * len(ROLES) + "---|",
    ]
    for permission, (roles, description) in MATRIX.items():
        cells = " | ".join("✓" if r in roles else "–" for r in ROLES)
        lines.append(f"| `{permission}` | {cells} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the table for docs/security.md
    print(markdown_table(), end="")
