"""``ecomops doctor``: is this installation able to run, and if not, what exactly is wrong?

Each check is a small function returning a ``Check`` with a status and a sentence a person can
act on. Checks repair nothing: no migrations run and no warehouse is created or opened for
writing, so what doctor reports is the state the next command will find. When a server runs it
owns the warehouse files, so warehouse checks go through its API instead of opening the files, and
the figures it reports on ``/metrics`` (ingest, loader lag, jobs, imports) are summed up in one check.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shutil
import socket
import ssl
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb
import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, make_url, text

from ecomops.ingest import service as ingest
from ecomops.kernel.errors import EcomopsError
from ecomops.platform import tenants as tenant_registry
from ecomops.platform.client import ServerClient, ServerError, tenant_path
from ecomops.platform.context import TenantInfo
from ecomops.platform.server import ServerInfo, running_server
from ecomops.platform.settings import Settings
from ecomops.platform.store.db import engine_for
from ecomops.platform.store.migrate import current_revision, head_revision
from ecomops.platform.store.rls import role_bypasses_rls, tables_without_rls
from ecomops.platform.warehouse.connection import connect, warehouse_path
from ecomops.platform.warehouse.schema import applied_versions, expected_versions

#: Below this much free space at the data dir, ingest and imports will soon fail: an error.
DISK_FAIL_BYTES = 512 * 1024**2
#: Below this, a warning so there is time to act.
DISK_WARN_BYTES = 2 * 1024**3
#: ibis 12 + sqlglot >= 30.18 breaks ``create_table`` on DuckDB (ARCHITECTURE.md, known pitfalls).
SQLGLOT_BROKEN_FROM = (30, 18)
MIN_PYTHON = (3, 11)
NETWORK_TIMEOUT_SECONDS = 3.0
#: Acknowledged events older than this and still not in the warehouse: the loader is falling behind.
LOADER_LAG_WARN_SECONDS = 60.0

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*$")


class Status(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"
    skip = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status is not Status.fail for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {"name": c.name, "status": c.status.value, "detail": c.detail, "data": c.data}
                for c in self.checks
            ],
        }


def _version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric release parts of a version string ("30.17.0" → (30, 17, 0), "2.0.0rc1" → (2, 0, 0))."""
    parts: list[int] = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
        if digits.group() != piece:
            break
    return tuple(parts)


def check_python() -> Check:
    version = ".".join(str(v) for v in sys.version_info[:3])
    data = {"version": version, "executable": sys.executable}
    if sys.version_info[:2] < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return Check("python", Status.fail, f"Python {version}; ecomops needs {need} or newer", data)
    return Check("python", Status.ok, f"Python {version}", data)


