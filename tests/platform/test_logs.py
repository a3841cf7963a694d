"""Server logs: JSON lines carrying the request id, tenant and route; one access line per request;
``ecomops serve --log-level/--log-format`` and ``ECOMOPS_LOG_*``."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from ecomops.platform.jobs import scheduler_of
from ecomops.platform.observability.logs import JsonFormatter, LogFields, TextFormatter, bound
from ecomops.platform.settings import Settings, get_settings
from ecomops.privacy import retention
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, start_server
from tests.timing import DEADLINE, wait_until


def _record(message: str, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("ecomops.test", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_the_fields_of_its_unit_of_work_and_its_extras() -> None:
    fields = LogFields(request_id="req_1", method="POST", tenant="acme", extra={"job": "nightly"})
    with bound(fields):
        line = json.loads(JsonFormatter().format(_record("hello %s", status=201, where=Path("/srv/data"))))
    assert line.pop("timestamp").endswith("Z")
    assert line == {
        "level": "warning",
        "logger": "ecomops.test",
        "message": "hello %s",
        "request_id": "req_1",
        "tenant": "acme",
        "method": "POST",
        "job": "nightly",
        "status": 201,
        "where": "/srv/data",  # not a JSON type: its text
    }
    outside = json.loads(JsonFormatter().format(_record("bye", tenant="other")))
    assert "request_id" not in outside and outside["tenant"] == "other"


def test_exceptions_and_text_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("ecomops.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "error" and "ValueError: boom" in line["exception"]
    with bound(LogFields(request_id="req_2", tenant="acme")):
        text = TextFormatter().format(_record("plain", status=404))
    assert text.split(" ", 1)[1] == "WARNING ecomops.test: plain  request_id=req_2 tenant=acme status=404"


@pytest.fixture
def access_lines(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """JSON lines of every record at info or above, formatted in the thread that wrote them."""
    caplog.set_level(logging.INFO)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


def _lines(out: io.StringIO, logger: str = "ecomops.access") -> list[dict[str, Any]]:
    lines = [json.loads(raw) for raw in out.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == logger]


def test_one_access_line_per_request_with_id_tenant_and_route(
    access_lines: io.StringIO, server: InProcServer, engine: Engine
) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "admin")
    with server.client() as ingest:
        sent = ingest.post(
            "/v1/track",
            json={"event": "A", "userId": "u", "messageId": "m1"},
            headers={"X-Request-ID": "trace-ingest-1"},
        )
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as client:
        read = client.get("/api/v1/t/acme/ingest/dead-letters", headers={"Authorization": f"Bearer {key}"})
        stranger = client.get("/api/v1/t/acme/ingest/dead-letters", headers={"Authorization": "Bearer nope"})
        missing = client.get("/no/such/page?token=secret")
    answers = [sent, read, stranger, missing]
    lines = wait_until(lambda: len(_lines(access_lines)) >= 4 and _lines(access_lines), "four access lines")
    assert len(lines) == 4
    expected = [
        ("POST", "/v1/track", "/v1/track", 200, "acme"),
        ("GET", "/api/v1/t/{tenant}/ingest/dead-letters", "/api/v1/t/acme/ingest/dead-letters", 200, "acme"),
        ("GET", "/api/v1/t/{tenant}/ingest/dead-letters", "/api/v1/t/acme/ingest/dead-letters", 401, None),
        ("GET", "unrouted", "/no/such/page", 404, None),
    ]
    for line, answer, (method, route, path, status, tenant) in zip(lines, answers, expected, strict=True):
        assert line["request_id"] == answer.headers["x-request-id"]
        assert (line["method"], line["route"], line["path"], line["status"]) == (method, route, path, status)
        assert line.get("tenant") == tenant  # only once authenticated
        assert line["client_ip"] == "127.0.0.1" and line["duration_ms"] >= 0
        assert line["level"] == "info" and line["message"] == f"{method} {path} {status}"
    assert lines[0]["request_id"] == "trace-ingest-1"
    assert "secret" not in json.dumps(lines)  # query strings may carry tokens: never logged


def test_a_job_pass_logs_with_its_tenant_and_job(
    access_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch, server: InProcServer
) -> None:
    retention.set_policy(
        server.state.engine,
        server.tenant.id,
        events_days=None,
        events_action="anonymise",
        dead_letters_days=365,
        reject_files_days=None,
    )

    def noisy(*args: object) -> dict[str, int]:
        logging.getLogger("ecomops.privacy.test").warning("sweeping")
        return {}

    monkeypatch.setattr(retention, "run_retention", noisy)
    schedule = scheduler_of(server.state).schedule("privacy.retention")
    passes = schedule.passes
    schedule.tick()
    assert schedule.wait_for_passes(passes + 1, DEADLINE)
    [line] = _lines(access_lines, "ecomops.privacy.test")
    assert (line["message"], line["tenant"], line["job"]) == ("sweeping", "acme", "privacy.retention")
    assert "request_id" not in line


def test_log_settings_are_checked_and_case_blind(data_dir: Path) -> None:
    assert (Settings().log_level, Settings().log_format) == ("info", "json")
    assert Settings(log_level="WARNING", log_format="Text").log_level == "warning"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="log_level"):
        Settings(log_level="verbose")  # type: ignore[arg-type]


def _post(url: str, key: str, rid: str) -> httpx.Response:
    answer = httpx.post(
        url + "/v1/track",
        json={"event": "A", "userId": "u", "messageId": rid},
        auth=(key, ""),
        headers={"X-Request-ID": rid},
        timeout=DEADLINE,
    )
    assert answer.status_code == 200
    return answer


@pytest.mark.slow
def test_serve_logs_json_lines_at_info_by_default(data_dir: Path, engine: Engine, tenant: object) -> None:
    _, key = tenancy.create_source(engine, "acme", "site", "web")
    server = start_server(data_dir)
    try:
        _post(server.url, key, "default-json-1")
    finally:
        server.stop()
    lines = [json.loads(raw) for raw in server.log_lines()]  # every line is JSON
    [access] = [line for line in lines if line.get("request_id") == "default-json-1"]
    assert (access["logger"], access["tenant"], access["route"], access["status"]) == (
        "ecomops.access",
        "acme",
        "/v1/track",
        200,
    )
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # uvicorn's lines, same shape
    stamp = datetime.fromisoformat(access["timestamp"])
    assert abs((stamp - datetime.now(UTC)).total_seconds()) < 10 * DEADLINE


@pytest.mark.slow
def test_log_level_option_and_text_format_setting(data_dir: Path, engine: Engine, tenant: object) -> None:
    _, key = tenancy.create_source(engine, "acme", "site", "web")
    quiet = start_server(data_dir, args=("--log-level", "WARNING"))
    try:
        _post(quiet.url, key, "quiet-1")
    finally:
        quiet.stop()
    assert quiet.log_lines() == []  # nothing at warning or above; no access lines

    get_settings.cache_clear()
    text = start_server(data_dir, extra_env={"ECOMOPS_LOG_FORMAT": "text"})
    try:
        _post(text.url, key, "text-1")
    finally:
        text.stop()
    [line] = [line for line in text.log_lines() if "request_id=text-1" in line]
    assert (
        " INFO    ecomops.access: POST /v1/track 200  request_id=text-1 tenant=acme route=/v1/track" in line
    )
