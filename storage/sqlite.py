"""The embedded default store: one SQLite file in WAL mode.

One writer thread owns the write connection and runs every commit_batch as a
single IMMEDIATE transaction; a small pool of read-only aiosqlite connections
serves queries concurrently (WAL lets readers run beside the writer). Every
connection works on its own thread, so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.contract import CommitResult, Planner
from storage.models import Event, Session
from storage.sqlite_query import _chunks, _marks
from storage.sqlite_reads import ReadsMixin
# bench/write_path.py builds rows and statements through this module, so these stay importable here.
from storage.sqlite_rows import (
    AGENT_COLUMNS, EVENT_COLUMNS, INSERT_EVENT_COLUMNS, SESSION_COLUMNS, _event, _event_row, _prepare, _session,
    _session_row,
)
from storage.sqlite_schema import DDL, SCHEMA_VERSION
from storage.sqlite_tenancy import TenancyMixin
from storage.timeutil import to_ms

T = TypeVar("T")

READERS = 4


class SQLiteStore(ReadsMixin, TenancyMixin):
    def __init__(self, path: Path | str, readers: int = READERS) -> None:
        self.path = Path(path)
        self._readers_wanted = readers
        self._writer: sqlite3.Connection | None = None
        # One thread owns the write connection and runs each transaction whole, planner
        # included: no hop back to a busy event loop between statements, and its FIFO
        # queue is the single-writer order (completions resume callers in commit order).
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lensgraph-sqlite-writer")
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._in_writer(self._open_writer)
        for _ in range(self._readers_wanted):
            conn = await aiosqlite.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
            await conn.execute("PRAGMA busy_timeout=10000")
            await conn.execute("PRAGMA cache_size=-32768")
            self._all_readers.append(conn)
            self._readers.put_nowait(conn)

    def _open_writer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=10000",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA cache_size=-65536",
        ):
            conn.execute(pragma)
        conn.executescript(DDL)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._writer = conn

    async def close(self) -> None:
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        if self._writer is not None:
            await self._in_writer(self._writer.close)
            self._writer = None
        self._write_thread.shutdown(wait=True)

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
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

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def _fetch(self, sql: str, args: Sequence[Any]) -> list[Sequence[Any]]:
        async with self._reader() as conn:
            return list(await conn.execute_fetchall(sql, args))

    async def _write(self, statements: list[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run statements in one write transaction; returns each one's changed-row count."""
        return await self._in_writer(
            self._transaction, lambda db: [db.execute(sql, args).rowcount for sql, args in statements]
        )

    # -- the one write -----------------------------------------------------

    async def commit_batch(self, project_id: str, events: list[Event], plan: Planner) -> CommitResult:
        prepared = {e.id: _prepare(e) for e in events}
        return await self._in_writer(
            self._transaction, lambda db: self._commit(db, project_id, events, plan, prepared)
        )

    def _commit(
        self,
        db: sqlite3.Connection,
        project_id: str,
        events: list[Event],
        plan: Planner,
        prepared: dict[str, tuple[bytes, bytes, str]],
    ) -> CommitResult:
        existing: dict[str, Event] = {}
        ids = list(dict.fromkeys(e.id for e in events))
        for chunk in _chunks(ids):
            rows = db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND id IN ({_marks(len(chunk))})",
                (project_id, *chunk),
            ).fetchall()
            existing.update((row[1], _event(row)) for row in rows)
        fresh: list[Event] = []
        seen: set[str] = set(existing)
        for e in events:
            if e.id not in seen:
                seen.add(e.id)
                fresh.append(e)
        if not fresh:
            return CommitResult(events=[existing[e.id] for e in events], sessions=[], inserted=[])

        session_ids = list(dict.fromkeys(e.session_id for e in fresh))
        current: dict[str, Session] = {}
        for chunk in _chunks(session_ids):
            rows = db.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND id IN ({_marks(len(chunk))})",
                (project_id, *chunk),
            ).fetchall()
            current.update((row[1], _session(row)) for row in rows)

        result = plan(current, fresh)
        ((last,),) = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchall()
        for offset, event in enumerate(result.events, start=1):
            event.position = last + offset

        db.executemany(
            f"INSERT INTO events ({INSERT_EVENT_COLUMNS}) VALUES ({_marks(21)})",
            [_event_row(e, prepared[e.id]) for e in result.events],
        )
        db.execute(
            "INSERT INTO events_fts (rowid, search_text) SELECT rowid, search_text FROM events"
            " WHERE rowid > ? AND rowid <= ?",
            (last, last + len(result.events)),
        )
        db.executemany(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({_marks(20)})"
            " ON CONFLICT (project_id, id) DO UPDATE SET "
            + ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in SESSION_COLUMNS.split(",")[2:]),
            [_session_row(s) for s in result.sessions],
        )
        retagged = [s for s in result.sessions if s.tags != (current[s.id].tags if s.id in current else [])]
        if retagged:
            db.executemany(
                "DELETE FROM session_tags WHERE project_id = ? AND session_id = ?",
                [(project_id, s.id) for s in retagged],
            )
            db.executemany(
                "INSERT OR IGNORE INTO session_tags (project_id, tag, session_id) VALUES (?, ?, ?)",
                [(project_id, tag, s.id) for s in retagged for tag in s.tags],
            )
        if result.agents:
            db.executemany(
                f"INSERT INTO agents ({AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (project_id, id) DO UPDATE SET"
                " name = COALESCE(excluded.name, agents.name),"
                " first_seen = MIN(agents.first_seen, excluded.first_seen),"
                " last_seen = MAX(agents.last_seen, excluded.last_seen)",
                [(a.project_id, a.id, a.name, to_ms(a.first_seen), to_ms(a.last_seen)) for a in result.agents],
            )
        stored = {e.id: e for e in result.events}
        stored.update(existing)
        return CommitResult(events=[stored[e.id] for e in events], sessions=result.sessions, inserted=result.events)
