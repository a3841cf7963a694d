"""Realistic storefront traffic for the ingest benchmark and the storage test (deterministic for a seed).

Shapes, as a shop's analytics.js / mobile SDK sends them (sizes measured on the generated JSON):

- every event carries the full Segment context: ``library``, ``page`` (url, path, referrer, title, search),
  ``userAgent`` (a real browser string, 110–140 chars), ``ip``, ``locale``, ``campaign`` (source, medium,
  name, term, content), ``device`` (id, type, manufacturer, model), ``os``, ``screen``, ``timezone``;
  about 730 bytes of JSON on its own;
- 30 % ``page`` calls with a name, url/path/title/referrer properties and the click coordinates ``x``/``y``
  (mean 1.06 KB per event);
- 58 % product ``track`` events: ``Product Viewed`` (34 %, 1.21 KB), ``Product Added`` (12 %, 1.25 KB),
  ``Product List Viewed`` (12 %, a list of 4–8 products, 1.29 KB) with product properties (id, sku, name,
  brand, category, variant, price, currency, position, url, image_url);
- 10 % ``identify`` with traits: e-mail, phone, name, plan, createdAt, a few scalar attributes (the
  e-mail, phone and name are personal data: they are sealed at the edge and land in the PII vault) (1.11 KB);
- 1.5 % ``Order Completed`` with 1–5 line items, totals, shipping, tax, coupon (2.0 KB);
- 0.5 % ``Checkout Started`` (0.98 KB).
Overall 1.18 KB of JSON per event (compact separators), 118 KB per 100-event body.

Visitors come from a pool (anonymousId per visitor; a third of them logged in with a userId), so the
customers upsert and the vault see repeat customers. Batches hold 100 events (``{"batch": [...],
"sentAt": ...}``, ~100 KB). Everything is built before any clock starts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
)
DEVICES = (
    ("mobile", "Apple", "iPhone15,2", "iOS", "17.5", 390, 844, 3),
    ("mobile", "Samsung", "SM-S918B", "Android", "14", 412, 915, 3),
    ("desktop", "Microsoft", "PC", "Windows", "10", 1920, 1080, 1),
    ("desktop", "Apple", "MacBookPro18,1", "Mac OS X", "14.5", 1512, 982, 2),
)
CAMPAIGNS = (
    ("douyin", "live", "d11-live", "dress", "banner-a"),
    ("google", "cpc", "brand-search", "summer dress", "ad-17"),
    ("newsletter", "email", "november-weekly", None, "hero"),
    ("wechat", "social", "moments-d11", None, None),
    ("direct", "none", None, None, None),
)
LOCALES = (("zh-CN", "Asia/Shanghai"), ("en-US", "America/New_York"), ("en-GB", "Europe/London"))
CATEGORIES = ("Dresses", "Shoes", "Bags", "Outerwear", "Accessories", "Knitwear")
BRANDS = ("Aurora", "Kite & Co", "Lumen", "Northwind", "Sable")
PAGES = ("/", "/c/dresses", "/c/shoes", "/search", "/cart", "/p/")

#: (share of events, kind): the mix the issue describes; the rest (0.5 %) are Checkout Started.
MIX = (
    (0.30, "page"),
    (0.34, "Product Viewed"),
    (0.12, "Product Added"),
    (0.12, "Product List Viewed"),
    (0.10, "identify"),
    (0.015, "Order Completed"),
    (0.005, "Checkout Started"),
)
#: Which latency bucket each kind reports under.
KIND_GROUP = {
    "page": "page",
    "identify": "identify",
    "Order Completed": "order",
    "Product Viewed": "track",
    "Product Added": "track",
    "Product List Viewed": "track",
    "Checkout Started": "track",
}


@dataclass
class Sample:
    """One body to post and what it holds (message ids per latency group, order ids)."""

    body: bytes
    events: int
    message_ids: dict[str, str] = field(default_factory=dict)
    order_ids: list[str] = field(default_factory=list)


def _product(rng: random.Random, n: int) -> dict[str, object]:
    pid = f"p{n:05d}"
    category = CATEGORIES[n % len(CATEGORIES)]
    return {
        "product_id": pid,
        "sku": f"SKU-{n:05d}-{rng.choice('SMLX')}",
        "name": f"{BRANDS[n % len(BRANDS)]} {category[:-1]} {n % 97}",
        "brand": BRANDS[n % len(BRANDS)],
        "category": category,
        "variant": rng.choice(("black", "ivory", "navy", "sage")),
        "price": round(19.9 + (n % 40) * 7.5, 2),
        "currency": "CNY",
        "url": f"https://shop.example.com/p/{pid}",
        "image_url": f"https://cdn.shop.example.com/img/{pid}/main-800x800.jpg",
    }


class Visitors:
    """A pool of visitors with stable ids, devices and campaigns (a third are logged in)."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.rng = rng
        self.people = []
        for v in range(size):
            device = DEVICES[v % len(DEVICES)]
            self.people.append(
                {
                    "anonymous_id": f"{rng.getrandbits(128):032x}",
                    "user_id": f"user-{v:06d}" if v % 3 == 0 else None,
                    "device": device,
                    "ua": USER_AGENTS[v % len(USER_AGENTS)],
                    "ip": ".".join(str(rng.randint(1, 223)) for _ in range(4)),
                    "campaign": CAMPAIGNS[v % len(CAMPAIGNS)],
                    "locale": LOCALES[v % len(LOCALES)],
                    "device_id": f"{rng.getrandbits(64):016x}",
                    "n": v,
                }
            )

    def pick(self) -> dict[str, object]:
        return self.rng.choice(self.people)


