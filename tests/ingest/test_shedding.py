"""The load shedder's bookkeeping, driven by explicit clocks and RSS readings (the HTTP behaviour is in
tests/security/test_ingest_shedding.py)."""

from __future__ import annotations

import pytest

from ecomops.ingest.shedding import RSS_CACHE_SECONDS, LoadShedder, read_rss
from ecomops.kernel.errors import Overloaded
from ecomops.platform.settings import Settings
from tests.timing import ManualClock

MB = 1024 * 1024


class Readings:
    def __init__(self, value: int) -> None:
        self.value = value
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.value


def shedder(rss: Readings, clock: ManualClock, **settings: object) -> LoadShedder:
    return LoadShedder(Settings(ingest_memory_watermark_mb=1000, **settings), clock=clock, rss=rss)  # type: ignore[arg-type]


def test_rss_is_read_at_most_every_100_ms_and_sheds_until_it_falls() -> None:
    clock, rss = ManualClock(), Readings(500 * MB)
    shed = shedder(rss, clock)
    for _ in range(100):
        with shed.admit():
            pass
    assert rss.reads == 1
    rss.value = 1200 * MB
    with shed.admit():  # the cached reading is still trusted
        pass
    clock.advance(RSS_CACHE_SECONDS)
    with pytest.raises(Overloaded) as refused, shed.admit():
        pass
    assert refused.value.retry_after == 2 and refused.value.details["reason"] == "memory"
    rss.value = 900 * MB
    clock.advance(RSS_CACHE_SECONDS)
    with shed.admit():
        pass
    assert shed.figures().shed == {"in_flight": 0, "memory": 1}


def test_the_cap_counts_bodies_in_flight_and_frees_a_slot_on_errors() -> None:
    shed = shedder(Readings(100 * MB), ManualClock(), ingest_max_in_flight=2)
    with shed.admit(), shed.admit():
        assert shed.in_flight == 2
        with pytest.raises(Overloaded) as refused, shed.admit():
            pass
        assert refused.value.retry_after == 1 and refused.value.details["reason"] == "in_flight"
    with pytest.raises(ValueError), shed.admit():
        raise ValueError("a request that fails while validating")
    assert shed.in_flight == 0


def test_rss_is_read_from_proc_on_linux() -> None:
    value = read_rss()
    assert value is None or value > MB
