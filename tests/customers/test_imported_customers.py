"""Imported buyers: the warehouse gets a keyed pseudonym, the vault the address (encrypted), so the
customers API finds them by email and shows them masked."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ecomops.customers import service
from ecomops.customers.results import PiiView
from ecomops.imports import jobs
from ecomops.imports.execution import run_job
from ecomops.imports.options import ImportOptions, InputFile
from ecomops.platform.context import TenantInfo
from ecomops.platform.crypto.keyring import keyring
from ecomops.platform.crypto.pseudonym import pseudonymize_email
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.privacy import vault
from ecomops.privacy.models import CustomerPII

EXPORT = Path(__file__).resolve().parents[1] / "imports" / "fixtures" / "shopify_orders_export.csv"


def test_shopify_emails_go_to_the_vault_under_their_pseudonym(
    settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    job = jobs.create_job(engine, tenant.id, "shopify", [EXPORT.name], EXPORT.stat().st_size)
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        run_job(
            settings=settings,
            engine=engine,
            warehouse=wh,
            tenant=tenant,
            job_id=job.id,
            files=[InputFile(EXPORT, EXPORT.name)],
            options=ImportOptions(preset="shopify"),
        )
        alice = pseudonymize_email(keyring(engine).pseudonym_key(tenant.id), "alice@example.com")
        assert wh.query("SELECT DISTINCT customer_id FROM orders WHERE customer_id = ?", [alice]) == [
            (alice,)
        ]
        order_customers = {
            r[0] for r in wh.query("SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL")
        }
        cur = wh.cursor()
        try:
            page = service.list_customers(cur, engine, tenant.id, email="ALICE@example.com")
        finally:
            cur.close()
    finally:
        wh.close()
    with tenant_session(engine, tenant.id) as s:
        stored = vault.get_pii(s, tenant.id, alice)
        # Two spellings of one address are one customer; the vault keeps the last one seen, as typed.
        assert stored is not None and stored["email"].lower() == "alice@example.com"
        in_vault = {row.customer_id for row in s.query(CustomerPII)}
    # Every pseudonymous buyer of the import can be looked up in the vault (guests have no address).
    assert in_vault == order_customers and len(in_vault) >= 2
    masked = vault.mask("email", stored["email"])
    assert [(i.customer_id, i.pii) for i in page.items] == [(alice, PiiView(email=masked))]
