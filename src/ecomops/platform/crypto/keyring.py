"""Envelope encryption: one master key, derived key-encryption keys, wrapped per-tenant data keys.

Layers, and why each exists:

* **Master key** — ``ECOMOPS_MASTER_KEY`` (any string; HKDF turns it into 32 bytes) or, without it,
  ``<data dir>/keys/master.key`` (32 random bytes, mode 0600, created atomically on first use). It
  never touches the database, so a stolen store dump alone decrypts nothing.
* **Key-encryption key (KEK)** — HKDF-SHA256 of the master key. ``kek_id`` (an HMAC fingerprint of
  the master) is stored next to every wrapped key: a process holding the wrong master fails with a
  message naming both fingerprints instead of producing garbage.
* **Data keys** — random 256-bit keys per tenant (``tenant_keys``) and for system secrets
  (``system_keys``), stored only wrapped (AES-GCM under the KEK, AAD = owner + purpose + version, so
  a wrapped key cannot be swapped onto another tenant's row). Tenants' ``data`` keys are versioned:
  rotation adds a version that takes new writes while old ciphertexts stay readable. ``index`` and
  ``pseudonym`` keys are separate random keys so blind indexes and warehouse pseudonyms survive
  data-key rotation (they must stay stable to keep matching).

Ciphertext format: ``0x01 | u32 key version | 12-byte nonce | AES-GCM ciphertext+tag``. The AAD is
the header plus ``tenant id, field name, record id``: a ciphertext copied to another row, field or
tenant fails authentication.

Unwrapped keys are cached per process (the ingest path must not hit the database per event). Key
material never changes for a given (owner, purpose, version), so cached keys are never stale; only
"which data-key version is current" is re-read every ``CURRENT_VERSION_TTL`` seconds so a rotation
done by the CLI reaches a running server without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.exc import IntegrityError

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import EcomopsError
from ecomops.kernel.ids import new_id
from ecomops.platform.crypto.pseudonym import KEY_BYTES, FileKeys
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.models import SystemKey, TenantKey
from ecomops.platform.store.scoping import system_connection, tenant_connection

FORMAT_V1 = 1
_HEADER = struct.Struct(">BI")
NONCE_BYTES = 12
#: Seconds a process trusts its idea of a tenant's current data-key version (see module docstring).
CURRENT_VERSION_TTL = 30.0
MASTER_FILE = "master.key"
#: Written before a master rotation touches the database, renamed over ``master.key`` after it
#: commits; until then a process accepts keys wrapped under either (crash between the two steps).
NEXT_MASTER_FILE = "master.key.next"
PURPOSES = ("data", "index", "pseudonym")
_SYSTEM_OWNER = "system"
_SYSTEM_PURPOSE = "seal"
_TENANT_KEYS = cast(Table, TenantKey.__table__)
_SYSTEM_KEYS = cast(Table, SystemKey.__table__)


class KeyringError(EcomopsError):
    """Keys cannot be unwrapped or a ciphertext does not authenticate: never a silent wrong answer."""

    status_code = 500
    code = "keyring_error"


class TenantKeysMissing(KeyringError):
    """The tenant has no keys yet (nothing was ever encrypted for it); the caller asked not to create them."""

    code = "tenant_keys_missing"


class CiphertextInvalid(KeyringError):
    """This ciphertext (not the key setup) is bad: altered, truncated or moved. Retrying cannot help."""

    code = "ciphertext_invalid"


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


@dataclass(frozen=True)
class MasterKey:
    """The root secret; ``kek_id`` identifies it without revealing anything about it."""

    key: bytes = field(repr=False)

    @property
    def kek_id(self) -> str:
        return hmac.new(self.key, b"ecomops/kek-id/v1", hashlib.sha256).hexdigest()[:32]

    def kek(self) -> bytes:
        return _hkdf(self.key, b"ecomops/kek/v1")


def master_from_secret(secret: str) -> MasterKey:
    """The master key for an ``ECOMOPS_MASTER_KEY`` string (HKDF: any length or alphabet is fine)."""
    if not secret.strip():
        raise KeyringError("ECOMOPS_MASTER_KEY is set but empty: set a long random value or unset it")
    return MasterKey(_hkdf(secret.encode(), b"ecomops/master-from-secret/v1"))


def read_master_file(path: Path) -> MasterKey:
    """A master key file: exactly 32 raw bytes, or text (a secret in the ``ECOMOPS_MASTER_KEY`` form)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyringError(f"master key file {path} does not exist") from exc
    if len(raw) == KEY_BYTES:
        return MasterKey(raw)
    try:
        text = raw.decode().strip()
    except UnicodeDecodeError as exc:
        raise KeyringError(
            f"master key file {path} holds {len(raw)} bytes: expected 32 raw bytes or a text secret"
        ) from exc
    return master_from_secret(text)


