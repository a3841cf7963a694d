"""Heavy reads (ad-hoc SQL, metric reports, funnels) run in their own thread pool, a few per shop at a time.

Why: every blocking handler shares the event loop's default worker threads (40). One shop firing 45
slow queries at once took them all and stalled every other shop's API for 25 s. Heavy work therefore
gets its own pool (``heavy_workers`` threads), so the console, ingest administration and sign-in never
wait behind it, and each shop may run at most ``heavy_per_tenant`` of it at once: a shop over its share
is answered 429 at once (``Retry-After``) instead of queueing in front of the others, so every shop keeps
its share of the pool (fair by construction, no queue to starve in).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ecomops.kernel.errors import Overloaded
from ecomops.platform.settings import Settings
from ecomops.platform.web.state import AppState

T = TypeVar("T")


class HeavyWork:
    def __init__(self, settings: Settings) -> None:
        self.per_tenant = settings.heavy_per_tenant
        self.pool = ThreadPoolExecutor(settings.heavy_workers, thread_name_prefix="heavy")
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def running(self, tenant_id: str) -> int:
        with self._lock:
            return self._running.get(tenant_id, 0)

    async def run(self, tenant_id: str, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the heavy pool as one of the tenant's slots, or refuse (429) when all are taken."""
        with self._lock:
            busy = self._running.get(tenant_id, 0)
            if busy >= self.per_tenant:
                raise Overloaded(
                    f"this shop already runs {busy} {what} at once (the limit per shop); retry when one "
                    "has finished",
                    retry_after=2,
                    details={"running": busy, "limit": self.per_tenant},
                    code="too_many_concurrent",
                )
            self._running[tenant_id] = busy + 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn)
        finally:
            with self._lock:
                left = self._running[tenant_id] - 1
                if left:
                    self._running[tenant_id] = left
                else:
                    del self._running[tenant_id]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def heavy_work(state: AppState) -> HeavyWork:
    """The process's heavy-work pool (made on first use; closed with the app)."""
    work = state.services.get("heavy")
    if not isinstance(work, HeavyWork):
        work = state.services["heavy"] = HeavyWork(state.settings)
    return work


async def run_heavy(state: AppState, tenant_id: str, what: str, fn: Callable[[], T]) -> T:
    return await heavy_work(state).run(tenant_id, what, fn)
