"""Webhook delivery: signed POSTs to a local receiver, retries with backoff, and SSRF refusal."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from ecomops.alerts import service, webhook
from ecomops.alerts.models import AlertRule
from ecomops.alerts.results import Rule
from ecomops.alerts.service import RuleSpec
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import Warehouse
from tests.alerts.conftest import NOW, Receiver


def _fire(engine: Engine, settings: Settings, shop: Warehouse, tenant: TenantInfo) -> service.Evaluation:
    cur = shop.cursor()
    try:
        [result] = service.run_tenant(engine, settings, cur, tenant, NOW)
    finally:
        cur.close()
    return result


def _rule(engine: Engine, settings: Settings, tenant: TenantInfo, url: str) -> tuple[Rule, str]:
    rule = service.create_rule(
        engine,
        settings,
        tenant.id,
        RuleSpec(
            name="tmall low",
            metric="gmv",
            breakdown="channel",
            breakdown_value="tmall",
            condition="below",
            threshold=Decimal(5000),
            webhook_url=url,
        ),
    )
    secret = rule.webhook_secret
    assert secret is not None and secret.startswith("whsec_")
    return rule, secret


def test_delivery_is_signed_and_retried_after_a_500(
    engine: Engine, shop_settings: Settings, shop: Warehouse, tenant: TenantInfo, receiver: Receiver
) -> None:
    rule, secret = _rule(engine, shop_settings, tenant, receiver.url)
    receiver.statuses = [500]
    result = _fire(engine, shop_settings, shop, tenant)
    assert (result.status, result.delivery) == ("fired", "delivered")
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert webhook.verify(secret, headers[webhook.SIGNATURE_HEADER], body)
        assert headers[webhook.SIGNATURE_HEADER].startswith(f"t={headers[webhook.TIMESTAMP_HEADER]},v1=")
        assert not webhook.verify("whsec_wrong", headers[webhook.SIGNATURE_HEADER], body)
        assert not webhook.verify(secret, headers[webhook.SIGNATURE_HEADER], body + b" ")
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["type"] == "alert.firing" and payload["tenant"] == "acme"
    assert payload["rule"]["id"] == rule.id and payload["value"] == "1000.0000"
    assert payload["period"] == "2026-11-19" and payload["event_id"] == result.event_id
    [event] = service.list_events(engine, tenant.id)
    assert (event.status, event.attempts, event.response_status) == ("delivered", 2, 200)
    assert event.delivered_at is not None


def test_delivery_gives_up_after_max_attempts_and_not_on_a_400(
    engine: Engine, shop_settings: Settings, shop: Warehouse, tenant: TenantInfo, receiver: Receiver
) -> None:
    _rule(engine, shop_settings, tenant, receiver.url)
    receiver.statuses = [503] * 10
    result = _fire(engine, shop_settings, shop, tenant)
    assert result.delivery == "failed"
    [event] = service.list_events(engine, tenant.id)
    assert (event.attempts, event.response_status) == (shop_settings.alerts_webhook_max_attempts, 503)
    assert "HTTP 503" in (event.last_error or "")
    receiver.requests.clear()
    receiver.statuses = [400]
    outcome = webhook.deliver(receiver.url, "whsec_x", {"a": 1}, shop_settings)
    assert (outcome.ok, outcome.attempts, outcome.status_code) == (False, 1, 400)


def test_backoff_doubles_between_attempts(shop_settings: Settings, receiver: Receiver) -> None:
    waits: list[float] = []
    settings = shop_settings.model_copy(update={"alerts_webhook_backoff_seconds": 0.5})
    receiver.statuses = [500, 502, 200]
    outcome = webhook.deliver(receiver.url, "whsec_x", {"a": 1}, settings, sleep=waits.append)
    assert outcome.ok and outcome.attempts == 3 and waits == [0.5, 1.0]


def test_unreachable_receiver_is_a_recorded_failure(shop_settings: Settings) -> None:
    outcome = webhook.deliver("http://127.0.0.1:9/hook", "whsec_x", {"a": 1}, shop_settings)
    assert not outcome.ok and outcome.attempts == shop_settings.alerts_webhook_max_attempts
    assert outcome.status_code is None and "ConnectError" in (outcome.error or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed, match="non-public address") as info:
        webhook.check_url(url, allow_private=False)
    assert info.value.details["field"] == "webhook_url"


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("ftp://example.com/x", "https://"),
        ("https://user:pw@example.com/x", "credentials"),
        ("https:///x", "no host"),
        ("http://[::1/x", "not a valid URL"),
        ("http://exa mple.com/x", "spaces or control"),
        ("http://a..b/x", "does not resolve"),
    ],
)
def test_malformed_urls_are_refused(url: str, text: str) -> None:
    with pytest.raises(ValidationFailed, match=text):
        webhook.check_url(url, allow_private=False)


def test_public_address_passes_and_the_check_repeats_at_delivery(
    shop_settings: Settings, receiver: Receiver
) -> None:
    assert (
        webhook.check_url("https://93.184.216.34/hook", allow_private=False) == "https://93.184.216.34/hook"
    )
    strict = shop_settings.model_copy(update={"alerts_allow_private_webhooks": False})
    outcome = webhook.deliver(receiver.url, "whsec_x", {"a": 1}, strict)
    assert not outcome.ok and "non-public address" in (outcome.error or "")
    assert receiver.requests == []  # nothing was sent


def test_rule_with_a_private_url_is_refused_unless_allowed(
    engine: Engine, shop_settings: Settings, tenant: TenantInfo
) -> None:
    strict = shop_settings.model_copy(update={"alerts_allow_private_webhooks": False})
    with pytest.raises(ValidationFailed, match="non-public"):
        _rule(engine, strict, tenant, "http://127.0.0.1:1/hook")
    assert service.list_rules(engine, tenant.id) == []


def test_secret_is_sealed_at_rest_and_test_fire_delivers(
    engine: Engine, shop_settings: Settings, tenant: TenantInfo, receiver: Receiver
) -> None:
    rule, secret = _rule(engine, shop_settings, tenant, receiver.url)
    with tenant_session(engine, tenant.id) as session:
        sealed = session.scalar(select(AlertRule.webhook_secret).where(AlertRule.id == rule.id))
    assert sealed is not None and secret.encode() not in sealed
    result = service.test_fire(engine, shop_settings, tenant, rule.id)
    assert result.delivery == "delivered"
    [request] = receiver.requests
    assert webhook.verify(secret, request["headers"][webhook.SIGNATURE_HEADER], request["body"])
    assert json.loads(request["body"])["type"] == "alert.test"
    [event] = service.list_events(engine, tenant.id)
    assert (event.kind, event.status) == ("test", "delivered")
    rotated = service.update_rule(engine, shop_settings, tenant.id, rule.id, {}, rotate_secret=True)
    new_secret = rotated.webhook_secret
    assert new_secret and new_secret != secret and rotated.has_webhook_secret
    removed = service.update_rule(engine, shop_settings, tenant.id, rule.id, {"webhook_url": None})
    assert removed.webhook_secret is None and not removed.has_webhook_secret
    with pytest.raises(ValidationFailed, match="no webhook_url"):
        service.test_fire(engine, shop_settings, tenant, rule.id)
