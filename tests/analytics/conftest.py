"""Data for the metric tests: an Online Retail II slice imported into two tenants (Asia/Shanghai and
UTC) and a small seeded demo shop, each with the raw facts as pandas frames for the reference."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from ecomops.imports import jobs
from ecomops.imports.execution import run_job
from ecomops.imports.options import ImportOptions, InputFile
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import make_engine
from ecomops.platform.store.migrate import upgrade
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from ecomops.tenancy import service as tenancy
from tests.analytics.reference import Frames
from tests.datasets import ONLINE_RETAIL_YEAR1 as YEAR1
from tests.imports.retail_rules import CLASSES, link_cancellations

#: Nine December days of 2009 (for same-period-last-year) and 25 days of late 2010.
SLICES = (("2009-12-01", "2009-12-10"), ("2010-11-15", "2010-12-10"))
SHOP = SeedParams(days=60, customers=800, seed=11, end_date=date(2026, 11, 30))


@dataclass
class Shop:
    """A tenant with its warehouse open in this process and the raw facts as frames."""

    engine: Engine
    tenant: TenantInfo
    warehouse: Warehouse
    frames: Frames


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A data dir for the module (the per-test ``data_dir`` fixture is function-scoped)."""
    root = tmp_path_factory.mktemp("analytics")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMOPS_DATA_DIR", str(root))
        mp.delenv("ECOMOPS_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def module_engine(module_settings: Settings) -> Iterator[Engine]:
    eng = make_engine(module_settings.resolved_database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def write_slice(path: Path) -> pd.DataFrame:
    """The rows of the slices, written as a gzip CSV like the original; returns them as text."""
    df = pd.read_csv(YEAR1, dtype=str, keep_default_na=False)
    keep = pd.Series(False, index=df.index)
    for lo, hi in SLICES:
        keep |= (df["InvoiceDate"] >= lo) & (df["InvoiceDate"] < hi)
    part = df[keep]
    with gzip.open(path, "wt", compresslevel=1, encoding="utf-8", newline="") as fh:
        part.to_csv(fh, index=False)
    return part.reset_index(drop=True)


def retail_frames(df: pd.DataFrame) -> Frames:
    """docs/imports.md's Online Retail II rules applied to the raw rows with pandas: non-product lines
    are charges (shipping and discounts of an order's invoice go into its total), cancellations are
    linked to the sales they undo (``tests.imports.retail_rules``)."""
    df = df.copy()
    df["StockCode"] = df["StockCode"].str.strip()
    qty = df["Quantity"].astype("int64")
    price = (df["Price"].astype(float) * 10_000).round().astype("int64")
    df["qty"], df["price"] = qty, price
    cancel = df["Invoice"].str.startswith("C")
    kind = df["StockCode"].str.upper().map(CLASSES).fillna("product")
    product = kind == "product"
    valid = ~(product & ((~cancel & (qty <= 0)) | (price < 0) | (cancel & (qty >= 0))))
    ts = pd.to_datetime(df["InvoiceDate"]).dt.tz_localize("Europe/London").dt.tz_convert("UTC")
    sale, refund = valid & ~cancel & product, valid & cancel & product
    lines = pd.DataFrame(
        {
            "order_id": df.loc[sale, "Invoice"],
            "product_id": df.loc[sale, "StockCode"],
            "category": None,
            "quantity": qty[sale],
            "line_e4": (qty * price)[sale],
            "ts": ts[sale],
        }
    )
    heads = df[valid & ~cancel].replace("", None).groupby("Invoice", sort=False)[["Customer ID", "Country"]]
    heads = heads.first()  # first non-null, in file order
    grouped = lines.groupby("order_id", sort=False)
    orders = pd.DataFrame({"ts": grouped["ts"].min(), "goods_e4": grouped["line_e4"].sum()})
    charged = valid & ~product & kind.isin(["shipping", "discount"])
    extra = pd.DataFrame(
        {"order_id": df.loc[charged, "Invoice"], "kind": kind[charged], "e4": (qty * price)[charged]}
    )
    shipping = extra[extra["kind"] == "shipping"].groupby("order_id")["e4"].sum()
    discount = extra[extra["kind"] == "discount"].groupby("order_id")["e4"].sum()  # negative when given
    orders["total_e4"] = (
        orders["goods_e4"]
        + shipping.reindex(orders.index).fillna(0)
        + discount.reindex(orders.index).fillna(0)
    ).astype("int64")
    orders["merch_e4"] = (orders["goods_e4"] + discount.reindex(orders.index).fillna(0)).astype("int64")
    orders["customer_id"] = heads.loc[orders.index, "Customer ID"].to_numpy()
    orders["country"] = heads.loc[orders.index, "Country"].to_numpy()
    orders = orders.drop(columns="goods_e4").rename_axis("order_id").reset_index()
    orders["status"] = "paid"  # refunded/partially_refunded orders count the same in every metric
    orders["currency"] = "GBP"
    for col in ("anonymous_id", "channel", "utm_source", "utm_medium", "utm_campaign", "region", "device"):
        orders[col] = None
    pieces = link_cancellations(df, sale, refund)
    rows = df.loc[pieces["row"]]
    refunds = pd.DataFrame(
        {
            "order_id": pieces["order"].where(pieces["order"].notna(), rows["Invoice"].to_numpy()).to_numpy(),
            "product_id": rows["StockCode"].to_numpy(),
            "ts": ts.loc[pieces["row"]].to_numpy(),
            "amount_e4": (pieces["units"] * rows["price"].to_numpy()).to_numpy(),
            "quantity": pieces["units"].to_numpy(),
            "currency": "GBP",
            "country": rows["Country"].replace("", None).to_numpy(),
        }
    )
    empty_events = pd.DataFrame(columns=["ts", "type", "event", "anonymous_id", "user_id"])
    empty_spend = pd.DataFrame(
        columns=["date", "channel", "utm_source", "utm_medium", "utm_campaign", "spend_e4", "currency"]
    )
    products = pd.DataFrame({"product_id": pd.Series(dtype=str), "category": None, "cost_e4": None})
    return Frames(
        orders,
        lines[["order_id", "product_id", "category", "quantity", "line_e4"]],
        refunds,
        empty_events,
        empty_spend,
        products,
    )


@pytest.fixture(scope="module")
def retail(module_settings: Settings, module_engine: Engine) -> Iterator[dict[str, Shop]]:
    """The slice imported with the online-retail-ii preset into a Shanghai and a UTC tenant (GBP)."""
    path = module_settings.resolved_data_dir / "slice.csv.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = retail_frames(write_slice(path))
    shops: dict[str, Shop] = {}
    for slug, zone in (("retail-sh", "Asia/Shanghai"), ("retail-utc", "UTC")):
        tenant = tenancy.create_tenant(module_engine, slug, slug, zone, "GBP")
        warehouse = open_warehouse(module_settings.warehouse_dir(), tenant.id)
        job = jobs.create_job(module_engine, tenant.id, "online-retail-ii", [path.name], path.stat().st_size)
        run_job(
            settings=module_settings,
            engine=module_engine,
            warehouse=warehouse,
            tenant=tenant,
            job_id=job.id,
            files=[InputFile(path, path.name)],
            options=ImportOptions(preset="online-retail-ii"),
        )
        shops[slug] = Shop(module_engine, tenant, warehouse, frames)
    yield shops
    for shop in shops.values():
        shop.warehouse.close()


def _df(warehouse: Warehouse, sql: str) -> pd.DataFrame:
    cur = warehouse.cursor()
    try:
        return cur.execute(sql).fetchdf()
    finally:
        cur.close()


def shop_frames(warehouse: Warehouse) -> Frames:
    """The seeded shop's raw rows; money as integer units of 0.0001 so pandas sums are exact."""
    orders = _df(
        warehouse,
        "SELECT order_id, ordered_at AS ts, status, currency, CAST(total * 10000 AS BIGINT) AS total_e4, "
        "CAST((subtotal - discount) * 10000 AS BIGINT) AS merch_e4, customer_id, anonymous_id, channel, "
        "utm_source, utm_medium, utm_campaign, region, country, device FROM orders",
    )
    lines = _df(
        warehouse,
        "SELECT order_id, product_id, category, quantity, CAST(line_total * 10000 AS BIGINT) AS line_e4 "
        "FROM order_items",
    )
    refunds = _df(
        warehouse,
        "SELECT order_id, product_id, refunded_at AS ts, CAST(amount * 10000 AS BIGINT) AS amount_e4, "
        "coalesce(quantity, 0) AS quantity, currency FROM refunds",
    )
    events = _df(
        warehouse,
        "SELECT ts, type, event, anonymous_id, user_id, channel, utm_source, utm_campaign, region, country, "
        "device FROM events",
    )
    spend = _df(
        warehouse,
        "SELECT date, channel, utm_source, utm_medium, utm_campaign, "
        "CAST(spend * 10000 AS BIGINT) AS spend_e4, currency FROM ad_spend",
    )
    products = _df(
        warehouse, "SELECT product_id, category, CAST(cost * 10000 AS BIGINT) AS cost_e4 FROM products"
    )
    for frame in (orders, refunds, events):
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    orders = orders.astype({"customer_id": object, "anonymous_id": object})
    return Frames(orders, lines, refunds, events, spend, products)


@pytest.fixture(scope="module")
def shop(module_settings: Settings, module_engine: Engine) -> Iterator[Shop]:
    """A 60-day demo shop (Asia/Shanghai, CNY) seeded by the simulator."""
    tenant = tenancy.create_tenant(module_engine, "demo", "Demo", "Asia/Shanghai", "CNY")
    warehouse = open_warehouse(module_settings.warehouse_dir(), tenant.id)
    seed_demo(module_engine, warehouse, tenant, SHOP, module_settings.resolved_data_dir / "manifest.json")
    yield Shop(module_engine, tenant, warehouse, shop_frames(warehouse))
    warehouse.close()
