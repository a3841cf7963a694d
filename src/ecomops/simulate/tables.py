"""Arrow tables of the simulation, one per warehouse table plus the session and product dimensions the
insert statements join. Columns stay numeric or dictionary-encoded; ids and JSON are built in SQL."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow as pa

from ecomops.simulate.arrowutil import categorical, money, nullable, timestamps
from ecomops.simulate.calendar import US_PER_SECOND
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.competitors import COMPETITORS, OBSERVED_AT_SECONDS
from ecomops.simulate.coupons import ALL_COUPONS
from ecomops.simulate.generate import Simulation
from ecomops.simulate.geo import WAREHOUSES
from ecomops.simulate.hotspots import ELEMENTS
from ecomops.simulate.live import HOSTS
from ecomops.simulate.marketing import CAMPAIGNS
from ecomops.simulate.orders import ORDER_STATUSES, PAYMENT_METHODS
from ecomops.simulate.params import component_rng
from ecomops.simulate.people import AGE_BANDS, GENDERS
from ecomops.simulate.returns import REASONS
from ecomops.simulate.reviews import LANGUAGES
from ecomops.simulate.traffic import CHANNELS, DEVICES, LOCALES, OS_NAMES, PAGE_TYPES, REFERRERS, SCREENS

CHANNEL_SITES = (
    "https://www.demo-shop.cn",
    "wxapp://demo-shop",
    "https://haohuo.jinritemai.com/demo-shop",
    "https://demo-shop.tmall.com",
    "https://mall.jd.com/demo-shop",
)
#: Order number prefixes of the marketplaces (own channels have no external id).
EXTERNAL_PREFIX = ("", "", "DY", "TM", "JD")
MEMBER_LEVELS = ("regular", "silver", "gold")


def product_ids(n: int) -> list[str]:
    return [f"sim_p{i:04d}" for i in range(n)]


def products_table(sim: Simulation) -> pa.Table:
    """Catalogue rows: Chinese product names (the shop's language), English ones in ``attributes``."""
    c = sim.catalog
    subcategory, brand, attrs = [], [], []
    for i in range(c.size):
        cat = CATEGORIES[c.category[i]]
        sub_en, sub_zh = cat.subcategories[c.subcategory[i]]
        brand_en, brand_zh = cat.brands[c.brand[i]]
        subcategory.append(sub_en)
        brand.append(brand_en)
        extra = {
            "name_en": c.name_en[i],
            "category_key": cat.key,
            "category_zh": cat.name_zh,
            "subcategory_zh": sub_zh,
            "brand_zh": brand_zh,
        }
        attrs.append(json.dumps(extra, ensure_ascii=False))
    return pa.table(
        {
            "pidx": np.arange(c.size, dtype=np.int32),
            "product_id": product_ids(c.size),
            "sku": c.sku,
            "name": c.name_zh,
            "category": [CATEGORIES[k].name_en for k in c.category],
            "subcategory": subcategory,
            "brand": brand,
            "price": money(c.list_price),
            "cost": money(c.cost),
            "attributes": attrs,
        }
    )


def sessions_table(sim: Simulation) -> pa.Table:
    s, geo = sim.sessions, sim.geo
    first_view = np.where(
        s.n_views > 0,
        sim.baskets.view_product[np.minimum(sim.baskets.view_start[:-1], len(sim.baskets.view_product) - 1)],
        -1,
    )
    camp = s.campaign.astype(np.int64)
    screen = SCREENS[s.device]
    return pa.table(
        {
            "sidx": np.arange(s.size, dtype=np.int32),
            "channel": categorical(s.channel, CHANNELS),
            "site": categorical(s.channel, CHANNEL_SITES),
            "utm_source": categorical(camp, [c.source for c in CAMPAIGNS]),
            "utm_medium": categorical(camp, [c.medium for c in CAMPAIGNS]),
            "utm_campaign": categorical(camp, [c.name for c in CAMPAIGNS]),
            "page_type": categorical(s.landing, PAGE_TYPES),
            "focus": categorical(s.focus, [c.key for c in CATEGORIES]),
            "first_sku": categorical(first_view, sim.catalog.sku),
            "referrer": categorical(s.referrer, REFERRERS),
            "device": categorical(s.device, DEVICES),
            "os": categorical(s.os, OS_NAMES),
            "locale": categorical(s.locale, LOCALES),
            "screen_w": screen[:, 0].astype(np.int16),
            "screen_h": screen[:, 1].astype(np.int16),
            "region": categorical(geo.city_province[s.city], geo.province_en),
            "city": categorical(s.city, geo.city_en),
            "customer": nullable(s.customer.astype(np.int32), s.customer < 0),
            "device_key": sim.session_device_key,
            "live": nullable(s.live, s.live < 0),
            "signup": s.signup,
        }
    )


def events_table(sim: Simulation) -> pa.Table:
    e = sim.events
    reason = np.full(e.size, -1, dtype=np.int64)
    is_refund = e.refund >= 0
    reason[is_refund] = sim.refunds.reason[e.refund[is_refund]]
    return pa.table(
        {
            "eidx": np.arange(e.size, dtype=np.int64),
            "sidx": e.session,
            "kind": e.kind,
            "ts": timestamps(e.ts),
            "received_at": timestamps(e.ts + e.received_lag_us),
            "sent_at": timestamps(e.ts + e.received_lag_us // 3),
            "product": nullable(e.product.astype(np.int32), e.product < 0),
            "quantity": e.quantity.astype(np.int16),
            "price": money(e.price),
            "oidx": nullable(e.order.astype(np.int32), e.order < 0),
            "ridx": nullable(e.refund.astype(np.int32), e.refund < 0),
            "in_stock": e.in_stock,
            "x": nullable(e.x, np.isnan(e.x)),
            "y": nullable(e.y, np.isnan(e.y)),
            "element": categorical(e.element, ELEMENTS),
            "reason": categorical(reason, REASONS),
            "user_visible": e.user_visible,
        }
    )


def orders_table(sim: Simulation) -> pa.Table:
    o, s, c = sim.orders, sim.sessions, sim.customers
    cust = s.customer[o.session]
    ext_rng = component_rng(sim.params.seed, "external-ids")
    external = ext_rng.integers(10**11, 10**12, o.size)
    channel = s.channel[o.session]
    ext_prefix = np.array([bool(p) for p in EXTERNAL_PREFIX])[channel]
    return pa.table(
        {
            "oidx": np.arange(o.size, dtype=np.int32),
            "sidx": o.session.astype(np.int32),
            "customer": cust.astype(np.int32),
            "status": categorical(sim.status, ORDER_STATUSES),
            "ordered_at": timestamps(o.ordered_at),
            "paid_at": timestamps(o.paid_at),
            "subtotal": money(o.subtotal),
            "discount": money(o.discount),
            "shipping": money(o.shipping),
            "total": money(o.total),
            "coupon": categorical(o.coupon, [x.code for x in ALL_COUPONS]),
            "units": o.units.astype(np.int32),
            "warehouse": categorical(sim.session_warehouse[o.session], [w.code for w in WAREHOUSES]),
            "payment": categorical(o.payment, PAYMENT_METHODS),
            "first_order": s.signup[o.session],
            "address_key": c.address_key[cust],
            "external_prefix": categorical(np.where(ext_prefix, channel, -1), EXTERNAL_PREFIX),
            "external_no": external,
        }
    )


def items_table(sim: Simulation) -> pa.Table:
    b = sim.baskets
    lines = sim.lines
    return pa.table(
        {
            "lidx": np.arange(len(lines), dtype=np.int64),
            "oidx": sim.line_order.astype(np.int32),
            "product": b.item_product[lines],
            "quantity": b.item_quantity[lines].astype(np.int32),
            "unit_price": money(b.item_price[lines]),
            "line_total": money(b.item_price[lines] * b.item_quantity[lines]),
            "ordered_at": timestamps(sim.orders.ordered_at[sim.line_order]),
        }
    )


def refunds_table(sim: Simulation) -> pa.Table:
    r, b = sim.refunds, sim.baskets
    lines = sim.lines[r.line]
    return pa.table(
        {
            "ridx": np.arange(len(r.line), dtype=np.int32),
            "oidx": sim.line_order[r.line].astype(np.int32),
            "product": b.item_product[lines],
            "quantity": b.item_quantity[lines].astype(np.int32),
            "amount": money(r.amount),
            "reason": categorical(r.reason, REASONS),
            "refunded_at": timestamps(r.refunded_at),
        }
    )


def reviews_table(sim: Simulation) -> pa.Table:
    rv, b, s = sim.reviews, sim.baskets, sim.sessions
    order = sim.line_order[rv.line]
    sess = sim.orders.session[order]
    return pa.table(
        {
            "rvidx": np.arange(len(rv.line), dtype=np.int32),
            "oidx": order.astype(np.int32),
            "product": b.item_product[sim.lines[rv.line]],
            "customer": s.customer[sess].astype(np.int32),
            "channel": categorical(s.channel[sess], CHANNELS),
            "rating": rv.rating.astype(np.int16),
            "title": rv.title,
            "body": rv.body,
            "language": categorical(rv.language, LANGUAGES),
            "created_at": timestamps(rv.created_at),
        }
    )


def customers_table(sim: Simulation) -> pa.Table:
    c, s, geo = sim.customers, sim.sessions, sim.geo
    last_seen = c.signup_us.copy()
    seen = s.customer >= 0
    np.maximum.at(last_seen, s.customer[seen], s.start_us[seen])
    orders_per = np.bincount(s.customer[sim.orders.session], minlength=c.size)
    level = np.where(orders_per >= 4, 2, np.where(orders_per >= 2, 1, 0))
    return pa.table(
        {
            "cidx": np.arange(c.size, dtype=np.int32),
            "signup_at": timestamps(c.signup_us),
            "last_seen_at": timestamps(last_seen),
            "channel": categorical(c.home_channel, CHANNELS),
            "region": categorical(geo.city_province[c.city], geo.province_en),
            "city": categorical(c.city, geo.city_en),
            "device_key": c.device_key,
            "address_key": c.address_key,
            "phone_os": categorical(c.phone_os, OS_NAMES),
            "gender": categorical(c.gender, GENDERS),
            "age_band": categorical(c.age_band, AGE_BANDS),
            "favourite_category": categorical(c.primary_category, [k.key for k in CATEGORIES]),
            "locale": categorical(c.locale, LOCALES),
            "member_level": categorical(level, MEMBER_LEVELS),
        }
    )


def inventory_table(sim: Simulation) -> pa.Table:
    n_days, n_cells = sim.stock.on_hand.shape
    n_wh = len(WAREHOUSES)
    at = sim.cal.day_start_us[1 : n_days + 1] - US_PER_SECOND
    cells = np.arange(n_cells)
    return pa.table(
        {
            "snapshot_at": timestamps(np.repeat(at, n_cells)),
            "product": categorical(np.tile(cells // n_wh, n_days), product_ids(sim.catalog.size)),
            "warehouse": categorical(np.tile(cells % n_wh, n_days), [w.code for w in WAREHOUSES]),
            "on_hand": sim.stock.on_hand.ravel(),
            "reserved": sim.stock.reserved.ravel(),
        }
    )


def ad_spend_table(sim: Simulation) -> pa.Table:
    ads = sim.ads
    day, camp = np.nonzero(ads.spend > 0)
    epoch_day = (sim.cal.start - date(1970, 1, 1)).days
    return pa.table(
        {
            "date": pa.array((epoch_day + day).astype(np.int32)).cast(pa.int32()).view(pa.date32()),
            "channel": categorical(np.array([CHANNELS.index(c.channel) for c in CAMPAIGNS])[camp], CHANNELS),
            "utm_source": categorical(camp, [c.source for c in CAMPAIGNS]),
            "utm_medium": categorical(camp, [c.medium for c in CAMPAIGNS]),
            "utm_campaign": categorical(camp, [c.name for c in CAMPAIGNS]),
            "spend": money(ads.spend[day, camp]),
            "impressions": ads.impressions[day, camp],
            "clicks": ads.clicks[day, camp].astype(np.int64),
        }
    )


def competitor_table(sim: Simulation) -> pa.Table:
    cp = sim.competitors
    n_days, n_tr, n_comp = cp.price.shape
    day = np.repeat(np.arange(n_days), n_tr * n_comp)
    product = np.tile(np.repeat(cp.product, n_comp), n_days)
    comp = np.tile(np.arange(n_comp), n_days * n_tr)
    return pa.table(
        {
            "observed_at": timestamps(sim.cal.day_start_us[day] + OBSERVED_AT_SECONDS * US_PER_SECOND),
            "product": categorical(product, product_ids(sim.catalog.size)),
            "sku": categorical(product, sim.catalog.sku),
            "competitor": categorical(comp, [c[0] for c in COMPETITORS]),
            "url_prefix": categorical(comp, [c[1] for c in COMPETITORS]),
            "price": money(cp.price.ravel()),
            "in_stock": cp.in_stock.ravel(),
        }
    )


def live_table(sim: Simulation) -> pa.Table:
    br, s = sim.broadcasts, sim.sessions
    sessions_per_show = np.bincount(s.live[s.live >= 0], minlength=br.size)
    rng = component_rng(sim.params.seed, "audience")
    total = np.round(sessions_per_show * rng.uniform(25, 40, br.size)).astype(np.int32)
    peak = np.round(total * rng.uniform(0.15, 0.3, br.size)).astype(np.int32)
    end = br.end_us(sim.cal)
    return pa.table(
        {
            "live": np.arange(br.size, dtype=np.int32),
            "host": categorical(br.host, [h[0] for h in HOSTS]),
            "title": br.title,
            "started_at": timestamps(br.start_us(sim.cal)),
            "ended_at": timestamps(end, end > sim.as_of_us),  # NULL: still on air at the window's end
            "peak_viewers": peak,
            "total_viewers": total,
        }
    )


def all_tables(sim: Simulation) -> dict[str, pa.Table]:
    return {
        "sim_products": products_table(sim),
        "sim_sessions": sessions_table(sim),
        "sim_events": events_table(sim),
        "sim_orders": orders_table(sim),
        "sim_items": items_table(sim),
        "sim_refunds": refunds_table(sim),
        "sim_reviews": reviews_table(sim),
        "sim_customers": customers_table(sim),
        "sim_inventory": inventory_table(sim),
        "sim_ad_spend": ad_spend_table(sim),
        "sim_competitors": competitor_table(sim),
        "sim_live": live_table(sim),
    }
