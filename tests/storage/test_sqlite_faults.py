"""SQLite storage faults, made for real, as the store contract says them: StoreUnavailable with a retry hint,
nothing of the failed transaction stored, reads served throughout, and writes back without a reopen of the store."""

from __future__ import annotations

import asyncio
import resource
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from resolvers.traces.chain import verify
from resolvers.traces.planner import BatchPlanner
from storage.contract import EventQuery, Page, StoreBusy, StoreReadOnly, StoreUnavailable
from storage.models import Event
from storage.sqlite.faults import FULL
from storage.sqlite.store import SQLiteStore
from storage.timeutil import now_ms
from tests.faults import drop_filler, fill_to, write_lock, write_turn
from tests.storage.test_sqlite_migrations import write_version_1

P = "p"
LIMIT = 1024 * 1024


def events(first: int, count: int = 5, text: int = 200) -> list[Event]:
    at = now_ms()
    return [Event(project_id=P, id=f"e{n:05d}", session_id=f"s{n % 2}", agent_id="a", type="custom", timestamp=at,
                  received_at=at, payload={"n": n, "text": f"{n}" * text}) for n in range(first, first + count)]


async def commit(store: SQLiteStore, first: int, count: int = 5, text: int = 200) -> None:
    await store.traces.commit_batch(P, events(first, count, text), BatchPlanner(P))


async def stored(store: SQLiteStore) -> tuple[int, dict[str, int]]:
    """(events stored, each session's event counter), after checking every chain and counter agree."""
    total = (await store.traces.find_events(P, EventQuery(), Page(limit=1))).total
    sessions = {}
    for sid in ("s0", "s1"):
        chain = await store.traces.session_chain(P, sid)
        found = await store.traces.sessions_by_ids(P, [sid])
        count = found[0].event_count if found else 0
        assert len(chain) == count and verify(chain)
        sessions[sid] = count
    return total, sessions


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[list[SQLiteStore]]:
    stores: list[SQLiteStore] = []
    yield stores
    for store in stores:
        await store.close()


async def start(stores: list[SQLiteStore], path: Path, **options: int) -> SQLiteStore:
    store = SQLiteStore(path, **options)
    await store.start()
    stores.append(store)
    return store


async def test_start_up_takes_no_write_lock_and_a_lock_held_past_the_timeout_is_store_busy(
    tmp_path: Path, opened: list[SQLiteStore]
) -> None:
    path = tmp_path / "db.sqlite"
    first = await start(opened, path)
    await commit(first, 0)
    await first.close()
    opened.clear()
    with write_lock(path):  # another process's long transaction
        store = await start(opened, path, busy_timeout_ms=50)  # migrations only read a current database
        assert await stored(store) == (5, {"s0": 3, "s1": 2})
        with pytest.raises(StoreBusy) as busy:
            await commit(store, 5)
        assert busy.value.retry_after == 1
        assert str(busy.value) == "the database stayed locked by another writer for over 50 ms (SQLITE_BUSY)"
        assert busy.value.__cause__.sqlite_errorname == "SQLITE_BUSY"  # type: ignore[union-attr]
        await store.check_writes()  # contention is not a store that cannot write
    await commit(store, 5)
    assert await stored(store) == (10, {"s0": 5, "s1": 5})


async def test_a_write_waits_for_another_processes_write_turn_and_one_held_past_the_timeout_is_store_busy(
    tmp_path: Path, opened: list[SQLiteStore]
) -> None:
    path = tmp_path / "db.sqlite"
    store = await start(opened, path)
    await commit(store, 0)
    with write_turn(path):
        waiting = asyncio.ensure_future(commit(store, 5))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # it waits for the turn, not only for SQLite's lock (which is free)
        assert (await store.traces.find_events(P, EventQuery(), Page(limit=1))).total == 5  # reads go on
    await asyncio.wait_for(waiting, 10)  # and writes as soon as the turn is given back
    assert await stored(store) == (10, {"s0": 5, "s1": 5})
    await store.close()
    opened.clear()

    store = await start(opened, path, busy_timeout_ms=50)
    with write_turn(path):
        with pytest.raises(StoreBusy) as busy:
            await commit(store, 10)
        assert str(busy.value) == "the database stayed locked by another writer for over 50 ms (its write turn)"
        assert busy.value.retry_after == 1
        await store.check_writes()  # contention is not a store that cannot write
    assert await stored(store) == (10, {"s0": 5, "s1": 5})  # nothing of the refused batch
    await commit(store, 10)
    assert await stored(store) == (15, {"s0": 8, "s1": 7})


