"""Step-up: sensitive actions need a second factor verified in the last ten minutes.

A stolen session cookie should not be enough to export every customer or mint an API key. People in
the console re-enter a TOTP code (``POST /auth/step-up``) before PII export, erasure, key creation,
role changes and price-rule publishing. Machine credentials (API keys, the local CLI token) have no
second factor to ask for; their reach is bounded by their role, and their creation was stepped up.
"""

from __future__ import annotations

from datetime import timedelta

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import StepUpRequired
from ecomops.platform.context import TenantContext

STEP_UP_WINDOW = timedelta(minutes=10)


def require_step_up(ctx: TenantContext, action: str) -> None:
    """Raise ``StepUpRequired`` (403, code ``step_up_required``) unless MFA is fresh for a session."""
    if ctx.via != "session":
        return
    if ctx.mfa_at is None or utcnow() - ctx.mfa_at > STEP_UP_WINDOW:
        raise StepUpRequired(
            f"{action} needs a fresh second factor: verify a TOTP code at POST /auth/step-up "
            f"(valid {int(STEP_UP_WINDOW.total_seconds() // 60)} minutes)",
            {"action": action, "step_up": "/auth/step-up"},
        )
