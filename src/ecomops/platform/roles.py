"""Roles and the shape of a permission: the vocabulary every module's permissions are written in.

The matrix itself is assembled from the modules (``ecomops.platform.permissions``); this file only
fixes the six roles, so a module cannot invent a role and a typo fails at import, not at a check.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("owner", "admin", "analyst", "marketer", "operator", "viewer")
ALL_ROLES = frozenset(ROLES)
MANAGERS = frozenset({"owner", "admin"})


@dataclass(frozen=True)
class Permission:
    """``name`` (``area:verb``) granted to ``roles``; anything not granted is denied."""

    name: str
    roles: frozenset[str]
    description: str

    def __post_init__(self) -> None:
        unknown = self.roles - ALL_ROLES
        if unknown:
            raise ValueError(f"permission {self.name!r} names unknown roles {sorted(unknown)}")
        area, _, verb = self.name.partition(":")
        if not area or not verb:
            raise ValueError(f"permission {self.name!r} must look like 'area:verb'")
