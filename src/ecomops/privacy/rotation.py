"""Key rotation as use cases (``ecomops keys rotate``): a tenant's data key, or the master key.

Keys live in the operational store (wrapped) and the master key in the environment or the data dir; no
warehouse is involved, so the command runs these in its own process, with or without a server. Each
rotation is audited here, on the chain of every tenant it touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto import keyring
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.privacy import vault


def rotate_tenant_key(eng: Engine, info: TenantInfo, reencrypt: bool) -> dict[str, Any]:
    """New data-key version for one tenant (audited); optionally rewrite its vault rows under it."""
    version = keyring.rotate_data_key(eng, info.id)
    rewritten = 0
    if reencrypt:
        with tenant_session(eng, info.id) as session:
            rewritten = vault.reencrypt_tenant(session, info.id)
    details = {"scope": "data_key", "new_version": version, "reencrypted_rows": rewritten}
    record_action(eng, info.id, "keys.rotate", "tenant", info.id, details=details)
    return {"tenant": info.slug, **details}


def rotate_master_key(eng: Engine, settings: Settings, new_master_file: Path | None) -> dict[str, Any]:
    """Re-wrap every key under a new master; audited on the chain of every tenant that has keys."""
    new_master = keyring.read_master_file(new_master_file) if new_master_file is not None else None
    rotated = keyring.rotate_master(eng, new_master, settings)
    result = rotated.result
    details = {
        "scope": "master",
        "old_kek_ids": result.old_kek_ids,
        "new_kek_id": result.new_kek_id,
        "tenant_keys": result.tenant_keys,
        "system_keys": result.system_keys,
    }
    for tenant_id in result.tenant_ids:
        record_action(eng, tenant_id, "keys.rotate", "tenant", tenant_id, details=details)
    return {"mode": rotated.mode, **details}
