"""TOTP second factor (RFC 6238 via pyotp) and one-time recovery codes.

Enrolment is two-step: ``begin_enrolment`` stores a fresh secret (sealed by the keyring, never in
clear) and returns the ``otpauth://`` URI and its QR code; MFA is on only after ``confirm_enrolment``
receives a valid code, which proves the authenticator app holds the secret. Confirmation returns ten
recovery codes once; only their SHA-256 is kept (80 random bits each, so the hash cannot be
brute-forced back), and each works a single time.

A TOTP code stays valid for its 30-second step (±1 step of clock drift). Someone who watches a code
being typed could replay it within that window, so the last accepted step is stored and a code for
the same or an earlier step is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, ValidationFailed
from ecomops.platform.crypto import keyring
from ecomops.security.models import RecoveryCode, User

ISSUER = "ecomops"
RECOVERY_CODES = 10
#: Accept the previous and next 30 s step as well: phones' clocks drift.
DRIFT_STEPS = 1
_SEAL_CONTEXT = "user-totp-secret"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


def _seal_context(user_id: str) -> str:
    return f"{_SEAL_CONTEXT}:{user_id}"


def _secret(engine: Engine, user: User) -> str:
    if user.mfa_secret is None:
        raise Conflict("MFA enrolment has not been started for this account", {"user_id": user.id})
    return keyring.unseal_system(engine, user.mfa_secret, _seal_context(user.id)).decode()


def begin_enrolment(engine: Engine, s: Session, user: User) -> Enrolment:
    """A new secret for ``user`` (replacing an unconfirmed one); refused when MFA is already on."""
    if user.mfa_enabled_at is not None:
        raise Conflict("MFA is already enabled; reset it before enrolling a new device", {"user_id": user.id})
    secret = pyotp.random_base32()
    user.mfa_secret = keyring.seal_system(engine, secret.encode(), _seal_context(user.id))
    user.mfa_last_step = None
    s.flush()
    return _enrolment(user, secret)


def pending_enrolment(engine: Engine, user: User) -> Enrolment | None:
    """The started, unconfirmed enrolment (to show the same QR again after a mistyped code)."""
    if user.mfa_enabled_at is not None or user.mfa_secret is None:
        return None
    return _enrolment(user, _secret(engine, user))


def _enrolment(user: User, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=5, title="TOTP enrolment QR code")
    return Enrolment(secret=secret, uri=uri, qr_svg=svg)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to (within the drift window), compared in constant time."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            found = current + offset
    return found


def verify_totp(engine: Engine, s: Session, user: User, code: str) -> bool:
    """True once per step: the accepted step is recorded so the same code cannot be replayed."""
    if user.mfa_secret is None:
        return False
    step = _matching_step(_secret(engine, user), code, utcnow())
    if step is None or (user.mfa_last_step is not None and step <= user.mfa_last_step):
        return False
    # Conditional update: two concurrent requests with the same code cannot both win.
    won = s.execute(
        update(User)
        .where(User.id == user.id)
        .where((User.mfa_last_step.is_(None)) | (User.mfa_last_step < step))
        .values(mfa_last_step=step)
    ).rowcount  # type: ignore[attr-defined]
    s.refresh(user)
    return bool(won)


def _code_hash(code: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalized.encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 16 chars, 80 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def issue_recovery_codes(s: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones, returned once in clear."""
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    s.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(c)) for c in codes)
    s.flush()
    return codes


def confirm_enrolment(engine: Engine, s: Session, user: User, code: str) -> list[str]:
    """Turn MFA on if ``code`` is valid for the pending secret; returns the recovery codes."""
    if user.mfa_enabled_at is not None:
        raise Conflict("MFA is already enabled", {"user_id": user.id})
    if not verify_totp(engine, s, user, code):
        raise ValidationFailed(
            "that code does not match: check the authenticator app's time and try the current code",
            {"field": "code"},
        )
    user.mfa_enabled_at = utcnow()
    return issue_recovery_codes(s, user)


def use_recovery_code(s: Session, user: User, code: str) -> bool:
    """Consume one recovery code; the conditional update makes a second use fail even if concurrent."""
    row = s.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    won = s.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    return bool(won)


def remaining_recovery_codes(s: Session, user: User) -> int:
    return len(
        s.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def reset(s: Session, user: User) -> None:
    """Turn MFA off (lost device): secret, step and recovery codes go; the next sign-in re-enrols."""
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    s.flush()
