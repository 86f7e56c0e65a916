"""The counters contract: request counts per fixed window, shared by every process on the database.

What rate limits that documents describe per account or per key count with,
so that the budget holds however many LensGraph processes serve the account.
"""

from __future__ import annotations

from typing import Protocol


class CounterStore(Protocol):
    async def hit(self, bucket: str, window_start_ms: int, window_ms: int) -> int:
        """Count one request in the bucket's window starting at window_start_ms; returns the window's count
        including this one. Windows are dropped some time after they end."""
        ...
