"""The full-text index as a follower of the commit positions, on a thread and file of its own.

An event's rowid is its commit position. The index (storage/sqlite/search_file.py) records the last position
it holds: every event at or below it is in events_fts, none above it is. A thread with its own connection
catches it up in transactions on the index's file, which ingest's commits never wait for: woken by each
local commit, and every POLL_S for what other processes wrote or deleted. It first applies the database's
delete log (search_deletes) in order, then indexes the events past its mark, reading the database in the
same transaction's snapshot, so a deleted event is either removed or never indexed.

Search stays exact: before a query that uses the index, the reader checks the index is current and, if not,
wakes the follower and waits for it (at most CURRENT_WAIT_S). If it does not get there (a large backlog
after a rebuild, a full disk), the query leaves the index out and scans: the LIKE on search_text is what
decides a match anyway. Several processes may follow one file; their transactions take turns on its lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading

from storage.sqlite import search_file
from storage.sqlite.database import Database
from storage.sqlite.priority import lower_this_thread
from storage.sqlite.search_file import DATABASE, DELETES_DONE, INDEXED

log = logging.getLogger("storage.sqlite")


def _floor(schema: str) -> str:
    """The highest position ever deleted (schema version 11), in the database attached as schema."""
    return f"COALESCE((SELECT CAST(value AS INTEGER) FROM {schema}.meta WHERE key = 'position_floor'), 0)"


# Positions given to a batch start past every event and past every position ever deleted, so one the index
# may hold is never reused (schema version 11).
LAST_POSITION = f"SELECT MAX(COALESCE((SELECT MAX(rowid) FROM events), 0), {_floor('main')})"

CURRENT = (
    "SELECT COALESCE((SELECT MAX(rowid) FROM main.events), 0),"
    f" {_floor('main')},"
    f" (SELECT value FROM main.meta WHERE key = 'search_id') IS"
    f" (SELECT value FROM {search_file.SCHEMA}.search_meta WHERE key = '{DATABASE}'),"
    f" (SELECT value FROM {search_file.SCHEMA}.search_meta WHERE key = '{INDEXED}')"
)

POLL_S = 0.5  # what other processes commit or delete is found at least this often
# After a wake-up, the follower waits this long for more commits to index in the same transaction (FTS5
# costs less per row in larger ones), unless a search is waiting for it.
GATHER_S = 0.05
CHUNK = 20_000  # rows (or logged deletes) per transaction: a rebuild commits as it goes
CURRENT_WAIT_S = 1.0  # how long a search waits for the index before it scans instead
RETRY_S = (0.1, 0.5, 2.0, 5.0)  # after failed catch-ups, one after another
FOLLOWER_CACHE_KIB = 2 * 1024


class SearchIndex:
    """Started and stopped with the database (Database.serve)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = search_file.search_path(db.path)
        self._wake = threading.Event()
        self._hurry = threading.Event()
        self._stopping = threading.Event()
        self._trims: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[tuple[int, asyncio.Future[bool]]] = []
        db.serve(self)

    # On the loop.

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._follow, name="lensgraph-search-index", daemon=True)
        self._wake.set()  # at once: whether the index matches the database is checked first thing
        self._thread.start()

    async def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._hurry.set()
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        self._answer(None)
        for task in list(self._trims):
            await task

    def wake(self) -> None:
        """After a local commit of events."""
        self._wake.set()

    async def ready(self) -> bool:
        """Whether events_fts holds every event committed so far (after waiting a moment for the follower)."""
        if not self.db.search_attached:
            return False
        ((last, floor, database, indexed),) = await self.db.fetch(CURRENT, ())
        # Current: the index of this database, holding every event, and not ahead of its history (the follower
        # rebuilds one that is, but a position past the history may be given to a new event meanwhile).
        if database and indexed is not None and last <= indexed <= max(last, floor):
            return True
        if self._thread is None:
            return False
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append((last, answer))
        self._wake.set()
        self._hurry.set()
        try:
            async with asyncio.timeout(CURRENT_WAIT_S):
                return await answer
        except TimeoutError:
            return False
        finally:
            self._waiters = [(t, f) for t, f in self._waiters if f is not answer]

    def _answer(self, indexed: int | None) -> None:
        """The follower's news: its mark after a transaction, or None when it failed or stopped."""
        for target, answer in self._waiters:
            if not answer.done() and (indexed is None or indexed >= target):
                answer.set_result(indexed is not None)

    def _report(self, indexed: int | None, trimmed: int = 0) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._answer, indexed)
            if trimmed:
                loop.call_soon_threadsafe(self._trim, trimmed)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _trim(self, done: int) -> None:
        """Drop the delete log's applied entries, in a write of the database's own."""
        if self._stopping.is_set():
            return
        task = asyncio.get_running_loop().create_task(self._trimmed(done))
        self._trims.add(task)
        task.add_done_callback(self._trims.discard)

    async def _trimmed(self, done: int) -> None:
        try:
            await self.db.run(lambda db: db.execute("DELETE FROM search_deletes WHERE seq <= ?", (done,)))
        except Exception as exc:  # left for the next time: an applied entry is never applied again
            log.debug("the search index's delete log was not trimmed: %s", exc)

    # On the follower's thread.

    def _follow(self) -> None:
        lower_this_thread(self.db.write_nice)
        conn: sqlite3.Connection | None = None
        failures = 0
        try:
            while not self._stopping.is_set():
                if failures:  # not sooner for every commit meanwhile: each try would fail alike
                    self._stopping.wait(RETRY_S[min(failures, len(RETRY_S)) - 1])
                else:
                    self._wake.wait(POLL_S)
                if self._stopping.is_set():
                    break
                if not self._hurry.is_set():
                    self._hurry.wait(GATHER_S)
                self._wake.clear()
                self._hurry.clear()
                try:
                    if conn is None:
                        conn = self._connect()
                    while not self._stopping.is_set() and self._step(conn):
                        pass
                    failures = 0
                except sqlite3.Error as exc:
                    failures += 1
                    log.warning("the search index could not catch up (%s); it will try again", exc)
                    self._report(None)
                    if conn is not None:
                        conn.close()
                        conn = None
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={self.db.busy_timeout_ms}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA cache_size=-{FOLLOWER_CACHE_KIB}")
            conn.execute("ATTACH DATABASE ? AS ev", (f"file:{self.db.path.resolve()}?mode=ro",))
            conn.execute(f"PRAGMA ev.cache_size=-{FOLLOWER_CACHE_KIB}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _step(self, conn: sqlite3.Connection) -> bool:
        """One transaction; returns whether there is more to do."""
        conn.execute("BEGIN IMMEDIATE")  # the index's file only: `ev` is attached read-only
        try:
            indexed, more, trimmed = catch_up(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._report(indexed, trimmed)
        return more


def catch_up(conn: sqlite3.Connection) -> tuple[int, bool, int]:
    """Inside a transaction on the index's file, with the database attached as `ev`: apply the delete log,
    then index what is past the mark. Returns the mark, whether there is more, and the last log entry applied
    now (0: none)."""
    meta = dict(conn.execute("SELECT key, value FROM search_meta").fetchall())
    ((database, floor, last, logged),) = conn.execute(
        "SELECT (SELECT value FROM ev.meta WHERE key = 'search_id'),"
        f" {_floor('ev')},"
        " COALESCE((SELECT MAX(rowid) FROM ev.events), 0),"
        " COALESCE((SELECT seq FROM ev.sqlite_sequence WHERE name = 'search_deletes'), 0)"
    ).fetchall()
    indexed, done = int(meta.get(INDEXED, 0)), int(meta.get(DELETES_DONE, 0))
    # Another database's index, or one ahead of this database's history (a restored backup, a file that lost
    # commits the index saw): start over.
    if meta.get(DATABASE) != database or indexed > max(last, floor) or done > logged:
        conn.execute("INSERT INTO events_fts (events_fts) VALUES ('delete-all')")
        indexed, done = 0, 0
        _set(conn, DATABASE, database)
    trimmed = 0
    if logged > done:
        # Only what was indexed is removed: FTS5 must not be told to delete what it never held. An event past
        # the mark that was deleted is not in this snapshot's events either, so it is never indexed.
        upto = min(logged, done + CHUNK)
        conn.execute(
            "INSERT INTO events_fts (events_fts, rowid, search_text) SELECT 'delete', position, search_text"
            " FROM ev.search_deletes WHERE seq > ? AND seq <= ? AND position <= ?",
            (done, upto, indexed),
        )
        _set(conn, DELETES_DONE, upto)
        done = trimmed = upto
        if upto < logged:  # the rest of the log first: indexing past deletes not yet applied could index them
            _set(conn, INDEXED, indexed)
            return indexed, True, trimmed
    if last > indexed:
        upto = min(last, indexed + CHUNK)
        conn.execute(
            "INSERT INTO events_fts (rowid, search_text) SELECT rowid, search_text FROM ev.events"
            " WHERE rowid > ? AND rowid <= ?",
            (indexed, upto),
        )
        indexed = upto
    _set(conn, INDEXED, indexed)
    return indexed, last > indexed, trimmed


def _set(conn: sqlite3.Connection, key: str, value: object) -> None:
    conn.execute("INSERT OR REPLACE INTO search_meta (key, value) VALUES (?, ?)", (key, value))
