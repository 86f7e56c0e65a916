"""The SQLite change feed: this process's commits from memory (at most MAX_PENDING batches; past that it reads the
file), the file read only when memory cannot answer, and the commit hook that hands commits over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


async def test_own_commits_come_from_memory_and_another_process_is_still_seen(tmp_path: Path) -> None:
    """A burst of this process's commits is delivered without reading the file on each wake; a commit of another
    store on the same file (another process, as far as the feed can tell) is still delivered, in order."""
    store = SQLiteStore(tmp_path / "feed.db")
    other = SQLiteStore(tmp_path / "feed.db")
    await store.start()
    await other.start()
    try:
        reads = 0
        fetch = store.db.fetch

        async def counting(sql: str, args: Any) -> Any:
            nonlocal reads
            reads += 1
            return await fetch(sql, args)

        store.db.fetch = counting  # type: ignore[method-assign]
        # No idle poll during the test: what reads the file is a wake that memory cannot answer.
        store.live.poll_seconds = 60
        ready = asyncio.Event()
        changes = store.live.follow(ready)
        delivered: list[str] = []

        async def drain() -> None:
            async for change in changes:
                delivered.extend(e.id for e in change.events)

        task = asyncio.ensure_future(drain())
        await ready.wait()
        before = reads
        for b in range(40):  # one at a time: each wakes the feed
            await store.traces.commit_batch(P, [ev(b, second=b)], BatchPlanner(P, {}))
            await asyncio.sleep(0)
        for _ in range(100):
            if len(delivered) == 40:
                break
            await asyncio.sleep(0.01)
        assert delivered == [f"s1-e{i:04d}" for i in range(40)]
        assert reads == before  # every one from memory (before this feed read the file on every wake)
        # Another writer's commit, then one of ours: ours does not follow the last delivered, so the file is
        # read, and every event comes once, in commit order.
        await other.traces.commit_batch(P, [ev(0, session="s2")], BatchPlanner(P, {}))
        await store.traces.commit_batch(P, [ev(40, second=40)], BatchPlanner(P, {}))
        for _ in range(300):
            if len(delivered) == 42:
                break
            await asyncio.sleep(0.01)
        assert delivered[40:] == ["s2-e0000", "s1-e0040"]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await other.close()
        await store.close()


async def test_a_commit_hook_runs_before_any_answer_and_a_failing_one_answers_all_the_same(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "hook.db")
    await store.start()
    try:
        seen: list[str] = []

        def hook(name: str) -> Any:
            def on_commit(value: int) -> None:
                seen.append(f"{name} committed {value}")
                if name == "b":
                    raise RuntimeError("a hook that fails")
            return on_commit

        async def work(name: str, value: int) -> None:
            out = await store.db.run_grouped(lambda db: db.execute("SELECT ?", (value,)).fetchone()[0], hook(name))
            seen.append(f"{name} answered {out}")

        await asyncio.gather(*(work(name, value) for name, value in (("a", 1), ("b", 2), ("c", 3))))
        hooks = [s for s in seen if "committed" in s]
        assert hooks == ["a committed 1", "b committed 2", "c committed 3"]
        assert sorted(s for s in seen if "answered" in s) == ["a answered 1", "b answered 2", "c answered 3"]
        # Each batch's hook ran before its answer (a group's hooks all before its answers).
        assert all(seen.index(f"{n} committed {v}") < seen.index(f"{n} answered {v}") for n, v in (("a", 1), ("c", 3)))
    finally:
        await store.close()


@dataclass
class Tail:
    """A feed following another store's commits on the same file: the rows it read and what it delivered."""

    store: SQLiteStore
    other: SQLiteStore
    rows_read: list[str] = field(default_factory=list)  # the project of every event row the feed fetched
    delivered: list[tuple[str, str]] = field(default_factory=list)  # (project, event id), in delivery order


@contextlib.asynccontextmanager
async def tailing(path: Path, followed: Callable[[], Collection[str]]) -> AsyncIterator[Tail]:
    tail = Tail(SQLiteStore(path), SQLiteStore(path))
    await tail.store.start()
    await tail.other.start()
    try:
        fetch = tail.store.db.fetch

        async def counting(sql: str, args: Any) -> Any:
            out = await fetch(sql, args)
            if "FROM events e WHERE" in sql:
                tail.rows_read.extend(row[0] for row in out)
            return out

        tail.store.db.fetch = counting  # type: ignore[method-assign]
        tail.store.live.poll_seconds = 0.02
        ready = asyncio.Event()
        changes = tail.store.live.follow(ready, followed)

        async def drain() -> None:
            async for change in changes:
                tail.delivered.extend((change.project_id, e.id) for e in change.events)

        task = asyncio.ensure_future(drain())
        await ready.wait()
        yield tail
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await tail.other.close()
        await tail.store.close()


async def until(done: Callable[[], bool]) -> None:
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the feed did not get there")


async def test_another_stores_commits_are_read_only_for_projects_someone_follows(tmp_path: Path) -> None:
    """Under `serve --workers N` every process tails the others' commits. With nobody listening the feed moves
    past them without reading a row; with listeners it reads only their projects' rows; a project that gains a
    listener gets every commit made after that, once, in commit order."""
    followed: set[str] = set()
    async with tailing(tmp_path / "feed.db", lambda: followed) as tail:
        store, other, rows_read, delivered = tail.store, tail.other, tail.rows_read, tail.delivered
        await other.traces.commit_batch(P, [ev(i) for i in range(3)], BatchPlanner(P, {}))
        await other.traces.commit_batch("q", [ev(i, project_id="q") for i in range(2)], BatchPlanner("q", {}))
        await until(lambda: store.live._last == 5)  # past both commits
        assert rows_read == [] and delivered == []

        followed.add("q")
        await other.traces.commit_batch(P, [ev(i) for i in range(3, 6)], BatchPlanner(P, {}))
        await other.traces.commit_batch("q", [ev(i, project_id="q") for i in range(2, 4)], BatchPlanner("q", {}))
        await other.traces.commit_batch(P, [ev(i) for i in range(6, 8)], BatchPlanner(P, {}))
        await until(lambda: store.live._last == 12)
        assert delivered == [("q", "s1-e0002"), ("q", "s1-e0003")]
        assert rows_read == ["q", "q"]

        followed.add(P)  # both now: everything after this, in commit order
        await other.traces.commit_batch(P, [ev(8)], BatchPlanner(P, {}))
        await other.traces.commit_batch("q", [ev(4, project_id="q")], BatchPlanner("q", {}))
        await until(lambda: len(delivered) == 4)
        assert delivered[2:] == [(P, "s1-e0008"), ("q", "s1-e0004")]


async def test_past_the_named_limit_every_projects_rows_are_read_and_delivered(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Too many followed projects to name in one query: the feed reads them all, as with no listener set (the bus
    then drops what nobody here follows)."""
    monkeypatch.setattr(live, "MAX_NAMED_PROJECTS", 1)
    async with tailing(tmp_path / "feed.db", lambda: {P, "q"}) as tail:
        await tail.other.traces.commit_batch("r", [ev(0, project_id="r")], BatchPlanner("r", {}))
        await tail.other.traces.commit_batch("q", [ev(1, project_id="q")], BatchPlanner("q", {}))
        await until(lambda: len(tail.delivered) == 2)
        assert tail.delivered == [("r", "s1-e0000"), ("q", "s1-e0001")]
        assert tail.rows_read == ["r", "q"]