async def test_a_full_database_stores_nothing_of_the_batch_and_takes_writes_once_space_is_freed(
    tmp_path: Path, opened: list[SQLiteStore]
) -> None:
    path = tmp_path / "db.sqlite"
    store = await start(opened, path, max_bytes=LIMIT)
    await commit(store, 0)
    fill_to(path, LIMIT, leave_bytes=0)
    with pytest.raises(StoreReadOnly) as full:
        await commit(store, 5, count=50, text=2000)
    assert (str(full.value), full.value.retry_after) == (f"{FULL} (SQLITE_FULL)", 30)
    assert await stored(store) == (5, {"s0": 3, "s1": 2})  # no event, no counter, no chain link of it
    with pytest.raises(StoreReadOnly):  # the probe finds no room either
        await store.check_writes()
    drop_filler(path)
    await store.check_writes()
    await commit(store, 5, count=50, text=2000)
    assert await stored(store) == (55, {"s0": 28, "s1": 27})


async def test_an_io_error_on_write_rolls_back_and_a_fresh_writer_takes_writes_once_the_file_may_grow(
    tmp_path: Path, opened: list[SQLiteStore]
) -> None:
    """RLIMIT_FSIZE makes the kernel refuse to grow any file of this process (EFBIG): SQLite's real write path
    fails with SQLITE_IOERR_WRITE. Raised again, the limit frees the store as freed space would."""
    path = tmp_path / "db.sqlite"
    store = await start(opened, path)
    await commit(store, 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    faults: list[StoreUnavailable] = []
    committed = 5
    wal_bytes = Path(f"{path}-wal").stat().st_size
    resource.setrlimit(resource.RLIMIT_FSIZE, (wal_bytes + 4096, hard))
    try:
        for n in range(5, 400, 5):
            try:
                await commit(store, n, text=2000)
                committed += 5
            except StoreUnavailable as exc:
                faults.append(exc)
                if len(faults) == 3:
                    break
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert len(faults) == 3
    for fault in faults:
        cause = fault.__cause__
        assert isinstance(cause, sqlite3.OperationalError)
        # A write cut short at the limit is SQLITE_FULL; one that starts past it, SQLITE_IOERR_WRITE.
        assert (type(fault), str(fault)) in [
            (StoreUnavailable, "the disk failed an I/O operation (SQLITE_IOERR_WRITE)"),
            (StoreReadOnly, f"{FULL} (SQLITE_FULL)"),
        ]
        assert cause.sqlite_errorname == str(fault).rsplit("(", 1)[1].rstrip(")")
    total, sessions = await stored(store)  # reads went on; nothing of a failed batch is there
    assert total == committed == sum(sessions.values())
    await commit(store, 1000)
    assert (await stored(store))[0] == committed + 5


async def test_a_migration_that_finds_no_room_refuses_to_start_and_leaves_the_database_as_it_was(
    tmp_path: Path, opened: list[SQLiteStore]
) -> None:
    """Start-up writes only when the schema is behind; then it needs space, and without it nothing starts
    (the CLI prints this one line and exits 1) and the database stays at its old version for the next try."""
    path = tmp_path / "v1.db"
    write_version_1(path)
    size = path.stat().st_size
    store = SQLiteStore(path, max_bytes=size)
    with pytest.raises(StoreUnavailable) as refused:
        await store.start()
    assert str(refused.value) == f"cannot open the database {path}: {FULL} (SQLITE_FULL)"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (0,)  # version 1 predates user_version
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    migrated = await start(opened, path)  # with room, the same database migrates and reads
    assert [e.id for e in await migrated.traces.session_chain("p", "s1")] == ["e1", "e2", "e3"]
