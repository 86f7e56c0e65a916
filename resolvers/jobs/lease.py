"""One run per window across every process: the first to count in a job's window runs it.

A claim is a hit on the store's shared counters (the ones rate limits use), so
it holds across processes and machines with no other coordination; a process
that dies mid-run leaves the window done, and the next window runs again.
"""

from __future__ import annotations

import time

from resolvers.core.services import Services


async def claim_window(services: Services, job: str, window_seconds: float) -> bool:
    window_ms = max(int(window_seconds * 1000), 1)
    now_ms = int(time.time() * 1000)
    start = now_ms - now_ms % window_ms
    return await services.store.counters.hit(f"job:{job}", start, window_ms) == 1
