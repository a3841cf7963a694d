"""What the API hands validated events to, in either mode: the embedded ``pipeline.IngestPipeline`` or
cluster mode's ``cluster.ClusterIngest``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ecomops.ingest.messages import Accepted
from ecomops.ingest.pipeline import IngestFigures, SubmitResult


@runtime_checkable
class IngestWriter(Protocol):
    running: bool

    async def prepare_tenant(self, tenant_id: str) -> str:
        """Make the tenant ready to take events; returns its slug."""
        ...

    async def submit(self, tenant_id: str, items: list[Accepted], dead_lines: list[bytes]) -> SubmitResult:
        """Returns once the events are durable: the acknowledgement may then be sent."""
        ...

    def refused(self, tenant_id: str, events: int) -> None: ...

    def flush(self) -> None: ...

    def seal_tenant(self, tenant_id: str) -> int: ...

    def figures(self) -> IngestFigures: ...
