"""argon2id parameters: new hashes use ours, hashes made with the old defaults still verify and are
re-hashed with ours at the next successful sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.low_level import Type
from sqlalchemy import Engine, select

from ecomops.platform.store.scoping import system_session
from ecomops.security import accounts
from ecomops.security.models import User

PASSWORD = "correct horse battery staple 42"


def _stored_hash(engine: Engine, email: str) -> str:
    with system_session(engine, "test: read a password hash") as s:
        return str(s.scalar(select(User.password_hash).where(User.email == email)))


def test_new_hashes_carry_our_parameters() -> None:
    encoded = accounts.hash_password(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$")
    assert (
        f"m={accounts.ARGON2_MEMORY_KIB},t={accounts.ARGON2_TIME_COST},p={accounts.ARGON2_PARALLELISM}$"
        in encoded
    )
    assert accounts._hasher.type is Type.ID


def test_old_default_hashes_verify_and_are_upgraded(store_engine: Engine) -> None:
    accounts.create_user(store_engine, "ann@shop.example", PASSWORD)
    old = PasswordHasher().hash(PASSWORD)  # argon2-cffi defaults: what earlier versions stored
    assert "m=65536,t=3,p=4$" in old
    with system_session(store_engine, "test: put back an old-parameter hash") as s:
        user = s.scalar(select(User).where(User.email == "ann@shop.example"))
        assert user is not None
        user.password_hash = old

    assert accounts.verify_password(store_engine, "ann@shop.example", "wrong password 123") is None
    assert _stored_hash(store_engine, "ann@shop.example") == old  # a failed attempt changes nothing
    assert accounts.verify_password(store_engine, "ann@shop.example", PASSWORD) is not None
    upgraded = _stored_hash(store_engine, "ann@shop.example")
    assert upgraded != old and f"m={accounts.ARGON2_MEMORY_KIB}," in upgraded
    assert accounts.verify_password(store_engine, "ann@shop.example", PASSWORD) is not None
    assert _stored_hash(store_engine, "ann@shop.example") == upgraded  # no re-hash once current
