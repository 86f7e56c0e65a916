"""The WAL starts over after each complete pass of the background checkpointer, even when groups committed
during the pass (storage/sqlite/database.py, _finish_checkpoint): a real Database, its writer and checkpointer
threads, read back from the WAL file's header."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import struct
import threading
from pathlib import Path

from storage.sqlite.database import Database

ROW = "INSERT INTO meta (key, value) VALUES (?, randomblob(3000))"


def restarts(db_path: Path) -> int:
    """The WAL header's checkpoint sequence number, which SQLite adds one to each time it starts the WAL over
    (written with the first frame after it)."""
    with open(f"{db_path}-wal", "rb") as wal:
        header = wal.read(32)
    (sequence,) = struct.unpack(">I", header[12:16])
    return sequence


async def checkpoint_pass(db: Database) -> None:
    """One pass of the background checkpointer, on its thread, as _checkpoint_soon runs it."""
    await asyncio.get_running_loop().run_in_executor(db._checkpointer, db._background_checkpoint)


async def test_a_group_committed_during_a_pass_does_not_keep_the_wal_from_starting_over(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = Database(path, readers=1)
    await db.open()
    db._checkpoint_last = math.inf  # the test runs each pass itself, at the moment it needs one
    try:
        await db.write([(ROW, ("a",))])
        # A group on the writer, inside its transaction (begun before the pass, with "a" still to copy), waits
        # until a pass has copied every frame committed so far; then it commits frames the pass did not copy.
        in_transaction, pass_done = threading.Event(), threading.Event()

        def during_the_pass(conn: sqlite3.Connection) -> None:
            conn.execute(ROW, ("b",))
            in_transaction.set()
            assert pass_done.wait(10)

        group = asyncio.ensure_future(db.run_grouped(during_the_pass))
        assert await asyncio.to_thread(in_transaction.wait, 10)
        await checkpoint_pass(db)
        pass_done.set()
        await group
        before = restarts(path)

        await db.write([(ROW, ("c",))])

        assert restarts(path) == before + 1  # the next transaction started the WAL over
        assert await db.fetch("SELECT key FROM meta WHERE key IN ('a', 'b', 'c') ORDER BY key", ()) == [
            ("a",), ("b",), ("c",)]
    finally:
        await db.close()


async def test_without_a_complete_pass_the_wal_grows_on(tmp_path: Path) -> None:
    """The writer copies frames only after a pass that copied all it found: between passes its transactions
    add to the WAL (the fsync of a checkpoint stays off ingest's path)."""
    path = tmp_path / "b.db"
    db = Database(path, readers=1)
    await db.open()
    db._checkpoint_last = math.inf
    try:
        await db.write([(ROW, ("a",))])
        before = restarts(path)
        for key in ("b", "c", "d"):
            await db.write([(ROW, (key,))])
        assert restarts(path) == before
    finally:
        await db.close()
