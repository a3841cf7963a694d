"""What the ingest loader and the PII sealing share: one event's sealed PII, where it goes, and the
error for a WAL line that can never load."""

from __future__ import annotations

from collections.abc import Callable, Sequence


class UnloadableLine(Exception):
    """A WAL line that will never load (e.g. its sealed PII does not authenticate): quarantine it."""


class WalPii:
    """One event's sealed PII as the loader sees it: who it belongs to, in load order."""

    __slots__ = ("anonymous_id", "message_id", "sealed", "user_id")

    def __init__(self, message_id: str, user_id: str | None, anonymous_id: str | None, sealed: str) -> None:
        self.message_id = message_id
        self.user_id = user_id
        self.anonymous_id = anonymous_id
        self.sealed = sealed

    @property
    def customer_id(self) -> str | None:
        """The vault key: the userId (the warehouse's customer id), else the anonymousId."""
        return self.user_id or self.anonymous_id


#: Receives the sealed PII of the events about to be loaded (``ingest.pii.store_wal_pii``).
PiiSink = Callable[[Sequence[WalPii]], None]