def pinned_requirements(distribution: str = "ecomops") -> dict[str, str]:
    """The exact ``name==version`` pins of a distribution's runtime requirements (extras excluded)."""
    pins: dict[str, str] = {}
    for requirement in importlib.metadata.requires(distribution) or []:
        if ";" in requirement:  # environment markers: extras such as [dev] or platform-specific deps
            continue
        match = _PIN.match(requirement)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def check_packages() -> Check:
    """Installed versions against the exact pins, so "works on my machine" drift shows up here."""
    try:
        pins = pinned_requirements()
        own_version = importlib.metadata.version("ecomops")
    except importlib.metadata.PackageNotFoundError:
        return Check("packages", Status.warn, "ecomops is not installed as a package; cannot compare pins")
    installed: dict[str, str | None] = {}
    for name in pins:
        try:
            installed[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed[name] = None
    missing = sorted(n for n, v in installed.items() if v is None)
    drift = sorted(
        f"{n} {installed[n]} (pinned {pins[n]})" for n, v in installed.items() if v and v != pins[n]
    )
    data = {"ecomops": own_version, "installed": installed, "pinned": pins}
    if missing:
        return Check("packages", Status.fail, f"missing: {', '.join(missing)}", data)
    if drift:
        return Check("packages", Status.warn, f"differ from pins: {', '.join(drift)}", data)
    return Check("packages", Status.ok, f"ecomops {own_version}; {len(pins)} pinned packages match", data)


def check_sqlglot() -> Check:
    try:
        version = importlib.metadata.version("sqlglot")
    except importlib.metadata.PackageNotFoundError:
        return Check("sqlglot", Status.fail, "sqlglot is not installed (needed by ibis and `ecomops query`)")
    data = {"version": version}
    if _version_tuple(version)[:2] >= SQLGLOT_BROKEN_FROM:
        broken = ".".join(map(str, SQLGLOT_BROKEN_FROM))
        return Check(
            "sqlglot",
            Status.fail,
            f"sqlglot {version}: ibis 12 + sqlglot >= {broken} breaks create_table on DuckDB; reinstall",
            data,
        )
    broken = ".".join(map(str, SQLGLOT_BROKEN_FROM))
    return Check("sqlglot", Status.ok, f"sqlglot {version} (below the known-broken {broken})", data)


def check_data_dir(settings: Settings) -> Check:
    """Write, fsync and remove a probe file: permissions, read-only mounts and full disks all show here."""
    path = settings.data_dir.expanduser().resolve()
    data = {"path": str(path)}
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".doctor-", dir=path)
        try:
            os.write(fd, b"ecomops doctor probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return Check("data dir", Status.fail, f"{path} is not writable: {exc}", data)
    exposed = _exposed_paths(path)
    if exposed:
        shown = ", ".join(str(p.relative_to(path)) or "." for p in exposed[:5])
        more = f" and {len(exposed) - 5} more" if len(exposed) > 5 else ""
        return Check(
            "data dir",
            Status.warn,
            f"{path} is writable, but other users may read it: {shown}{more}; "
            f"fix with `chmod -R go-rwx {path}`",
            {**data, "exposed": [str(p) for p in exposed]},
        )
    return Check("data dir", Status.ok, f"{path} is writable and private to its owner", data)


#: Walking a huge imports folder must not make doctor slow: the first entries tell enough.
_PERMISSION_SCAN_LIMIT = 20_000


def _exposed_paths(root: Path) -> list[Path]:
    """The data dir and what it holds that group or others may read, write or enter (it holds the
    store, every warehouse, WAL segments, uploaded files and key files)."""
    exposed = []
    seen = 0
    for folder, _dirs, files in os.walk(root):
        for entry in (Path(folder), *(Path(folder) / f for f in files)):
            seen += 1
            with contextlib.suppress(OSError):
                mode = entry.lstat().st_mode
                if mode & 0o077 and not stat.S_ISLNK(mode):
                    exposed.append(entry)
        if seen > _PERMISSION_SCAN_LIMIT:
            break
    return exposed


def check_disk(settings: Settings) -> Check:
    path = settings.data_dir.expanduser().resolve()
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
    usage = shutil.disk_usage(probe)
    data = {"path": str(probe), "free_bytes": usage.free, "total_bytes": usage.total}
    free_gib = usage.free / 1024**3
    detail = f"{free_gib:.1f} GiB free of {usage.total / 1024**3:.1f} GiB at {probe}"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", Status.fail, detail + f" (need at least {DISK_FAIL_BYTES // 1024**2} MiB)", data)
    if usage.free < DISK_WARN_BYTES:
        return Check("disk", Status.warn, detail + " (running low)", data)
    return Check("disk", Status.ok, detail, data)


def _safe_url(url: str) -> str:
    """The URL with any password masked, fit for printing."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is reported by the connection attempt itself
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def check_store(engine: Engine, url: str) -> Check:
    """Connect, then compare the Alembic revision with the code's head (no migration is run)."""
    data: dict[str, Any] = {"url": _safe_url(url), "dialect": engine.dialect.name}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if engine.dialect.name == "sqlite":
                mode = conn.execute(text("PRAGMA journal_mode")).scalar()
                data["journal_mode"] = str(mode)
        revision, head = current_revision(engine), head_revision(engine)
    except Exception as exc:  # doctor reports every failure instead of raising it
        return Check("store", Status.fail, f"cannot use {data['url']}: {exc}".splitlines()[0], data)
    data.update(revision=revision, head=head)
    if revision is None:
        return Check(
            "store",
            Status.fail,
            "not initialised: run any ecomops command such as `ecomops tenant list`, or `ecomops serve`",
            data,
        )
    if revision != head:
        return Check(
            "store",
            Status.fail,
            f"schema at revision {revision}, code expects {head}: start `ecomops serve` to migrate",
            data,
        )
    return Check("store", Status.ok, f"{engine.dialect.name} at revision {revision} (head)", data)


def check_postgresql(engine: Engine) -> Check:
    if engine.dialect.name != "postgresql":
        return Check("postgresql", Status.skip, f"not used (store is {engine.dialect.name})")
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            schema = conn.execute(text("SELECT current_schema()")).scalar()
        latency_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:  # reported, not raised
        return Check("postgresql", Status.fail, f"unreachable: {exc}".splitlines()[0])
    data = {"server_version": str(version), "schema": str(schema), "latency_ms": round(latency_ms, 1)}
    return Check("postgresql", Status.ok, f"PostgreSQL {version}, schema {schema}, {latency_ms:.0f} ms", data)


def check_tenant_isolation(engine: Engine) -> Check:
    """PostgreSQL row-level security only protects when the store connects as an ordinary role.

    Superusers and BYPASSRLS roles ignore every policy (FORCE included), so tenant isolation would
    rest on the session scope alone: a warning, with the fix. Tenant tables missing their policy
    (an unmigrated store, or a table added without ``enable_tenant_rls``) warn too.
    """
    if engine.dialect.name != "postgresql":
        return Check(
            "tenant isolation",
            Status.skip,
            f"{engine.dialect.name} has no row-level security; the session scope (store.scoping) isolates",
        )
    try:
        with engine.connect() as conn:
            role = role_bypasses_rls(conn)
            unprotected = tables_without_rls(conn)
    except Exception as exc:  # reported, not raised
        return Check(
            "tenant isolation", Status.fail, f"cannot inspect roles and policies: {exc}".splitlines()[0]
        )
    data: dict[str, Any] = {**role, "tables_without_rls": unprotected}
    problems = []
    if role["superuser"] or role["bypassrls"]:
        why = "a superuser" if role["superuser"] else "a role with BYPASSRLS"
        problems.append(
            f"the store connects as {role['role']!r}, {why}, so row-level security is ignored; "
            "connect as an ordinary role (docs/security.md, Tenant isolation)"
        )
    if unprotected:
        problems.append(f"tenant tables without forced row-level security: {', '.join(unprotected)}")
    if problems:
        return Check("tenant isolation", Status.warn, "; ".join(problems), data)
    return Check(
        "tenant isolation",
        Status.ok,
        f"role {role['role']!r} is bound by row-level security on every tenant table",
        data,
    )


class RedisError(Exception):
    pass


def _redis_command(stream: Any, *args: str) -> Any:
    """Send one command in RESP and read one reply (enough protocol for AUTH, SELECT, PING and INFO)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    stream.write(payload.encode())
    stream.flush()
    line = stream.readline()
    if not line:
        raise RedisError("connection closed by server")
    kind, body = line[:1], line[1:].rstrip(b"\r\n").decode(errors="replace")
    if kind == b"+":
        return body
    if kind == b"-":
        raise RedisError(body)
    if kind == b":":
        return int(body)
    if kind == b"$":
        length = int(body)
        if length < 0:
            return None
        return stream.read(length + 2)[:-2].decode(errors="replace")
    raise RedisError(f"unexpected reply {line[:40]!r}")


def redis_ping(url: str, timeout: float = NETWORK_TIMEOUT_SECONDS) -> dict[str, Any]:
    """PING a Redis server (with AUTH and database selection from the URL); returns its version."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RedisError(f"unsupported scheme {parts.scheme!r}; use redis:// or rediss://")
    host, port = parts.hostname or "localhost", parts.port or 6379
    sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
    try:
        if parts.scheme == "rediss":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        with sock.makefile("rwb") as stream:
            if parts.password is not None:
                user = unquote(parts.username) if parts.username else None
                auth = ("AUTH", user, unquote(parts.password)) if user else ("AUTH", unquote(parts.password))
                _redis_command(stream, *auth)
            db = parts.path.lstrip("/")
            if db:
                _redis_command(stream, "SELECT", db)
            started = time.perf_counter()
            if _redis_command(stream, "PING") != "PONG":
                raise RedisError("PING was not answered with PONG")
            latency_ms = (time.perf_counter() - started) * 1000
            info = _redis_command(stream, "INFO", "server") or ""
    finally:
        sock.close()
    version = next(
        (ln.split(":", 1)[1] for ln in str(info).splitlines() if ln.startswith("redis_version:")), "?"
    )
    return {"version": version.strip(), "latency_ms": round(latency_ms, 1)}


def check_redis(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("redis", Status.skip, "not configured (ECOMOPS_REDIS_URL unset; jobs run in-process)")
    target = _safe_url(settings.redis_url)
    try:
        info = redis_ping(settings.redis_url)
    except (OSError, RedisError, ValueError) as exc:
        return Check("redis", Status.fail, f"{target}: {exc}", {"url": target})
    return Check(
        "redis",
        Status.ok,
        f"Redis {info['version']} at {target}, PING {info['latency_ms']} ms",
        {"url": target, **info},
    )


def check_server(server: ServerInfo | None) -> Check:
    """The server's own readiness report, if one owns this data dir.

    A plain GET rather than ``ServerClient``: /readyz is a public probe whose 503 carries the failing
    checks in its own shape, not the API's error shape the client decodes.
    """
    if server is None:
        return Check("server", Status.skip, "not running; warehouses are checked by opening their files")
    try:
        response = httpx.get(server.url + "/readyz", timeout=NETWORK_TIMEOUT_SECONDS)
        payload = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Check("server", Status.fail, f"{server.url}/readyz did not answer: {exc}", {"url": server.url})
    data = {"url": server.url, "pid": server.pid, "readyz": payload}
    if response.status_code != 200:
        failing = [name for name, c in (payload.get("checks") or {}).items() if not c.get("ok")]
        return Check(
            "server", Status.fail, f"{server.url} not ready: {', '.join(failing) or 'unknown'}", data
        )
    return Check("server", Status.ok, f"ready at {server.url} (pid {server.pid})", data)


def _samples(text_format: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> (labels, value) of a Prometheus text exposition."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text_format):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def server_figures(text_format: str) -> dict[str, Any]:
    """The key figures of a server's ``/metrics``: ingest totals over tenants, backlog and lag, job
    failures, imports."""
    samples = _samples(text_format)

    def total(name: str, **match: str) -> float:
        return sum(
            v for labels, v in samples.get(name, []) if all(labels.get(k) == w for k, w in match.items())
        )

    job_failures = {
        labels["job"]: int(value) for labels, value in samples.get("ecomops_job_failures_total", []) if value
    }
    lags = [value for _, value in samples.get("ecomops_ingest_loader_lag_seconds", [])]
    dropped = {
        labels["tenant"]: int(value)
        for labels, value in samples.get("ecomops_ingest_dead_letters_dropped_total", [])
        if value
    }
    backlogs = {labels["tenant"]: int(v) for labels, v in samples.get("ecomops_ingest_wal_backlog_bytes", [])}
    tenant_lags = {labels["tenant"]: v for labels, v in samples.get("ecomops_ingest_loader_lag_seconds", [])}
    return {
        "wal_backlog_by_tenant": {t: b for t, b in backlogs.items() if b},
        "loader_lag_by_tenant": {t: v for t, v in tenant_lags.items() if v},
        "backlog_max_bytes": int(total("ecomops_ingest_backlog_max_bytes")),
        "backlog_max_seconds": total("ecomops_ingest_backlog_max_seconds"),
        "wal_disk_free_bytes": int(total("ecomops_ingest_wal_disk_free_bytes")),
        "ingest_accepted": int(total("ecomops_ingest_events_total", outcome="accepted")),
        "ingest_rejected": int(total("ecomops_ingest_events_total", outcome="rejected")),
        "ingest_deduplicated": int(total("ecomops_ingest_events_total", outcome="deduplicated")),
        "ingest_queue_events": int(total("ecomops_ingest_queue_events")),
        "wal_backlog_bytes": int(total("ecomops_ingest_wal_backlog_bytes")),
        "dead_letters_dropped": dropped,
        "loader_lag_seconds": max(lags, default=0.0),
        "job_failures": job_failures,
        "import_jobs_running": int(total("ecomops_import_jobs_running")),
        "import_jobs_queued": int(total("ecomops_import_jobs_queued")),
        "import_jobs_failed": int(total("ecomops_import_jobs_finished_total", status="failed")),
    }


def _backlog_problems(figures: dict[str, Any]) -> list[str]:
    """Tenants past half of their backlog budget: ingest answers them 429 at the full budget."""
    problems = []
    max_bytes, max_seconds = figures["backlog_max_bytes"], figures["backlog_max_seconds"]
    for tenant, backlog in sorted(figures["wal_backlog_by_tenant"].items()):
        lag = figures["loader_lag_by_tenant"].get(tenant, 0.0)
        if (max_bytes and backlog > max_bytes / 2) or (max_seconds and lag > max_seconds / 2):
            problems.append(
                f"tenant {tenant} has {backlog / 2**20:.0f} MB / {lag:.0f} s of events not loaded yet, "
                f"past half of its backlog budget ({max_bytes / 2**20:.0f} MB / {max_seconds:.0f} s; "
                "then its ingest answers 429)"
            )
    return problems


def check_server_metrics(server: ServerInfo | None) -> Check:
    """What the running server reports on ``/metrics`` (doctor is local, so it may read them)."""
    if server is None:
        return Check("server metrics", Status.skip, "no server running")
    try:
        exposition = ServerClient(server, timeout=NETWORK_TIMEOUT_SECONDS).raw("GET", "/metrics")
        figures = server_figures(exposition.decode())
    except (ServerError, ValueError) as exc:
        message = exc.message if isinstance(exc, ServerError) else str(exc)
        return Check("server metrics", Status.warn, f"{server.url}/metrics unreadable: {message}")
    failures = figures["job_failures"]
    detail = (
        f"ingest {figures['ingest_accepted']} accepted, {figures['ingest_rejected']} rejected, "
        f"{figures['ingest_deduplicated']} deduplicated; WAL backlog {figures['wal_backlog_bytes']} B, "
        f"loader lag {figures['loader_lag_seconds']:.1f} s; imports {figures['import_jobs_running']} "
        f"running, {figures['import_jobs_queued']} queued, {figures['import_jobs_failed']} failed; "
        f"{sum(failures.values())} failed job runs"
    )
    problems = []
    if figures["loader_lag_seconds"] > LOADER_LAG_WARN_SECONDS:
        problems.append(f"the ingest loader is {figures['loader_lag_seconds']:.0f} s behind")
    problems += _backlog_problems(figures)
    if figures["dead_letters_dropped"]:
        tenants_over = ", ".join(f"{t} ({n})" for t, n in sorted(figures["dead_letters_dropped"].items()))
        problems.append(f"dead letters dropped at the dead-letter quota: {tenants_over}")
    if failures:
        jobs = ", ".join(f"{job} ({count})" for job, count in sorted(failures.items()))
        problems.append(f"job runs failed since the server started: {jobs}; the server log names the tenants")
    if problems:
        return Check("server metrics", Status.warn, "; ".join(problems) + f" ({detail})", figures)
    return Check("server metrics", Status.ok, detail, figures)


def check_ingest_log(settings: Settings, slugs: dict[str, str]) -> Check:
    """Cluster mode: is the shared ingest log durable and reachable, and how far behind is each loader?"""
    if not settings.ingest_log:
        return Check("ingest log", Status.skip, "embedded mode (ECOMOPS_INGEST_LOG unset)")
    try:
        backlogs = ingest.log_backlog(settings)
    except ingest.LogUnusable as exc:
        return Check("ingest log", Status.fail, f"{_safe_url(settings.ingest_log)}: {exc}")
    detail = ", ".join(
        f"{slugs.get(b.tenant_id, b.tenant_id)} {b.entries} entries ({b.oldest_age_seconds:.1f} s)"
        for b in backlogs
    )
    figures = {
        slugs.get(b.tenant_id, b.tenant_id): {"entries": b.entries, "lag_seconds": b.oldest_age_seconds}
        for b in backlogs
    }
    behind = [slug for slug, f in figures.items() if f["lag_seconds"] > LOADER_LAG_WARN_SECONDS]
    if behind:
        return Check(
            "ingest log",
            Status.warn,
            f"the loaders of {', '.join(behind)} are more than {LOADER_LAG_WARN_SECONDS:.0f} s behind "
            f"(is a loader running for each shard?): {detail}",
            figures,
        )
    return Check("ingest log", Status.ok, f"backlog per tenant: {detail or 'none'}", figures)


_VERSION_SQL = "SELECT module, max(version) AS version FROM _module_migrations GROUP BY module"


def check_warehouse(settings: Settings, tenant: TenantInfo, server: ServerInfo | None) -> Check:
    """Schema versions of one tenant warehouse (per module): via the server that owns it, else read-only
    from the file."""
    name = f"warehouse {tenant.slug}"
    latest = expected_versions()
    path = warehouse_path(settings.warehouse_dir(), tenant.id)
    data: dict[str, Any] = {"tenant": tenant.slug, "path": str(path), "latest": latest}
    if server is not None:
        try:
            answer = ServerClient(server, timeout=30.0).call(
                "POST", tenant_path(tenant.slug, "query"), json={"sql": _VERSION_SQL, "limit": 1000}
            )
            version = {str(row[0]): int(row[1]) for row in answer["rows"]}
        except (EcomopsError, KeyError, IndexError, TypeError, ValueError) as exc:
            message = exc.message if isinstance(exc, EcomopsError) else repr(exc)
            return Check(name, Status.fail, f"server could not read it: {message}", data)
        data["via"] = "server"
    else:
        if not path.exists():
            return Check(name, Status.warn, "no warehouse file yet (created on first use)", data)
        try:
            con = connect(path, read_only=True)
            try:
                version = applied_versions(con)
            finally:
                con.close()
        except duckdb.Error as exc:
            return Check(name, Status.fail, f"cannot open {path.name}: {exc}".splitlines()[0], data)
        data["via"] = "file"
        data["size_bytes"] = path.stat().st_size
    data["version"] = version
    behind = {m: (version.get(m, 0), v) for m, v in latest.items() if version.get(m, 0) < v}
    if behind:
        described = ", ".join(f"{m} {have} of {want}" for m, (have, want) in sorted(behind.items()))
        return Check(
            name, Status.fail, f"schema behind ({described}): start `ecomops serve` to migrate", data
        )
    return Check(name, Status.ok, f"schema current ({len(latest)} modules)", data)


def _guarded(name: str, fn: Callable[[], Check]) -> Check:
    """A bug in one check must not hide the others' results."""
    try:
        return fn()
    except Exception as exc:  # reported as that check's failure
        return Check(name, Status.fail, f"check crashed: {type(exc).__name__}: {exc}")


def run_checks(settings: Settings, server: ServerInfo | None = None, *, detect_server: bool = True) -> Report:
    """Run every check; ``server`` defaults to the one found in the data dir's lock file."""
    checks = [
        _guarded("python", check_python),
        _guarded("packages", check_packages),
        _guarded("sqlglot", check_sqlglot),
        _guarded("data dir", lambda: check_data_dir(settings)),
        _guarded("disk", lambda: check_disk(settings)),
    ]
    if server is None and detect_server:
        try:
            server = running_server(settings)
        except OSError:
            server = None  # an unusable data dir, already reported by the check above
    engine: Engine | None = None
    try:
        url = settings.resolved_database_url
        engine = engine_for(url)
    except Exception as exc:  # e.g. the data dir holding the SQLite file cannot be created
        checks.append(Check("store", Status.fail, f"cannot locate the store: {exc}"))
    if engine is not None:
        store_engine = engine
        checks.append(_guarded("store", lambda: check_store(store_engine, url)))
        checks.append(_guarded("postgresql", lambda: check_postgresql(store_engine)))
        checks.append(_guarded("tenant isolation", lambda: check_tenant_isolation(store_engine)))
    checks.append(_guarded("redis", lambda: check_redis(settings)))
    checks.append(_guarded("server", lambda: check_server(server)))
    checks.append(_guarded("server metrics", lambda: check_server_metrics(server)))

    store_ok = any(c.name == "store" and c.status is Status.ok for c in checks)
    if engine is None or not store_ok:
        checks.append(Check("warehouses", Status.skip, "tenants unknown until the store check passes"))
        return Report(checks)
    tenants = tenant_registry.list_tenants(engine)
    slugs = {t.id: t.slug for t in tenants}
    checks.append(_guarded("ingest log", lambda: check_ingest_log(settings, slugs)))
    if not tenants:
        checks.append(Check("warehouses", Status.skip, "no tenants yet (`ecomops tenant create SLUG`)"))
    for tenant in tenants:
        checks.append(
            _guarded(f"warehouse {tenant.slug}", partial(check_warehouse, settings, tenant, server))
        )
    return Report(checks)
