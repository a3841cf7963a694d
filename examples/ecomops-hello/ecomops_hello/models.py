"""The hello module's operational table: notes a shop keeps.

Declared on the platform's ``Base`` so tenant scoping sees it (every table with a ``tenant_id`` column
is tenant-owned: ``tenant_session`` filters it, a plain session refuses it). The registry imports this
file when it loads the module, before any session opens. The schema itself comes from the Alembic
branch in ``store_migrations/``, never from ``create_all``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id
from ecomops.platform.store.models import Base, UTCDateTime

#: Longest note, in characters (the API, the CLI and the column agree on it).
MAX_NOTE = 500


class HelloNote(Base):
    __tablename__ = "hello_notes"
    __table_args__ = (Index("ix_hello_notes_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("hn_"))
    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    body: Mapped[str] = mapped_column(String(MAX_NOTE), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
