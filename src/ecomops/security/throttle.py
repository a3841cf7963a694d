"""Sign-in attempts counted per (e-mail as typed, client address), with exponential back-off.

Why not a counter on the user row: then unknown e-mails are never locked (the lockout answer tells
which accounts exist), guesses sent together all pass the check before any failure is counted, and
anyone anywhere can keep an owner locked out. Here every attempt is counted *before* the password is
checked, in one atomic statement, so at most ``login_max_failures`` guesses per pair are ever checked
between locks however many arrive at once; unknown and known e-mails are counted and answered alike; and
a lock binds the guessing address only. Each lock lasts twice the one before (1, 2, 4… minutes, up to
``login_lockout_minutes``) until a success clears the pair. The per-address ``auth`` rate limit bounds
guessing across many e-mails.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Overloaded
from ecomops.platform.settings import Settings
from ecomops.platform.store.db import session_scope
from ecomops.security.models import LoginThrottle

#: Pairs untouched this long are forgotten (their back-off starts again).
FORGET_AFTER = timedelta(days=1)


class AccountLocked(Overloaded):
    code = "account_locked"


def subject_of(email: str) -> str:
    """A digest of the e-mail as typed, trimmed and lower-cased (what ``normalize_email`` keys on)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _locked(until: datetime, now: datetime) -> AccountLocked:
    seconds = max(1, int((until - now).total_seconds()) + 1)
    return AccountLocked(
        f"too many failed sign-ins for this account from this address; try again after {until:%H:%M} UTC "
        "or ask an administrator to unlock it (ecomops user unlock EMAIL)",
        retry_after=seconds,
        details={"locked_until": until.isoformat()},
    )


def reserve(engine: Engine, settings: Settings, subject: str, ip: str) -> None:
    """Count this attempt before the password is checked; AccountLocked if the pair is locked or its
    attempts are used up (guesses in flight count too)."""
    now = utcnow()
    key = and_(LoginThrottle.subject == subject, LoginThrottle.ip == ip)
    for _ in range(2):  # the insert of a first attempt may race another's
        with session_scope(engine) as s:
            counted = s.execute(
                update(LoginThrottle)
                .where(key, or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now))
                .values(failures=LoginThrottle.failures + 1, locked_until=None, updated_at=now)
                .returning(LoginThrottle.failures)
            ).scalar_one_or_none()
            if counted is None:
                row = s.scalar(select(LoginThrottle).where(key))
                if row is not None and row.locked_until is not None:
                    raise _locked(row.locked_until, now)
                if row is None:
                    s.execute(delete(LoginThrottle).where(LoginThrottle.updated_at < now - FORGET_AFTER))
                    try:
                        with s.begin_nested():
                            s.add(LoginThrottle(subject=subject, ip=ip, failures=1, locks=0, updated_at=now))
                    except IntegrityError:
                        continue
                    return
            elif counted > settings.login_max_failures:
                # Attempts already in flight use up the budget: wait for them (a lock follows if they fail).
                raise _locked(now + timedelta(seconds=1), now)
            return


def failed(engine: Engine, settings: Settings, subject: str, ip: str) -> datetime | None:
    """A checked attempt failed: lock the pair once its attempts reach the limit. Returns the end of a
    lock this failure started (once per lock, however many attempts fail together), else None."""
    now = utcnow()
    with session_scope(engine) as s:
        row = s.execute(
            update(LoginThrottle)
            .where(
                LoginThrottle.subject == subject,
                LoginThrottle.ip == ip,
                LoginThrottle.failures >= settings.login_max_failures,
            )
            .values(failures=0, locks=LoginThrottle.locks + 1, updated_at=now)
            .returning(LoginThrottle.locks)
        ).scalar_one_or_none()
        if row is None:
            return None
        minutes = min(float(settings.login_lockout_minutes), float(2 ** min(row - 1, 20)))
        until = now + timedelta(minutes=minutes)
        s.execute(
            update(LoginThrottle)
            .where(LoginThrottle.subject == subject, LoginThrottle.ip == ip)
            .values(locked_until=until)
        )
        return until


def clear(engine: Engine, subject: str, ip: str | None = None) -> None:
    """Forget the pair after a success, or every address of the e-mail (unlock, new password)."""
    with session_scope(engine) as s:
        where = LoginThrottle.subject == subject
        s.execute(delete(LoginThrottle).where(where if ip is None else and_(where, LoginThrottle.ip == ip)))