def _context(person: dict[str, object], path: str, title: str) -> dict[str, object]:
    kind, maker, model, os_name, os_version, width, height, density = person["device"]  # type: ignore[misc]
    source, medium, name, term, content = person["campaign"]  # type: ignore[misc]
    locale, zone = person["locale"]  # type: ignore[misc]
    campaign = {"source": source, "medium": medium}
    for key, value in (("name", name), ("term", term), ("content", content)):
        if value is not None:
            campaign[key] = value
    return {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {
            "url": f"https://shop.example.com{path}?utm_source={source}",
            "path": path,
            "referrer": "https://www.google.com/",
            "title": title,
            "search": f"?utm_source={source}",
        },
        "userAgent": person["ua"],
        "ip": person["ip"],
        "locale": locale,
        "campaign": campaign,
        "device": {"id": person["device_id"], "type": kind, "manufacturer": maker, "model": model},
        "os": {"name": os_name, "version": os_version},
        "screen": {"width": width, "height": height, "density": density},
        "timezone": zone,
    }


def _event(rng: random.Random, kind: str, person: dict[str, object], run: str, n: int, ts: str) -> dict:  # type: ignore[type-arg]
    product_n = rng.randrange(5000)
    path = rng.choice(PAGES)
    if path == "/p/":
        path = f"/p/p{product_n:05d}"
    title = f"{CATEGORIES[product_n % len(CATEGORIES)]} | Shop Example"
    event: dict[str, object] = {
        "messageId": f"{run}-{n:08d}-{rng.getrandbits(64):016x}",
        "anonymousId": person["anonymous_id"],
        "timestamp": ts,
        "context": _context(person, path, title),
    }
    if person["user_id"] is not None:
        event["userId"] = person["user_id"]
    if kind == "page":
        event.update(
            type="page",
            name=title.split(" |")[0],
            properties={
                "url": f"https://shop.example.com{path}",
                "path": path,
                "title": title,
                "referrer": "https://www.google.com/",
                "x": rng.randint(0, 1400),
                "y": rng.randint(0, 3000),
            },
        )
    elif kind == "identify":
        v = int(person["n"])  # type: ignore[call-overload]
        event.update(
            type="identify",
            userId=person["user_id"] or f"user-{v:06d}",
            traits={
                "email": f"buyer{v}@mail.example.com",
                "phone": f"+86 138{v:08d}"[:16],
                "name": f"Buyer {v}",
                "plan": rng.choice(("member", "silver", "gold")),
                "createdAt": "2025-03-14T08:00:00Z",
                "orders_count": rng.randint(0, 40),
                "newsletter": rng.random() < 0.5,
                "preferred_language": person["locale"][0],  # type: ignore[index]
            },
        )
    elif kind == "Order Completed":
        lines = [
            {**_product(rng, rng.randrange(5000)), "quantity": rng.randint(1, 3)}
            for _ in range(rng.randint(1, 5))
        ]
        subtotal = round(sum(float(p["price"]) * int(p["quantity"]) for p in lines), 2)  # type: ignore[arg-type]
        event.update(
            type="track",
            event=kind,
            properties={
                "order_id": f"{run}-o{n:08d}",
                "checkout_id": f"co-{rng.getrandbits(48):012x}",
                "subtotal": subtotal,
                "shipping": 12.0,
                "tax": round(subtotal * 0.06, 2),
                "discount": 0,
                "total": round(subtotal * 1.06 + 12.0, 2),
                "coupon": rng.choice((None, "D11-50")),
                "currency": "CNY",
                "products": lines,
            },
        )
    elif kind == "Product List Viewed":
        event.update(
            type="track",
            event=kind,
            properties={
                "list_id": f"list-{CATEGORIES[product_n % len(CATEGORIES)].lower()}",
                "category": CATEGORIES[product_n % len(CATEGORIES)],
                "products": [
                    {"product_id": f"p{(product_n + i) % 5000:05d}", "price": 59.9 + i, "position": i + 1}
                    for i in range(rng.randint(4, 8))
                ],
            },
        )
    else:
        props = _product(rng, product_n)
        props["position"] = rng.randint(1, 24)
        if kind == "Product Added":
            props["quantity"] = rng.randint(1, 2)
            props["cart_id"] = f"cart-{rng.getrandbits(48):012x}"
        if kind == "Checkout Started":
            props = {"order_id": f"{run}-c{n:08d}", "value": props["price"], "currency": "CNY"}
        event.update(type="track", event=kind, properties=props)
    return event


