"""One SQLite file in WAL mode: a writer thread, a pool of readers, and migrations.

One writer thread owns the write connection and runs each transaction whole
(planner included), so there is no hop back to a busy event loop between
statements, and its FIFO queue is the single-writer order. A small pool of
read-only aiosqlite connections serves queries beside it (WAL lets readers
run beside the writer). Every connection works on its own thread, so the
event loop never blocks on disk. Several processes may open one file: SQLite's
lock makes their write transactions take turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.sqlite.migrations import migrate

T = TypeVar("T")

READERS = 4
BUSY_TIMEOUT_MS = 10_000
# Page caches, per connection. SQLite fills a cache as it reads pages and keeps them until the cap, so a
# growing database makes the process grow to the sum of the caps: with 64 MiB for the writer and 32 per
# reader (192 MiB), RSS grew by 20 MB a minute under the 200 events/s soak (bench/soak.py). Pages left out
# are read back from the OS's file cache: at these caps ingest ran at the same rate (100,000 events,
# 6,976-7,228 events/s against 6,567-6,750) and the 1000-event trace read in the same time (bench/README.md).
WRITER_CACHE_KIB = 8 * 1024
READER_CACHE_KIB = 4 * 1024


class Database:
    def __init__(self, path: Path | str, readers: int = READERS) -> None:
        self.path = Path(path)
        self._readers_wanted = readers
        self._writer: sqlite3.Connection | None = None
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lensgraph-sqlite-writer")
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self.in_writer(self._open_writer)
        for _ in range(self._readers_wanted):
            conn = await aiosqlite.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            self._all_readers.append(conn)
            self._readers.put_nowait(conn)

    def _open_writer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            "PRAGMA temp_store=MEMORY",
            f"PRAGMA cache_size=-{WRITER_CACHE_KIB}",
        ):
            conn.execute(pragma)
        try:
            migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._writer = conn

    async def close(self) -> None:
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        if self._writer is not None:
            await self.in_writer(self._writer.close)
            self._writer = None
        self._write_thread.shutdown(wait=True)

    async def in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """On the writer thread: one IMMEDIATE transaction around work."""
        db = self._writer
        assert db is not None, "store not started"
        db.execute("BEGIN IMMEDIATE")
        try:
            out = work(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return out

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """work inside one write transaction, on the writer thread."""
        return await self.in_writer(self.transaction, work)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Sequence[Any]]:
        async with self.reader() as conn:
            return list(await conn.execute_fetchall(sql, args))

    async def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run statements in one write transaction; returns each one's changed-row count."""
        return await self.run(lambda db: [db.execute(sql, args).rowcount for sql, args in statements])
