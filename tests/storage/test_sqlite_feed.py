"""The SQLite change feed holds at most MAX_PENDING batches in memory; past that it reads the file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from resolvers.traces.planner import BatchPlanner
from storage.sqlite import live
from storage.sqlite.store import SQLiteStore
from tests.storage.batches import P, ev


async def test_a_feed_nobody_drains_keeps_a_bounded_backlog_and_still_delivers_every_event(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "feed.db")
    await store.start()
    try:
        ready = asyncio.Event()
        changes = store.live.follow(ready)
        first = asyncio.ensure_future(anext(changes))
        await ready.wait()
        batches = live.MAX_PENDING + 36
        for b in range(batches):
            batch = [ev(b * 3 + i, second=b * 3 + i) for i in range(3)]
            await store.traces.commit_batch(P, batch, BatchPlanner(P, {}))
            # The follower delivered the first batch and waits to be asked again: the rest pile up.
            assert len(store.live._pending) <= live.MAX_PENDING
        delivered = [e.id for e in (await first).events]
        while len(delivered) < batches * 3:
            change = await asyncio.wait_for(anext(changes), 5)
            delivered += [e.id for e in change.events]
        assert delivered == [f"s1-e{i:04d}" for i in range(batches * 3)]  # each once, in commit order
        await changes.aclose()
    finally:
        await store.close()
