"""Process settings from ``ECOMOPS_*`` environment variables.

Everything that differs between a laptop and a production fleet lives here so the
rest of the code never reads the environment directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECOMOPS_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".ecomops"), description="Root for SQLite, DuckDB files, WAL, imports."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the operational store; default SQLite in data_dir."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for jobs and caches at scale (redis:// or rediss://); unused if unset.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Secret the audit-log HMAC key is derived from; without it a random key file "
        "<data_dir>/keys/audit.key is created. Set it when several hosts share one PostgreSQL store.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    # Ingest tuning: bounded queue so overload turns into 429 instead of unbounded memory.
    ingest_queue_max_events: int = 200_000
    ingest_flush_interval_ms: int = 200
    ingest_dedupe_window_hours: int = 24
    ingest_fsync: bool = True

    @property
    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'ecomops.sqlite3'}"

    def warehouse_dir(self) -> Path:
        path = self.resolved_data_dir / "warehouse"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def wal_dir(self) -> Path:
        path = self.resolved_data_dir / "wal"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def imports_dir(self) -> Path:
        path = self.resolved_data_dir / "imports"
        path.mkdir(parents=True, exist_ok=True)
        return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
