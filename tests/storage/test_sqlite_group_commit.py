"""SQLite ingest off the critical path: group commit, batches sharing a transaction. What is stored must not
change: same hashes and chains, a rejected batch stores nothing. (The search index that follows the commits:
tests/storage/test_sqlite_search_index.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from typing import Any

import pytest

from resolvers.core.auth import Forbidden
from resolvers.traces.chain import event_hash, verify
from resolvers.traces.planner import BatchPlanner
from storage.models import Event
from storage.sqlite import database
from storage.sqlite.store import SQLiteStore
from tests.storage.batches import steps

P = "proj"


@pytest.fixture
def store(sqlite_store: SQLiteStore) -> SQLiteStore:
    return sqlite_store


async def commit(store: SQLiteStore, events: list[Event], kind: str = "agent") -> Any:
    return await store.traces.commit_batch(P, events, BatchPlanner(P, {}, kind))


async def test_concurrent_batches_share_transactions_and_chains_stay_exact(store: SQLiteStore) -> None:
    transactions = 0
    original = store.db.transaction

    def counting(work: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return original(work)

    store.db.transaction = counting  # type: ignore[method-assign]
    # 40 batches of 5 over 4 sessions, all in flight at once: each session's events in 10 batches.
    results = await asyncio.gather(*(commit(store, steps(f"s{k % 4}", k // 4 * 5, 5)) for k in range(40)))
    assert all(len(r.inserted) == 5 for r in results)
    assert transactions < 40  # they were grouped
    positions = [e.position for r in results for e in r.inserted]
    assert positions == list(range(1, 201))  # commit order is answer order, no gaps
    for k in range(4):
        chain = await store.traces.session_chain(P, f"s{k}")
        assert [e.seq for e in chain] == list(range(1, 51)) and verify(chain)
        prev = None
        for e in chain:  # the same hash a batch alone would have given
            assert e.prev_hash == prev and e.hash == event_hash(e, prev)
            prev = e.hash
        (session,) = await store.traces.sessions_by_ids(P, [f"s{k}"])
        assert session.event_count == 50 and session.chain_seq == 50 and session.chain_head == prev


async def test_a_rejected_batch_in_a_group_stores_nothing_and_the_others_commit(store: SQLiteStore) -> None:
    await commit(store, steps("agent-trace", 0, 3))
    groups: list[int] = []
    original = database._Group.__call__

    def counted(self: Any, db: Any) -> Any:
        groups.append(len(self.works))
        return original(self, db)

    gate = threading.Event()
    # The writer thread busy: the three batches queue behind it, and its next transaction takes them all.
    held = asyncio.ensure_future(store.db.in_writer(gate.wait, 5))
    await asyncio.sleep(0)
    database._Group.__call__ = counted  # type: ignore[method-assign]
    try:
        good1 = asyncio.ensure_future(commit(store, steps("s1", 0, 4)))
        bad = asyncio.ensure_future(  # a tracker token may not write an agent trace: refused in the transaction
            commit(store, [*steps("t1", 0, 2), *steps("agent-trace", 3, 2)], kind="tracker")
        )
        good2 = asyncio.ensure_future(commit(store, steps("s1", 4, 4)))
        await asyncio.sleep(0.05)
        gate.set()
        assert await held
        r1 = await good1
        with pytest.raises(Forbidden):
            await bad
        r2 = await good2
    finally:
        database._Group.__call__ = original  # type: ignore[method-assign]
    assert groups == [3]  # the three batches shared one transaction
    assert [e.position for e in [*r1.inserted, *r2.inserted]] == [4, 5, 6, 7, 8, 9, 10, 11]
    assert await store.traces.sessions_by_ids(P, ["t1"]) == []
    assert [e.seq for e in await store.traces.session_chain(P, "agent-trace")] == [1, 2, 3]
    chain = await store.traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == list(range(1, 9)) and verify(chain)


async def test_the_writer_hands_itself_the_next_group_while_the_loop_is_busy(store: SQLiteStore) -> None:
    """A group's commit does not wait for the event loop to queue the next one: with the loop blocked (busy
    reading requests, say), the batches queued behind a full group still commit."""
    gate = threading.Event()
    held = asyncio.ensure_future(store.db.in_writer(gate.wait, 5))
    await asyncio.sleep(0)
    count = database.GROUP_MAX + 6  # two groups' worth
    batches = [asyncio.ensure_future(commit(store, steps(f"s{k}", 0, 1))) for k in range(count)]
    await asyncio.sleep(0.05)  # every batch queued
    gate.set()
    stored = 0
    with contextlib.closing(sqlite3.connect(store.db.path)) as peek:
        deadline = time.monotonic() + 10
        while stored < count and time.monotonic() < deadline:  # the loop blocked all along: no await here
            time.sleep(0.01)
            stored = peek.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert stored == count
    assert await held
    results = await asyncio.gather(*batches)
    assert sorted(e.position for r in results for e in r.inserted) == list(range(1, count + 1))


async def test_closing_commits_and_answers_the_grouped_work_still_queued(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "closing.db")
    await store.start()
    gate = threading.Event()
    held = asyncio.ensure_future(store.db.in_writer(gate.wait, 5))
    await asyncio.sleep(0)
    batches = [asyncio.ensure_future(commit(store, steps(f"s{k}", 0, 2))) for k in range(database.GROUP_MAX + 6)]
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # it waits for the queued work
    gate.set()
    await closing
    assert await held
    assert all(b.done() and len(b.result().inserted) == 2 for b in batches)  # answered before close returned
    again = SQLiteStore(tmp_path / "closing.db")
    await again.start()
    try:
        assert len(await again.traces.sessions_by_ids(P, [f"s{k}" for k in range(database.GROUP_MAX + 6)])) == 70
    finally:
        await again.close()
