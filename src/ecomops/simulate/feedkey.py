"""The live demo feed's write key: a source of its own ("demo-trickle"), so its events are told apart
from a shop's real sources and it can be revoked on its own.

A write key is shown only when it is issued, so each start of the feed rotates the source's key (no
overlap: the previous feed process is gone) or creates the source the first time; both are audited by
``tenancy`` (``source.rotate`` / ``source.create``).
"""

from __future__ import annotations

from sqlalchemy import Engine

from ecomops.kernel.errors import NotFound
from ecomops.tenancy import service as tenancy

SOURCE_NAME = "demo-trickle"


def demo_write_key(engine: Engine, tenant_slug: str) -> str:
    try:
        _, key = tenancy.rotate_source(engine, tenant_slug, SOURCE_NAME, overlap_hours=0)
    except NotFound:
        _, key = tenancy.create_source(engine, tenant_slug, SOURCE_NAME, "web")
    return key
