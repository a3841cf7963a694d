"""Process settings from ``ECOMOPS_*`` environment variables.

Everything that differs between a laptop and a production fleet lives here so the
rest of the code never reads the environment directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
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
        description="Secret the audit-log HMAC key and the PII master key (security.keyring) are derived "
        "from; without it random key files <data_dir>/keys/audit.key and master.key are created. Set it "
        "when several hosts share one PostgreSQL store.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    # Observability (docs/operations.md): server logs on stderr, and who may read /metrics.
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level logged by `ecomops serve`; info includes the access log."
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line; text: one readable line per record."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that lets a non-local scraper read /metrics; without it only loopback "
        "clients may.",
    )
    demo_signin_hint: bool = Field(
        default=False,
        description="Local demo (`make demo` sets it): the sign-in pages say that the password and the "
        "authenticator QR code were printed in the terminal.",
    )
    # Console sign-in: idle and absolute session lifetimes, and the account lockout rule.
    session_idle_minutes: int = Field(default=30, ge=1, description="Sign out after this much inactivity.")
    session_absolute_hours: int = Field(default=12, ge=1, description="Sign out this long after sign-in.")
    login_max_failures: int = Field(default=5, ge=1, description="Failed sign-ins in a row before lockout.")
    login_lockout_minutes: int = Field(default=15, ge=1, description="Lockout duration.")
    # Members join by invitation (security/invitations.py): how long a link stays valid, and how many a
    # tenant may send per hour (so inviting cannot be used to spam addresses or probe them).
    invitation_days: int = Field(default=7, ge=1, le=90, description="An invitation link expires after this.")
    invitations_per_hour: int = Field(
        default=50, ge=1, description="Invitations one tenant may create per hour."
    )
    # Ingest tuning: bounded queue so overload turns into 429 instead of unbounded memory.
    ingest_queue_max_events: int = 200_000
    ingest_flush_interval_ms: int = 200
    ingest_dedupe_window_hours: int = 24
    ingest_fsync: bool = True
    # Cluster mode (docs/cluster.md): stateless ingest processes append to a shared log, loaders own shards.
    ingest_log: str = Field(
        default="",
        description="URL of the shared event log for cluster mode (redis://host:port/db): ingest processes "
        "append validated events there and `ecomops loader` processes load them. Empty: the embedded WAL.",
    )
    ingest_log_prefix: str = Field(
        default="ecomops:",
        description="Prefix of every key cluster mode keeps in the log (installations may share one).",
    )
    ingest_log_require_fsync: bool = Field(
        default=True,
        description="Refuse to start cluster mode unless the log acknowledges only what it has fsynced "
        "(Redis: appendonly yes and appendfsync always). false only where durability is ensured otherwise.",
    )
    ingest_log_max_backlog_entries: int = Field(
        default=100_000,
        ge=1,
        description="Appended entries a tenant's log may hold before its loader loads them; beyond, 429.",
    )
    ingest_loader_shard: str = Field(
        default="",
        description='In cluster mode, `ecomops serve` also loads this shard of tenants ("i/n", like '
        "`ecomops loader --shard i --shards n`) and serves their warehouses' reads.",
    )
    # Abuse bounds (write keys are public: they ship in storefront JavaScript).
    ingest_max_invalid_per_request: int = Field(
        default=20,
        ge=0,
        description="Invalid events one request may carry; beyond this the request is refused (400) as junk "
        "and kept as one dead letter instead of one per event.",
    )
    ingest_dead_letter_quota: int = Field(
        default=100_000,
        ge=0,
        description="Dead letters a tenant's warehouse keeps at most; beyond it new ones are dropped and "
        "counted (ecomops_ingest_dead_letters_dropped_total, a warning in the log and in doctor).",
    )
    # Backlog budget (ingest/pipeline.py): how far the warehouse may fall behind the acknowledged WAL before
    # ingest answers 429. Bursts beyond what the loader keeps up with are absorbed, durable, up to it.
    ingest_backlog_max_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A tenant's loader lag (age of its oldest acknowledged event not in the warehouse yet) "
        "beyond which its ingest answers 429 until the loader catches up.",
    )
    ingest_backlog_max_mb: int = Field(
        default=4096,
        ge=1,
        description="Acknowledged WAL bytes of one tenant not loaded yet beyond which its ingest answers "
        "429.",
    )
    ingest_min_free_disk_mb: int = Field(
        default=1024,
        ge=0,
        description="Free space on the WAL's file system below which ingest answers 429 (the WAL must never "
        "fill the disk the warehouses and the store share). 0: not checked.",
    )
    ingest_load_turn_mb: int = Field(
        default=8,
        ge=1,
        description="WAL bytes the loader moves for one tenant before it turns to the next tenant with a "
        "backlog (one tenant's flood delays another's freshness by at most one turn).",
    )
    # Load shedding (ingest/shedding.py): refuse /v1/* with 429 before reading the body when saturated.
    ingest_max_in_flight: int = Field(
        default=32,
        ge=0,
        description="Ingest request bodies read or validated at once; beyond, 429 before reading the body "
        "(validation runs in the event loop: more at once only delays everything else). 0: no cap.",
    )
    ingest_body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an ingest request may take to send its body; a slower one answers 408 and frees "
        "its slot (a client trickling bytes must not hold one of the bodies in flight).",
    )
    ingest_memory_watermark_mb: int = Field(
        default=0,
        ge=0,
        description="Process RSS in MB above which /v1/* answers 429 until it falls back (checked at most "
        "every 100 ms); 0: half of the machine's (or the container's) memory.",
    )
    warehouse_memory_limit_mb: int = Field(
        default=0,
        ge=0,
        description="DuckDB memory_limit of each open tenant warehouse, in MB (a query or load beyond it "
        "spills to disk or fails with a clear error instead of growing the server); 0: a quarter of the "
        "machine's memory.",
    )
    heavy_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads for heavy reads (SQL queries, metric reports, funnels), apart from the pool "
        "every other request uses.",
    )
    warm_up_shops: int = Field(
        default=20,
        ge=0,
        le=10_000,
        description="Shops whose warehouse ecomops serve opens and whose overview figures it computes once "
        "at start-up, in the background, so the first dashboard request after a restart does not pay for "
        "opening the file and reading it cold; 0: none.",
    )
    heavy_per_tenant: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Heavy reads one shop may run at once; more answer 429 too_many_concurrent.",
    )
    # Privacy: how often the server applies every tenant's retention policy (privacy.runner).
    retention_interval_seconds: int = Field(
        default=3600, ge=1, description="Seconds between retention passes over every tenant with a policy."
    )
    # Alerts (alerts.scheduler, alerts.webhook): evaluation interval and webhook delivery.
    alerts_interval_seconds: int = Field(
        default=300, ge=1, description="Seconds between evaluations of every tenant's enabled alert rules."
    )
    alerts_allow_private_webhooks: bool = Field(
        default=False,
        description="Allow webhook URLs that resolve to private, loopback or link-local addresses (SSRF).",
    )
    alerts_webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Per attempt.")
    alerts_webhook_max_attempts: int = Field(default=4, ge=1, le=10, description="Attempts per firing.")
    alerts_webhook_backoff_seconds: float = Field(
        default=2.0, ge=0, le=60, description="Wait before retry n is this × 2^(n-1) seconds."
    )
    # Connection bounds of `ecomops serve` (platform/web/protocol.py, docs/security.md): the reverse proxy
    # bounds slow bodies; these keep a client talking to ecomops directly from holding connections open.
    http_head_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A request line and headers must arrive within this time of the connection opening "
        "(or of the request's first byte on a kept-alive connection), else the connection is closed.",
    )
    http_max_head_bytes: int = Field(
        default=64 * 1024, ge=8 * 1024, description="Largest request line and headers; larger gets 431."
    )
    http_keep_alive_seconds: int = Field(
        default=5,
        ge=1,
        le=300,
        description="Idle kept-alive connections close after this many seconds.",
    )
    http_limit_concurrency: int = Field(
        default=1000,
        ge=10,
        description="Connections and requests at once; beyond, new requests get 503 at once (live "
        "dashboards hold one connection each).",
    )
    # Rate limits (token buckets, web/ratelimit.py): `rate` tokens per second refill up to `burst`; one
    # request takes one token. In process memory, or shared through Redis when redis_url is set.
    ratelimit_enabled: bool = Field(default=True, description="Answer 429 when a bucket is empty.")
    ratelimit_ip_rate: float = Field(default=1000.0, gt=0, description="Requests/s per client IP, any path.")
    ratelimit_ip_burst: int = Field(default=2000, ge=1)
    ratelimit_api_key_rate: float = Field(default=50.0, gt=0, description="Requests/s per management key.")
    ratelimit_api_key_burst: int = Field(default=100, ge=1)
    ratelimit_write_key_rate: float = Field(default=1000.0, gt=0, description="Requests/s per write key.")
    ratelimit_write_key_burst: int = Field(default=2000, ge=1)
    ratelimit_write_key_events_rate: float = Field(
        default=25_000.0, gt=0, description="Events/s per write key (a batch takes one token per message)."
    )
    ratelimit_write_key_events_burst: int = Field(default=100_000, ge=1)
    ratelimit_write_key_invalid_rate: float = Field(
        default=20.0,
        gt=0,
        description="Invalid events/s per write key; once spent, the key's requests answer 429 until it "
        "refills.",
    )
    ratelimit_write_key_invalid_burst: int = Field(default=1_000, ge=1)
    ratelimit_auth_rate: float = Field(
        default=10 / 60, gt=0, description="POST /auth/login|mfa|step-up per client IP, per second (10/min)."
    )
    ratelimit_auth_burst: int = Field(default=10, ge=1)
    ratelimit_max_buckets: int = Field(
        default=100_000, ge=100, description="In-memory buckets kept at most; idle ones are evicted first."
    )
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a server reuses a resolved API key; revocation by another process takes "
        "effect within this time (at once when revoked through the same server). 0 disables the cache.",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        """``ECOMOPS_LOG_LEVEL=INFO`` means info, as in every other tool."""
        return value.lower() if isinstance(value, str) else value

    @property
    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'ecomops.sqlite3'}"

    def warehouse_dir(self) -> Path:
        path = self.resolved_data_dir / "warehouse"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def wal_dir(self) -> Path:
        path = self.resolved_data_dir / "wal"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def imports_dir(self) -> Path:
        path = self.resolved_data_dir / "imports"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
