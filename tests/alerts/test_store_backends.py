"""Rules, sealed secrets and firings on both store backends (PostgreSQL with row-level security)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine

from ecomops.alerts import service, webhook
from ecomops.alerts.service import RuleSpec
from ecomops.kernel.errors import NotFound
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.alerts.conftest import Receiver
from tests.backends import empty_store_engine, pg_schema_url, store_engine, store_url

__all__ = ["empty_store_engine", "pg_schema_url", "store_engine", "store_url"]


def test_rules_and_firings_stay_inside_their_tenant(
    store_engine: Engine, shop_settings: Settings, receiver: Receiver
) -> None:
    a = tenancy.create_tenant(store_engine, "alpha", "Alpha", "UTC", "USD")
    b = tenancy.create_tenant(store_engine, "beta", "Beta", "UTC", "USD")
    spec = RuleSpec(name="floor", metric="gmv", threshold=Decimal(100), webhook_url=receiver.url)
    rule = service.create_rule(store_engine, shop_settings, a.id, spec)
    secret = rule.webhook_secret
    service.create_rule(
        store_engine, shop_settings, b.id, RuleSpec(name="floor", metric="aov", threshold=Decimal(1))
    )
    result = service.test_fire(store_engine, shop_settings, a, rule.id)
    assert result.delivery == "delivered" and secret is not None
    assert webhook.verify(
        secret, receiver.requests[0]["headers"][webhook.SIGNATURE_HEADER], receiver.requests[0]["body"]
    )
    assert [r.metric for r in service.list_rules(store_engine, a.id)] == ["gmv"]
    assert [r.metric for r in service.list_rules(store_engine, b.id)] == ["aov"]
    assert len(service.list_events(store_engine, a.id)) == 1 and service.list_events(store_engine, b.id) == []
    with pytest.raises(NotFound):
        service.get_rule(store_engine, b.id, rule.id)
    with pytest.raises(NotFound):
        service.delete_rule(store_engine, b.id, rule.id)
    assert sorted(service.tenants_with_enabled_rules(store_engine)) == sorted([a.id, b.id])
    service.delete_rule(store_engine, a.id, rule.id)
    assert service.list_events(store_engine, a.id) == []  # firings go with their rule
