"""The write side's threads run below the request threads (storage/sqlite/priority.py): the writer, the
checkpointer and the search-index follower of a real Database, read back from the kernel by thread id."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from storage.sqlite.database import Database
from storage.sqlite.priority import MAX_NICE, WRITE_NICE, lower_this_thread
from storage.sqlite.search_index import SearchIndex

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")


def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


async def thread_nices(db: Database, search: SearchIndex) -> dict[str, int]:
    writer = await db.in_writer(threading.get_native_id)
    checkpointer = db._checkpointer.submit(threading.get_native_id).result(timeout=10)
    assert search._thread is not None and search._thread.native_id is not None
    assert await db.fetch("SELECT 1", ()) == [(1,)]
    # aiosqlite runs each reader connection on a thread of its own; they answer requests, so keep the priority.
    readers = {nice_of(c._thread.native_id) for c in db._all_readers if c._thread.native_id is not None}
    assert len(readers) == 1
    return {
        "writer": nice_of(writer),
        "checkpointer": nice_of(checkpointer),
        "follower": nice_of(search._thread.native_id),
        "loop": nice_of(threading.get_native_id()),
        "readers": readers.pop(),
    }


async def open_database(path: Path, **options: int) -> tuple[Database, SearchIndex]:
    db = Database(path, readers=1, **options)
    search = SearchIndex(db)
    await db.open()
    return db, search


async def test_the_writer_checkpointer_and_follower_run_ten_nice_levels_below_the_loop(tmp_path: Path) -> None:
    base = nice_of(threading.get_native_id())
    db, search = await open_database(tmp_path / "a.db")
    try:
        nices = await thread_nices(db, search)
    finally:
        await db.close()
    lowered = min(base + WRITE_NICE, MAX_NICE)
    assert WRITE_NICE == 10
    assert nices == {"writer": lowered, "checkpointer": lowered, "follower": lowered, "loop": base, "readers": base}


async def test_write_nice_zero_leaves_every_thread_at_the_process_priority(tmp_path: Path) -> None:
    base = nice_of(threading.get_native_id())
    db, search = await open_database(tmp_path / "b.db", write_nice=0)
    try:
        nices = await thread_nices(db, search)
    finally:
        await db.close()
    assert nices == {"writer": base, "checkpointer": base, "follower": base, "loop": base, "readers": base}


def test_lowering_adds_to_the_threads_own_nice_value_and_stops_at_19() -> None:
    seen: list[tuple[int, int]] = []

    def run() -> None:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, 15)  # as if the operator started the server at nice 15
        lower_this_thread(3)
        first = nice_of(tid)
        lower_this_thread(3)
        seen.append((first, nice_of(tid)))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [(18, 19)]