def batches(
    count: int, run: str, seed: int = 11, start: datetime | None = None, per_batch: int = 100
) -> list[Sample]:
    """``count`` bodies of ``per_batch`` events each, the first event of each kind recorded as its sample."""
    rng = random.Random(seed)
    visitors = Visitors(rng, 20_000)
    kinds = [kind for _, kind in MIX]
    weights = [share for share, _ in MIX]
    base = start or datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
    out = []
    n = 0
    for b in range(count):
        events = []
        sample = Sample(b"", per_batch)
        ts = (base + timedelta(milliseconds=b * 50)).isoformat().replace("+00:00", "Z")
        for kind in rng.choices(kinds, weights, k=per_batch):
            event = _event(rng, kind, visitors.pick(), run, n, ts)
            n += 1
            events.append(event)
            sample.message_ids.setdefault(KIND_GROUP[kind], str(event["messageId"]))
            if kind == "Order Completed":
                sample.order_ids.append(str(event["properties"]["order_id"]))  # type: ignore[index]
        sample.body = json.dumps({"batch": events, "sentAt": ts}, separators=(",", ":")).encode()
        out.append(sample)
    return out


def make_bodies(n_batches: int, run: str) -> list[bytes]:
    """Uniform /v1/batch bodies of 100 small track events each (the throughput runs' load; ids unique per
    ``run``), unlike the realistic mix of ``batches``."""
    bodies = []
    for b in range(n_batches):
        batch = [
            {
                "type": "track",
                "event": "Product Viewed" if i % 10 else "Product Added",
                "userId": f"user-{(b * 100 + i) % 50_000}",
                "messageId": f"{run}-{b}-{i}",
                "timestamp": "2026-11-11T12:00:00Z",
                "context": {
                    "campaign": {"source": "douyin", "medium": "live", "name": "d11"},
                    "device": {"type": "mobile"},
                    "page": {"url": "https://shop.example/p/123", "path": "/p/123"},
                },
                "properties": {"product_id": f"p{i}", "price": 59.9, "currency": "CNY", "x": 100, "y": 200},
            }
            for i in range(100)
        ]
        bodies.append(json.dumps({"batch": batch, "sentAt": "2026-11-11T12:00:01Z"}).encode())
    return bodies
