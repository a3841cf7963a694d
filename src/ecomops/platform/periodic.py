"""A pass of background work every ``interval`` seconds, from an asyncio task, on a worker thread.

Each module job's schedule (``platform.jobs``) is one of these. Besides the interval, a pass can
be started at once with ``tick()``, and ``wait_for_passes`` waits until a number of passes have finished,
so callers (tests above all) drive a schedule explicitly instead of sleeping against its interval.
A pass is handed the time it runs for: ``clock()`` when a clock is set (tests pin one), else ``None``,
which the work reads as "now" wherever it needs it, as it always has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        interval: float,
        work: Callable[[datetime | None], object],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        #: The time each pass runs for (``work(clock())``); None: the work's own current time.
        self.clock = clock
        #: Passes finished (failed ones included), under ``_finished``.
        self.passes = 0
        self._finished = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the schedule on the running event loop; the first pass comes after one interval."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()  # a tick during the pass below asks for one more after it
            try:
                await asyncio.to_thread(self.work, None if self.clock is None else self.clock())
            except Exception:
                log.exception("%s pass failed; will retry next interval", self.name)
            with self._finished:
                self.passes += 1
                self._finished.notify_all()

    def tick(self) -> None:
        """Start a pass now rather than at the end of the interval (callable from any thread)."""
        if self._loop is None or self._wake is None:
            raise RuntimeError(f"{self.name} is not running")
        self._loop.call_soon_threadsafe(self._wake.set)

    def wait_for_passes(self, count: int, timeout: float) -> bool:
        """Block until ``count`` passes have finished in all; False if ``timeout`` seconds pass first."""
        with self._finished:
            return self._finished.wait_for(lambda: self.passes >= count, timeout)

    async def stop(self) -> None:
        """Cancel the schedule (a pass already on its thread runs to its end: callers wait for that)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