def write_master_file(path: Path, master: MasterKey) -> None:
    """Write 32 raw bytes with mode 0600 via a temporary file and fsync, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(master.key)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def keys_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / "keys"


_MASTERS: dict[tuple[object, ...], tuple[MasterKey, dict[str, MasterKey]]] = {}
_RECENT: dict[int, tuple[Settings, str | None, float, tuple[MasterKey, dict[str, MasterKey]]]] = {}


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def load_masters(settings: Settings | None = None) -> tuple[MasterKey, dict[str, MasterKey]]:
    """The master key new wraps use, and every master this process may unwrap with (by kek_id).

    Cached per (data dir, secret, key files' mtimes): a master rotation by the CLI replaces the file
    and a running server picks the new master up on its next call, without a restart.
    """
    cfg = settings or get_settings()
    secret = cfg.master_key.get_secret_value() if cfg.master_key is not None else None
    # Hot path (the ingest edge calls this per request): the same settings object within a second
    # reuses the last answer without touching the file system.
    recent = _RECENT.get(id(cfg))
    if recent is not None and recent[0] is cfg and recent[1] == secret and time.monotonic() - recent[2] < 1.0:
        return recent[3]
    directory = keys_dir(cfg)
    cache_key = (
        str(directory),
        hashlib.sha256(secret.encode()).hexdigest() if secret is not None else None,
        _stat_key(directory / MASTER_FILE) if secret is None else None,
        _stat_key(directory / NEXT_MASTER_FILE),
    )
    cached = _MASTERS.get(cache_key)
    if cached is not None:
        _RECENT[id(cfg)] = (cfg, secret, time.monotonic(), cached)
        return cached
    if secret is not None:
        current = master_from_secret(secret)
    else:
        current = MasterKey(FileKeys(directory).key_for("master"))
    known = {current.kek_id: current}
    pending = directory / NEXT_MASTER_FILE
    if pending.exists():
        nxt = read_master_file(pending)
        known[nxt.kek_id] = nxt
    result = (current, known)
    if secret is not None or cache_key[2] is not None:
        _MASTERS[cache_key] = result
    _RECENT[id(cfg)] = (cfg, secret, time.monotonic(), result)
    return result


def _wrap_aad(owner: str, purpose: str, version: int) -> bytes:
    return f"ecomops/wrap/v1\x00{owner}\x00{purpose}\x00{version}".encode()


def wrap(master: MasterKey, owner: str, purpose: str, version: int, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master.kek()).encrypt(nonce, key, _wrap_aad(owner, purpose, version))


def unwrap(master: MasterKey, owner: str, purpose: str, version: int, wrapped: bytes) -> bytes:
    nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    try:
        return AESGCM(master.kek()).decrypt(nonce, body, _wrap_aad(owner, purpose, version))
    except InvalidTag as exc:
        raise KeyringError(
            f"wrapped {purpose} key v{version} of {owner} does not authenticate under master "
            f"{master.kek_id}: the row was altered or moved"
        ) from exc


def _field_aad(header: bytes, tenant_id: str, field_name: str, record_id: str) -> bytes:
    return header + f"\x00{tenant_id}\x00{field_name}\x00{record_id}".encode()


_AEADS: dict[bytes, AESGCM] = {}


def _aead(key: bytes) -> AESGCM:
    """AESGCM objects per key (building one costs more than sealing a short field); keys are few."""
    aead = _AEADS.get(key)
    if aead is None:
        if len(_AEADS) > 4096:
            _AEADS.clear()
        aead = _AEADS[key] = AESGCM(key)
    return aead


def seal(key: bytes, version: int, plaintext: bytes, aad: bytes) -> bytes:
    header = _HEADER.pack(FORMAT_V1, version)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + _aead(key).encrypt(nonce, plaintext, header + aad)


def blob_version(blob: bytes) -> int:
    """The data-key version a ciphertext was sealed with (to pick the key, or to find stale rows)."""
    if len(blob) < _HEADER.size + NONCE_BYTES + 16:
        raise CiphertextInvalid(f"ciphertext of {len(blob)} bytes is too short to be an ecomops ciphertext")
    fmt, version = _HEADER.unpack_from(blob)
    if fmt != FORMAT_V1:
        raise CiphertextInvalid(f"unknown ciphertext format {fmt} (this build reads format {FORMAT_V1})")
    return int(version)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    header = blob[: _HEADER.size]
    nonce = blob[_HEADER.size : _HEADER.size + NONCE_BYTES]
    try:
        return _aead(key).decrypt(nonce, blob[_HEADER.size + NONCE_BYTES :], header + aad)
    except InvalidTag as exc:
        raise CiphertextInvalid(
            "ciphertext does not authenticate: altered, or moved from another record, field or tenant"
        ) from exc


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """Digits only, with a leading ``+`` kept for international numbers (``00`` counts as ``+``).

    "+86 138-1234-5678" and "008613812345678" match; a national number without a country code
    matches only the same national form (the country cannot be guessed reliably).
    """
    raw = value.strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00") and len(digits) > 4:
        return "+" + digits[2:]
    return digits


_NORMALIZERS = {"email": normalize_email, "phone": normalize_phone}


class Keyring:
    """Per-process cache of unwrapped keys for one operational store and master key."""

    def __init__(self, engine: Engine, master: MasterKey, known: dict[str, MasterKey]) -> None:
        self.engine = engine
        self.master = master
        self.known = known
        self._keys: dict[tuple[str, str, int], bytes] = {}
        self._current: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    # -- key loading -------------------------------------------------------------------------
    def _master_for(self, kek_id: str, owner: str) -> MasterKey:
        master = self.known.get(kek_id)
        if master is None:
            raise KeyringError(
                f"keys of {owner} are wrapped under master {kek_id}, but this process holds master "
                f"{self.master.kek_id}: start it with the master key in use (ECOMOPS_MASTER_KEY or "
                "<data dir>/keys/master.key), or finish the rotation (docs/privacy.md)"
            )
        return master

    def _create_tenant_keys(self, tenant_id: str) -> None:
        """First use of a tenant: data v1, index and pseudonym keys, committed in their own transaction.

        The pseudonym key adopts an existing ``keys/pseudonym/<tenant>.key`` file (written by
        importers before the keyring existed) so warehouse pseudonyms already issued stay the same.
        A concurrent creator wins the unique constraint; everyone then reads the winner's keys.
        """
        legacy = keys_dir(get_settings()) / "pseudonym" / f"{tenant_id}.key"
        now = utcnow()
        rows = []
        for purpose in PURPOSES:
            key = os.urandom(32)
            if purpose == "pseudonym" and legacy.exists():
                key = FileKeys(legacy.parent).key_for(tenant_id)
            rows.append(
                {
                    "id": new_id("tkey_"),
                    "tenant_id": tenant_id,
                    "purpose": purpose,
                    "version": 1,
                    "wrapped_key": wrap(self.master, tenant_id, purpose, 1, key),
                    "kek_id": self.master.kek_id,
                    "created_at": now,
                    "retired_at": None,
                }
            )
        try:
            with self._tenant_conn(tenant_id) as conn:
                conn.execute(_TENANT_KEYS.insert(), rows)
        except IntegrityError:
            pass

    @contextmanager
    def _tenant_conn(self, tenant_id: str) -> Iterator[Connection]:
        """A transaction on tenant-key rows, committed on exit (independent of any caller's session)."""
        with tenant_connection(self.engine, tenant_id) as conn:
            yield conn

    def _load_tenant(
        self, tenant_id: str, purpose: str, version: int | None, create: bool = True
    ) -> tuple[int, bytes]:
        t = _TENANT_KEYS
        for attempt in range(2):
            with self._tenant_conn(tenant_id) as conn:
                query = select(t.c.version, t.c.wrapped_key, t.c.kek_id).where(
                    t.c.tenant_id == tenant_id, t.c.purpose == purpose
                )
                if version is None:
                    query = query.where(t.c.retired_at.is_(None)).order_by(t.c.version.desc()).limit(1)
                else:
                    query = query.where(t.c.version == version)
                row = conn.execute(query).first()
            if row is not None:
                master = self._master_for(row.kek_id, f"tenant {tenant_id}")
                return int(row.version), unwrap(master, tenant_id, purpose, int(row.version), row.wrapped_key)
            # Reading a data key by version (decryption) never creates keys; anything else is a first use.
            if attempt or not create or (purpose == "data" and version is not None):
                break
            self._create_tenant_keys(tenant_id)
        wanted = f"version {version}" if version is not None else "a current version"
        error = TenantKeysMissing if not create else KeyringError
        raise error(f"tenant {tenant_id} has no {purpose} key with {wanted} in tenant_keys")

    def tenant_key(
        self, tenant_id: str, purpose: str, version: int | None = None, *, create: bool = True
    ) -> tuple[int, bytes]:
        """``(version, key)``; ``version=None`` means the version new writes use.

        A tenant's first use creates its keys in a separate, immediately committed transaction. On
        SQLite that transaction waits for the write lock, so a session that has already written must
        not trigger it: warm the keys first (``tenant_key(tenant_id, "data")``) or pass ``create=False``
        for pure lookups (``TenantKeysMissing`` then means "nothing was ever encrypted for this tenant").
        """
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}; expected one of {PURPOSES}")
        if version is None:
            if purpose == "data":
                cached = self._current.get(tenant_id)
                if cached is not None and time.monotonic() - cached[1] < CURRENT_VERSION_TTL:
                    version = cached[0]
            else:
                version = 1
        if version is not None:
            key = self._keys.get((tenant_id, purpose, version))
            if key is not None:
                return version, key
        with self._lock:
            loaded_version, key = self._load_tenant(tenant_id, purpose, version, create)
            self._keys[(tenant_id, purpose, loaded_version)] = key
            if purpose == "data" and version is None:
                self._current[tenant_id] = (loaded_version, time.monotonic())
        return loaded_version, key

    def has_current(self, tenant_id: str) -> bool:
        """Whether the current data key is cached and fresh (``tenant_key`` will not touch the store)."""
        cached = self._current.get(tenant_id)
        return cached is not None and time.monotonic() - cached[1] < CURRENT_VERSION_TTL

    def forget_current(self, tenant_id: str | None = None) -> None:
        """Re-read the current data-key version on next use (after a rotation in this process)."""
        if tenant_id is None:
            self._current.clear()
        else:
            self._current.pop(tenant_id, None)

    # -- tenant fields -----------------------------------------------------------------------
    def encrypt_field(self, tenant_id: str, field_name: str, record_id: str, plaintext: str) -> bytes:
        version, key = self.tenant_key(tenant_id, "data")
        return seal(key, version, plaintext.encode(), _field_aad(b"", tenant_id, field_name, record_id))

    def decrypt_field(self, tenant_id: str, field_name: str, record_id: str, blob: bytes) -> str:
        _, key = self.tenant_key(tenant_id, "data", blob_version(blob))
        return open_sealed(key, blob, _field_aad(b"", tenant_id, field_name, record_id)).decode()

    def blind_index(self, tenant_id: str, kind: str, value: str, *, create: bool = True) -> str | None:
        """Keyed HMAC of the normalised value (``kind`` = email | phone); None if nothing is left."""
        normalizer = _NORMALIZERS.get(kind)
        if normalizer is None:
            raise ValueError(f"no blind index for {kind!r}; expected one of {sorted(_NORMALIZERS)}")
        normalized = normalizer(value)
        if not normalized or normalized == "+":
            return None
        _, key = self.tenant_key(tenant_id, "index", create=create)
        message = f"{kind}\x00{normalized}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def pseudonym_key(self, tenant_id: str) -> bytes:
        return self.tenant_key(tenant_id, "pseudonym")[1]

    # -- system secrets ----------------------------------------------------------------------
    def _system_key(self, version: int | None) -> tuple[int, bytes]:
        if version is not None:
            key = self._keys.get((_SYSTEM_OWNER, _SYSTEM_PURPOSE, version))
            if key is not None:
                return version, key
        s = _SYSTEM_KEYS
        with self._lock:
            for attempt in range(2):
                with self.engine.connect() as conn:
                    query = select(s.c.version, s.c.wrapped_key, s.c.kek_id).where(
                        s.c.purpose == _SYSTEM_PURPOSE
                    )
                    if version is None:
                        query = query.where(s.c.retired_at.is_(None)).order_by(s.c.version.desc()).limit(1)
                    else:
                        query = query.where(s.c.version == version)
                    row = conn.execute(query).first()
                if row is not None:
                    master = self._master_for(row.kek_id, "the system")
                    key = unwrap(master, _SYSTEM_OWNER, _SYSTEM_PURPOSE, int(row.version), row.wrapped_key)
                    self._keys[(_SYSTEM_OWNER, _SYSTEM_PURPOSE, int(row.version))] = key
                    return int(row.version), key
                if version is not None or attempt:
                    break
                try:
                    with self.engine.begin() as conn:
                        conn.execute(
                            s.insert().values(
                                id=new_id("skey_"),
                                purpose=_SYSTEM_PURPOSE,
                                version=1,
                                wrapped_key=wrap(
                                    self.master, _SYSTEM_OWNER, _SYSTEM_PURPOSE, 1, os.urandom(32)
                                ),
                                kek_id=self.master.kek_id,
                                created_at=utcnow(),
                            )
                        )
                except IntegrityError:
                    pass
        raise KeyringError(f"system_keys has no {_SYSTEM_PURPOSE} key version {version}")

    def seal_system(self, plaintext: bytes, context: str) -> bytes:
        version, key = self._system_key(None)
        return seal(key, version, plaintext, f"\x00system\x00{context}".encode())

    def unseal_system(self, blob: bytes, context: str) -> bytes:
        _, key = self._system_key(blob_version(blob))
        return open_sealed(key, blob, f"\x00system\x00{context}".encode())


_KEYRINGS: dict[tuple[str, str, tuple[str, ...]], Keyring] = {}
_KEYRINGS_LOCK = threading.Lock()


def keyring(engine: Engine, settings: Settings | None = None) -> Keyring:
    """The process's keyring for this store and master key (created on first use, then cached)."""
    current, known = load_masters(settings)
    cache_key = (
        engine.url.render_as_string(hide_password=True),
        current.kek_id,
        tuple(sorted(known)),
    )
    ring = _KEYRINGS.get(cache_key)
    if ring is None:
        with _KEYRINGS_LOCK:
            ring = _KEYRINGS.setdefault(cache_key, Keyring(engine, current, known))
    return ring


@dataclass(frozen=True)
class KeyringPseudonymKeys:
    """``imports.pseudonym.PseudonymKeys`` backed by the tenant's wrapped ``pseudonym`` key.

    A tenant whose importers already used ``keys/pseudonym/<tenant>.key`` keeps its pseudonyms: that
    file's key is adopted when the tenant's keys are first created (``Keyring._create_tenant_keys``).
    """

    engine: Engine

    def key_for(self, tenant_id: str) -> bytes:
        return keyring(self.engine).pseudonym_key(tenant_id)


def seal_system(engine: Engine, plaintext: bytes, context: str) -> bytes:
    """Encrypt a secret that belongs to no tenant (a user's TOTP secret) under the system data key.

    ``context`` is bound as AAD (e.g. ``"totp:<user id>"``): the blob opens only with the same context.
    """
    return keyring(engine).seal_system(plaintext, context)


def unseal_system(engine: Engine, blob: bytes, context: str) -> bytes:
    """Decrypt ``seal_system`` output; raises KeyringError if it was altered or the context differs."""
    return keyring(engine).unseal_system(blob, context)


def encrypt_field(engine: Engine, tenant_id: str, field_name: str, record_id: str, plaintext: str) -> bytes:
    return keyring(engine).encrypt_field(tenant_id, field_name, record_id, plaintext)


def decrypt_field(engine: Engine, tenant_id: str, field_name: str, record_id: str, blob: bytes) -> str:
    return keyring(engine).decrypt_field(tenant_id, field_name, record_id, blob)


# -- rotation ------------------------------------------------------------------------------------
def rotate_data_key(engine: Engine, tenant_id: str) -> int:
    """Add a new data-key version for a tenant and retire the current one; returns the new version.

    Retired versions stay in the table (old ciphertexts remain readable); only new writes change.
    """
    ring = keyring(engine)
    ring.tenant_key(tenant_id, "data")  # creates the tenant's keys if this is their first use
    t = _TENANT_KEYS
    with ring._tenant_conn(tenant_id) as conn:
        latest = conn.execute(
            select(t.c.version)
            .where(t.c.tenant_id == tenant_id, t.c.purpose == "data")
            .order_by(t.c.version.desc())
            .limit(1)
        ).scalar_one()
        new_version = int(latest) + 1
        now = utcnow()
        conn.execute(
            update(t)
            .where(t.c.tenant_id == tenant_id, t.c.purpose == "data", t.c.retired_at.is_(None))
            .values(retired_at=now)
        )
        conn.execute(
            t.insert().values(
                id=new_id("tkey_"),
                tenant_id=tenant_id,
                purpose="data",
                version=new_version,
                wrapped_key=wrap(ring.master, tenant_id, "data", new_version, os.urandom(32)),
                kek_id=ring.master.kek_id,
                created_at=now,
            )
        )
    ring.forget_current(tenant_id)
    return new_version


@dataclass(frozen=True)
class RewrapResult:
    old_kek_ids: list[str]
    new_kek_id: str
    tenant_keys: int
    system_keys: int
    tenant_ids: list[str]


def rewrap_all(conn: Connection, known: dict[str, MasterKey], new_master: MasterKey) -> RewrapResult:
    """Re-wrap every tenant and system key under ``new_master`` in the caller's transaction.

    Key material is unchanged, so nothing encrypted with the keys has to be touched. The caller
    commits (all or nothing) and must be able to see every tenant's rows (system scope).
    """
    t = _TENANT_KEYS
    s = _SYSTEM_KEYS
    old: set[str] = set()
    tenants: set[str] = set()
    n_tenant = 0
    # Read every row before updating the same table (an open cursor over a table being updated is fragile).
    for row in conn.execute(
        select(t.c.id, t.c.tenant_id, t.c.purpose, t.c.version, t.c.wrapped_key, t.c.kek_id)
    ).all():
        master = known.get(row.kek_id)
        if master is None:
            raise KeyringError(
                f"tenant key {row.id} is wrapped under master {row.kek_id}, which this process does not hold"
            )
        key = unwrap(master, row.tenant_id, row.purpose, int(row.version), row.wrapped_key)
        conn.execute(
            update(t)
            .where(t.c.id == row.id)
            .values(
                wrapped_key=wrap(new_master, row.tenant_id, row.purpose, int(row.version), key),
                kek_id=new_master.kek_id,
            )
        )
        old.add(row.kek_id)
        tenants.add(row.tenant_id)
        n_tenant += 1
    n_system = 0
    for srow in conn.execute(select(s.c.id, s.c.purpose, s.c.version, s.c.wrapped_key, s.c.kek_id)).all():
        master = known.get(srow.kek_id)
        if master is None:
            raise KeyringError(f"system key {srow.id} is wrapped under master {srow.kek_id}, not held here")
        key = unwrap(master, _SYSTEM_OWNER, srow.purpose, int(srow.version), srow.wrapped_key)
        conn.execute(
            update(s)
            .where(s.c.id == srow.id)
            .values(
                wrapped_key=wrap(new_master, _SYSTEM_OWNER, srow.purpose, int(srow.version), key),
                kek_id=new_master.kek_id,
            )
        )
        old.add(srow.kek_id)
        n_system += 1
    return RewrapResult(sorted(old), new_master.kek_id, n_tenant, n_system, sorted(tenants))


def tenant_key_versions(engine: Engine, tenant_ids: Iterable[str] | None = None) -> list[dict[str, object]]:
    """Key inventory for ``ecomops keys status``: purpose, version, kek_id, dates — never key material."""
    t = _TENANT_KEYS
    query = select(
        t.c.tenant_id, t.c.purpose, t.c.version, t.c.kek_id, t.c.created_at, t.c.retired_at
    ).order_by(t.c.tenant_id, t.c.purpose, t.c.version)
    if tenant_ids is not None:
        query = query.where(t.c.tenant_id.in_(list(tenant_ids)))
    with system_connection(engine, "keys status lists every tenant's key versions") as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class MasterRotation:
    result: RewrapResult
    mode: str  # "file" (master.key replaced) or "env" (operator must update ECOMOPS_MASTER_KEY)


def rotate_master(
    engine: Engine, new_master: MasterKey | None = None, settings: Settings | None = None
) -> MasterRotation:
    """Re-wrap every key under a new master key (given, or 32 fresh random bytes).

    Key-file mode: the new key is first written to ``keys/master.key.next`` (fsynced), then the
    re-wrap commits in one transaction, then ``master.key.next`` is renamed over ``master.key``. A
    crash at any point leaves a store every process can still open: until the rename, processes
    accept keys wrapped under either file. Environment mode (``ECOMOPS_MASTER_KEY``): the store is
    re-wrapped under ``new_master``; the operator then sets the variable to the new secret and
    restarts (docs/privacy.md). Random generation needs key-file mode: a generated secret would have
    to be printed, and printed secrets end up in logs.
    """
    cfg = settings or get_settings()
    current, known = load_masters(cfg)
    env_mode = cfg.master_key is not None
    if new_master is None:
        if env_mode:
            raise KeyringError(
                "ECOMOPS_MASTER_KEY is set: put the new secret in a file (mode 0600) and pass "
                "--new-master-key-file instead of --master"
            )
        new_master = MasterKey(os.urandom(32))
    if new_master.kek_id == current.kek_id:
        raise KeyringError(f"the new master key is the current one (fingerprint {current.kek_id})")
    directory = keys_dir(cfg)
    pending = directory / NEXT_MASTER_FILE
    if not env_mode:
        write_master_file(pending, new_master)
    known = {**known, new_master.kek_id: new_master}
    with system_connection(engine, "master key rotation re-wraps every tenant's keys") as conn:
        result = rewrap_all(conn, known, new_master)
    if not env_mode:
        os.replace(pending, directory / MASTER_FILE)
    _KEYRINGS.clear()
    _MASTERS.clear()
    _RECENT.clear()
    return MasterRotation(result, "env" if env_mode else "file")


def system_key_versions(engine: Engine) -> list[dict[str, object]]:
    """System keys for ``ecomops keys status`` (purpose, version, kek_id, dates — never key material)."""
    s = _SYSTEM_KEYS
    query = select(s.c.purpose, s.c.version, s.c.kek_id, s.c.created_at, s.c.retired_at).order_by(
        s.c.purpose, s.c.version
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
