"""Live traffic of the demo shop as Segment messages, minute by minute: the seeded shop keeps selling.

The seeder writes history up to yesterday straight into the warehouse; this model continues it as
events for the ingest API (``simulate.feed`` posts them), so today and the live dashboard fill the way
a real shop's would. It reuses the seeder's catalogue (same seed → the same ``sim_p…`` products, names,
categories and list prices), its customers (``sim_c…`` ids within ``--customers``), its channel mix,
bounce, view, add-to-cart and conversion rates, devices, cities and the hourly curve of an ordinary day,
and its Douyin live shows (hosts and themes).

Every minute is drawn from its own random stream (seed, minute): the same minute always yields the same
messages with the same ``messageId``s, so a restarted feed or a catch-up over minutes already sent is
deduplicated by the ingest API instead of counted twice. Ids start with ``sim_t`` (events ``sim_te…``,
orders ``sim_to…``, shows ``sim_tlive…``, visitors ``sim_ta…``): a re-seed replaces them with the rest of
the simulator's rows.

Live shows: the shop broadcasts on Douyin in four shifts a day (08–12, 12–16, 16–20, 20–24 local, one
host each), as shop-run live rooms in China do; during a show most Douyin sessions are in the live room,
convert better and carry the show's ``live_session_id``. Each show sends ``Live Stream Started``, a
``Live Stream Updated`` every minute with its viewer counts, and ``Live Stream Ended``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ecomops.simulate.calendar import HOURLY
from ecomops.simulate.catalog import build_catalog
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.geo import build_geo
from ecomops.simulate.live import (
    HOSTS,
    LIVE_CONVERSION_MULTIPLIER,
    LIVE_TRAFFIC_SHARE,
    SHORT_VIDEO_CONVERSION_MULTIPLIER,
    THEMES,
)
from ecomops.simulate.params import Shop, component_rng
from ecomops.simulate.tables import CHANNEL_SITES, product_ids
from ecomops.simulate.traffic import (
    ADD_RATE,
    BASE_CONVERSION,
    BOUNCE,
    CHANNEL_SHARE,
    CHANNELS,
    CHECKOUT_RATE,
    DEVICE_MIX,
    DEVICES,
    DOUYIN,
    ENGLISH_SHARE,
    EXTRA_ITEMS,
    EXTRA_VIEWS,
    LOCALES,
    OS_NAMES,
    PHONE_OS_MIX,
)

#: Default mean events per second over a whole day (the hourly curve moves it between ~0.1× and 2×).
DEFAULT_RATE = 2.0
#: Share of sessions by a signed-in, already known customer (the rest are anonymous visitors).
KNOWN_SHARE = 0.4
#: Broadcast shifts, local hours [start, end).
SHIFTS = ((8, 12), (12, 16), (16, 20), (20, 24))
#: Viewers who drop into the live room per live-room session we simulate (the platform's audience is
#: far larger than the sessions that click through to the shop), as in the seeder's ``live_sessions``.
AUDIENCE_PER_SESSION = 30
#: Peak concurrent viewers as a share of all viewers so far (the seeder draws 0.15–0.3 per show).
PEAK_SHARE = 0.22
#: Mean seconds between two events of a session.
EVENT_GAP_S = 20.0
_ZERO = Decimal("0")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class TrickleParams:
    seed: int
    customers: int
    timezone: str
    currency: str
    rate: float = DEFAULT_RATE


@dataclass(frozen=True)
class Show:
    live_session_id: str
    host: str
    title: str
    start: datetime  # UTC
    end: datetime  # UTC


def _expected_events_per_session() -> float:
    """Mean messages per session of the funnel below (page + identify + views + adds + checkout + order),
    used to turn a rate of events into a rate of sessions."""
    engaged = 1 - BOUNCE
    buy = np.minimum(BASE_CONVERSION / engaged, 1.0)
    views = engaged * (1 + EXTRA_VIEWS)
    adds = engaged * (buy * (1 + EXTRA_ITEMS) + (1 - buy) * ADD_RATE)
    checkout = engaged * (buy * 2 + (1 - buy) * ADD_RATE * CHECKOUT_RATE)
    per_channel = 1 + KNOWN_SHARE + views + adds + checkout
    return float((CHANNEL_SHARE * per_channel).sum())


EVENTS_PER_SESSION = _expected_events_per_session()
_HOURLY_SHARE = HOURLY / HOURLY.mean()


class TrickleModel:
    """The demo shop's live traffic; one instance per feed (the catalogue is built once)."""

    def __init__(self, params: TrickleParams) -> None:
        if params.rate <= 0:
            raise ValueError("rate must be positive")
        self.params = params
        self.zone = ZoneInfo(params.timezone)
        self.shop = Shop(params.timezone, params.currency)
        self.catalog = build_catalog(component_rng(params.seed, "catalog"), self.shop)
        self.geo = build_geo()
        self.product_ids = product_ids(self.catalog.size)
        share = np.array([CATEGORIES[k].share for k in self.catalog.category])
        weight = share * self.catalog.popularity
        self.product_weight = weight / weight.sum()

    # --- shows -------------------------------------------------------------------------------------

    def shows_on(self, local_day: date) -> list[Show]:
        ordinal = local_day.toordinal()
        out = []
        for i, (start_h, end_h) in enumerate(SHIFTS):
            host_zh = HOSTS[(ordinal + i) % len(HOSTS)][0]
            theme = THEMES[(ordinal * 3 + i) % len(THEMES)]
            start = datetime.combine(local_day, datetime.min.time(), self.zone) + timedelta(hours=start_h)
            end = datetime.combine(local_day, datetime.min.time(), self.zone) + timedelta(hours=end_h)
            out.append(
                Show(
                    f"sim_tlive{local_day:%Y%m%d}{i}",
                    host_zh,
                    f"{host_zh}的直播间 · {theme}",
                    start.astimezone(UTC),
                    end.astimezone(UTC),
                )
            )
        return out

    def show_at(self, when: datetime) -> Show | None:
        local_day = when.astimezone(self.zone).date()
        for show in self.shows_on(local_day):
            if show.start <= when < show.end:
                return show
        return None

    def _sessions_per_minute(self, minute: datetime) -> float:
        hour = minute.astimezone(self.zone).hour
        return self.params.rate * 60 * float(_HOURLY_SHARE[hour]) / EVENTS_PER_SESSION

    def _audience(self, show: Show, minute: datetime) -> tuple[int, int]:
        """(peak, total) viewers of ``show`` by the end of ``minute``: closed form of the expected live-room
        sessions so far, so any minute's counts are known without the ones before (restarts, catch-up)."""
        elapsed = int((minute - show.start).total_seconds() // 60) + 1
        live_share = CHANNEL_SHARE[DOUYIN] * LIVE_TRAFFIC_SHARE
        total = 0.0
        for k in range(elapsed):
            total += self._sessions_per_minute(show.start + timedelta(minutes=k)) * live_share
        viewers = round(total * AUDIENCE_PER_SESSION)
        return max(1, round(viewers * PEAK_SHARE)), viewers

    def show_messages(self, minute: datetime) -> list[dict[str, Any]]:
        """Start, per-minute viewer update and end of the show running in ``minute`` (UTC, whole minute)."""
        show = self.show_at(minute)
        if show is None:
            return []
        peak, total = self._audience(show, minute)
        stamp = f"{int(minute.timestamp()) // 60:x}"
        base = {"live_session_id": show.live_session_id, "channel": "douyin"}
        out = []
        if minute == show.start:
            out += self.show_start(minute)
        update_at = minute + timedelta(seconds=59)
        counts = {
            **base,
            "title": show.title,
            "host": show.host,
            "peak_viewers": peak,
            "total_viewers": total,
        }
        out.append(_track(f"sim_tlu{stamp}", "Live Stream Updated", update_at, counts, show.live_session_id))
        if minute + timedelta(minutes=1) == show.end:
            out.append(_track(f"sim_tle{stamp}", "Live Stream Ended", show.end, counts, show.live_session_id))
        return out

    def show_start(self, minute: datetime) -> list[dict[str, Any]]:
        """``Live Stream Started`` of the show running in ``minute`` (a feed starting mid-show sends it
        first, so the session begins at its real start; a repeat is a duplicate)."""
        show = self.show_at(minute)
        if show is None:
            return []
        stamp = f"{int(show.start.timestamp()) // 60:x}"
        props = {
            "live_session_id": show.live_session_id,
            "channel": "douyin",
            "title": show.title,
            "host": show.host,
        }
        return [_track(f"sim_tls{stamp}", "Live Stream Started", show.start, props, show.live_session_id)]

    # --- sessions ----------------------------------------------------------------------------------

    def minute_messages(self, minute: datetime) -> list[dict[str, Any]]:
        """Every message of the sessions that start in ``minute`` (whole UTC minute) and of its show, in
        time order; a session's later events may fall in the following minutes."""
        if minute.tzinfo is None or minute.second or minute.microsecond:
            raise ValueError("minute must be an aware, whole minute")
        minute = minute.astimezone(UTC)
        index = int(minute.timestamp()) // 60
        rng = component_rng(self.params.seed, f"trickle:{index}")
        show = self.show_at(minute)
        out = self.show_messages(minute)
        for n in range(int(rng.poisson(self._sessions_per_minute(minute)))):
            out += self._session(rng, minute, f"{index:x}{n:03d}", show)
        out.sort(key=lambda m: datetime.fromisoformat(m["timestamp"]))
        return out

    def _session(
        self, rng: np.random.Generator, minute: datetime, key: str, show: Show | None
    ) -> list[dict[str, Any]]:
        ch = int(rng.choice(len(CHANNELS), p=CHANNEL_SHARE))
        live = show is not None and ch == DOUYIN and rng.random() < LIVE_TRAFFIC_SHARE
        known = rng.random() < KNOWN_SHARE
        customer = int(rng.integers(0, self.params.customers)) if known else -1
        user_id = f"sim_c{customer:07d}" if known else None
        anonymous_id = (
            f"sim_ta{zlib.crc32(f'{self.params.seed}:{customer}'.encode()):08x}"
            if known
            else f"sim_ta{int(rng.integers(0, 2**48)):012x}"
        )
        device = int(rng.choice(len(DEVICES), p=DEVICE_MIX[ch]))
        os_name = (
            OS_NAMES[int(rng.choice(3, p=PHONE_OS_MIX))]
            if device == 0
            else ("Windows" if rng.random() < 0.8 else "macOS")
            if device == 1
            else "iPadOS"
        )
        city = int(self.geo.sample_cities(rng, 1)[0])
        locale = LOCALES[int(rng.random() < ENGLISH_SHARE[ch])]
        context = {
            "device": {"type": DEVICES[device]},
            "os": {"name": os_name},
            "locale": locale,
            "location": {
                "country": "CN",
                "region": self.geo.province_en[self.geo.city_province[city]],
                "city": self.geo.city_en[city],
            },
            "sessionId": f"sim_ts{key}",
            "library": {"name": "ecomops-demo-trickle"},
        }
        common: dict[str, Any] = {"anonymousId": anonymous_id, "context": context}
        if user_id:
            common["userId"] = user_id
        channel_props: dict[str, Any] = {"channel": CHANNELS[ch]}
        if live and show is not None:
            channel_props["live_session_id"] = show.live_session_id
        site = CHANNEL_SITES[ch]
        t = minute + timedelta(seconds=float(rng.uniform(0, 60)))
        seq = iter(range(100))

        def at() -> datetime:
            nonlocal t
            t += timedelta(seconds=float(rng.exponential(EVENT_GAP_S)) + 1)
            return t

        def msg(kind: str, when: datetime, **body: Any) -> dict[str, Any]:
            return {
                "type": kind,
                "messageId": f"sim_te{key}{next(seq):02d}",
                "timestamp": when.isoformat().replace("+00:00", "Z"),
                **common,
                **body,
            }

        landing = "Live Room" if live else ("Short Video" if ch == DOUYIN else "Home")
        path = f"/live/{show.live_session_id}" if live and show is not None else "/"
        out = [
            msg(
                "page",
                t,
                name=landing,
                properties={"title": landing, "path": path, "url": site + path, **channel_props},
            )
        ]
        if known:
            out.append(msg("identify", t, traits={"locale": locale, "signup_channel": CHANNELS[ch]}))
        if rng.random() < BOUNCE[ch]:
            return out
        conversion = BASE_CONVERSION[ch] / (1 - BOUNCE[ch])
        if ch == DOUYIN:
            conversion *= LIVE_CONVERSION_MULTIPLIER if live else SHORT_VIDEO_CONVERSION_MULTIPLIER
        bought = rng.random() < min(conversion, 1.0)
        n_views = 1 + int(rng.poisson(EXTRA_VIEWS[ch]))
        viewed = rng.choice(self.catalog.size, size=n_views, p=self.product_weight)
        for p in viewed:
            out.append(
                msg("track", at(), event="Product Viewed", properties={**self._product(p), **channel_props})
            )
        if bought:
            n_items = min(1 + int(rng.poisson(EXTRA_ITEMS[ch])), n_views)
            lines = [(int(p), 1 + int(rng.poisson(0.15))) for p in viewed[:n_items]]
        elif rng.random() < ADD_RATE[ch]:
            lines = [(int(viewed[0]), 1)]
        else:
            return out
        for p, qty in lines:
            props = {**self._product(p), "quantity": qty, **channel_props}
            out.append(msg("track", at(), event="Product Added", properties=props))
        order_id = f"sim_to{key}"
        products = [{**self._product(p), "quantity": qty} for p, qty in lines]
        subtotal = sum((Decimal(line["price"]) * line["quantity"] for line in products), _ZERO)
        checkout = {"order_id": order_id, "value": str(subtotal), "currency": self.params.currency}
        if not bought:
            if rng.random() < CHECKOUT_RATE[ch]:
                out.append(
                    msg("track", at(), event="Checkout Started", properties={**checkout, **channel_props})
                )
            return out
        out.append(msg("track", at(), event="Checkout Started", properties={**checkout, **channel_props}))
        order = {
            "order_id": order_id,
            "subtotal": str(subtotal),
            "total": str(subtotal),
            "shipping": "0",
            "discount": "0",
            "currency": self.params.currency,
            "products": products,
            **channel_props,
        }
        out.append(msg("track", at(), event="Order Completed", properties=order))
        return out

    def _product(self, p: int | np.integer[Any]) -> dict[str, Any]:
        i = int(p)
        price = Decimal(int(self.catalog.list_price[i])) * _CENT  # minor units → amount
        return {
            "product_id": self.product_ids[i],
            "sku": self.catalog.sku[i],
            "name": self.catalog.name_zh[i],
            "category": CATEGORIES[int(self.catalog.category[i])].name_en,
            "price": str(price),
            "currency": self.params.currency,
        }


def _track(mid: str, event: str, when: datetime, props: dict[str, Any], show_id: str) -> dict[str, Any]:
    """A server-side event of the live-room platform (no visitor: keyed by the show)."""
    return {
        "type": "track",
        "event": event,
        "messageId": mid,
        "anonymousId": show_id,
        "timestamp": when.isoformat().replace("+00:00", "Z"),
        "properties": props,
        "context": {"library": {"name": "ecomops-demo-trickle"}},
    }
