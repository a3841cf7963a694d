"""Explicit time for tests: conditions to wait for, and clocks that move only when a test moves them.

A test never asserts on how fast something happens: it waits for the condition it needs, and the
deadline here only bounds a failure (a broken feature fails after it instead of hanging the run). A
slow machine makes a test slower, never red. Speed is measured by the scripts in bench/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

#: Seconds before a condition that never comes true fails the test.
DEADLINE = 30.0


def wait_until(condition: Callable[[], T], what: str, timeout: float = DEADLINE, poll: float = 0.02) -> T:
    """The first truthy value of ``condition()``; fails naming ``what`` when none came in ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(poll)


class ManualClock:
    """A monotonic clock (float seconds) that moves only by ``advance``."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ManualDateTime:
    """A wall clock (aware datetime) that moves only by ``advance``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
