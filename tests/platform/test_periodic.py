"""The schedule behind alert evaluation and retention: passes on the interval, at once on ``tick()``,
each for the time its clock says, and a failing pass does not end the schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ecomops.platform.periodic import Periodic
from tests.timing import DEADLINE, ManualDateTime

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def test_tick_runs_a_pass_now_for_the_clocks_time() -> None:
    seen: list[datetime] = []
    clock = ManualDateTime(NOW)

    async def scenario() -> None:
        schedule = Periodic("test", 86400, seen.append, clock)
        schedule.start()
        try:
            await asyncio.sleep(0)
            assert schedule.passes == 0 and seen == []  # the first pass waits for the interval
            schedule.tick()
            assert await asyncio.to_thread(schedule.wait_for_passes, 1, DEADLINE)
            clock.advance(60)
            schedule.tick()
            assert await asyncio.to_thread(schedule.wait_for_passes, 2, DEADLINE)
        finally:
            await schedule.stop()

    asyncio.run(scenario())
    assert seen == [NOW, datetime(2026, 11, 11, 12, 1, tzinfo=UTC)]


def test_passes_come_on_the_interval_without_a_tick() -> None:
    seen: list[datetime] = []

    async def scenario() -> None:
        schedule = Periodic("test", 0.01, seen.append, ManualDateTime(NOW))
        schedule.start()
        try:
            # However slow the machine, the interval keeps producing passes: only a failure waits long.
            assert await asyncio.to_thread(schedule.wait_for_passes, 3, DEADLINE)
        finally:
            await schedule.stop()

    asyncio.run(scenario())
    assert len(seen) >= 3 and set(seen) == {NOW}


def test_a_failing_pass_is_counted_and_the_schedule_goes_on() -> None:
    calls: list[datetime] = []

    def work(now: datetime) -> None:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("boom")

    async def scenario() -> None:
        schedule = Periodic("test", 86400, work, ManualDateTime(NOW))
        schedule.start()
        try:
            schedule.tick()
            assert await asyncio.to_thread(schedule.wait_for_passes, 1, DEADLINE)
            schedule.tick()
            assert await asyncio.to_thread(schedule.wait_for_passes, 2, DEADLINE)
        finally:
            await schedule.stop()

    asyncio.run(scenario())
    assert len(calls) == 2


def test_without_a_clock_the_work_reads_its_own_time() -> None:
    seen: list[datetime | None] = []

    async def scenario() -> None:
        schedule = Periodic("test", 86400, seen.append)
        schedule.start()
        try:
            schedule.tick()
            assert await asyncio.to_thread(schedule.wait_for_passes, 1, DEADLINE)
        finally:
            await schedule.stop()

    asyncio.run(scenario())
    assert seen == [None]  # run_all(state, None): each tenant's run takes the time it runs at


def test_wait_for_passes_says_when_none_came() -> None:
    async def scenario() -> None:
        schedule = Periodic("test", 86400, lambda now: None)
        schedule.start()
        try:
            assert await asyncio.to_thread(schedule.wait_for_passes, 1, 0.01) is False
        finally:
            await schedule.stop()

    asyncio.run(scenario())
