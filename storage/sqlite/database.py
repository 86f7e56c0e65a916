"""One SQLite file in WAL mode: a writer thread, a pool of readers, and migrations.

One writer thread owns the write connection and runs each transaction whole
(planner included), so there is no hop back to a busy event loop between
statements, and its FIFO queue is the single-writer order. A small pool of
read-only aiosqlite connections serves queries beside it (WAL lets readers
run beside the writer). Every connection works on its own thread, so the
event loop never blocks on disk. Several processes may open one file: SQLite's
lock makes their write transactions take turns.

Storage faults (storage/sqlite/faults.py) leave every call as a StoreUnavailable,
and leave the writer usable: a failed transaction is rolled back, and after a
full disk or an I/O error the next write first repairs what it can (a fresh
connection after an I/O error, a checkpoint that hands the WAL's space back to
the disk). Readers keep serving throughout. The outcome of the last write is
kept, so health checks know when the store is read-only.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypedDict, TypeVar

import aiosqlite

from storage.contract.common import StoreBusy, StoreReadOnly, StoreUnavailable
from storage.sqlite import search_file
from storage.sqlite.faults import CHECKPOINT_AFTER, FULL, REOPEN_AFTER, classify, primary_code
from storage.sqlite.lock import ServerLock, WriteTurn
from storage.sqlite.migrations import migrate
from storage.sqlite.priority import WRITE_NICE, lower_this_thread

T = TypeVar("T")

log = logging.getLogger("storage.sqlite")

READERS = 4
BUSY_TIMEOUT_MS = 10_000
REPAIR_CHECKPOINT_EVERY_S = 1.0  # while repairing: a checkpoint on a full disk rewrites pages, so not on every write
CHECKPOINT_WAIT_MS = 100  # how long that checkpoint waits for readers to finish before trying again later
# Pages a store must have room for to count as writable again: more than the 20 to 30 pages one short
# event touches (its row, eight indexes, a search-index segment, its session), less than a batch.
PROBE_PAGES = 64
# Page caches, per connection. SQLite fills a cache as it reads pages and keeps them until the cap, so a
# growing database makes the process grow to the sum of the caps: with 64 MiB for the writer and 32 per
# reader (192 MiB), RSS grew by 20 MB a minute under the 200 events/s soak (bench/soak.py). Pages left out
# are read back from the OS's file cache: at these caps ingest ran at the same rate (100,000 events,
# 6,976-7,228 events/s against 6,567-6,750) and the 1000-event trace read in the same time (bench/README.md).
WRITER_CACHE_KIB = 8 * 1024
READER_CACHE_KIB = 4 * 1024
SEARCH_CACHE_KIB = 1024  # a reader's cache for the search index's file: only searches read it
# Group commit: the ingest batches queued while the writer is busy share its next transaction, each in a
# savepoint of its own (bench/README.md, "Fast ingest"). At most this many batches share one.
GROUP_MAX = 64
# Checkpoints (copying the WAL into the database file, with an fsync) run on a thread and connection of their
# own, beside the writer, at most every CHECKPOINT_EVERY_S after a write. SQLite starts the WAL over from its
# beginning only in a write transaction that begins with every frame copied, which under steady writes a
# checkpoint beside the writer never leaves: the groups committed during its pass are still to copy. So after
# each complete pass the writer copies those few frames itself before its next transaction (_finish_checkpoint),
# and that transaction starts the WAL over: it stays a pass's worth of frames long. (Without that the WAL grew
# to WRITER_CHECKPOINT_PAGES, and the writer's own checkpoint there held a group for 9-10 ms about twice a
# second under one-event ingest; bench/README.md, "A WAL that starts over".)
# The writer checkpoints itself only past WRITER_CHECKPOINT_PAGES, a backstop for a checkpointer that falls
# behind. At SQLite's default of 1,000 pages (two or three groups of batches) the writer ran a checkpoint,
# with two fdatasyncs, every few commits, on ingest's critical path: 10,000 pages (40 MiB at 4 KiB pages)
# took typed batches from 12,212-13,650 to 14,467-15,545 events/s (bench/README.md, "The writer's own
# checkpoints").
CHECKPOINT_EVERY_S = 0.1
WRITER_CHECKPOINT_PAGES = 10_000


class Service(Protocol):
    """Work beside the database for as long as it is open (the search index's follower): started once the
    database is open, stopped as it closes (after its readers, before its writer)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class DatabaseOptions(TypedDict, total=False):
    """Database's keyword options, which SQLiteStore and open_store pass through."""

    busy_timeout_ms: int
    max_bytes: int
    write_nice: int


class Database:
    def __init__(
        self,
        path: Path | str,
        readers: int = READERS,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        max_bytes: int = 0,
        write_nice: int = WRITE_NICE,
    ) -> None:
        """max_bytes: the largest the database may grow (0: as large as the disk allows). write_nice: how many
        nice levels the writer, checkpointer and search follower threads run below the process
        (storage/sqlite/priority.py)."""
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.max_bytes = max_bytes
        self.write_nice = write_nice
        self._readers_wanted = readers
        self._writer: sqlite3.Connection | None = None
        self._write_thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lensgraph-sqlite-writer",
            initializer=lower_this_thread, initargs=(write_nice,),
        )
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._lock = ServerLock(self.path)
        self._turn = WriteTurn(self.path)  # only the writer thread takes it
        # Writer-thread state: what the last failed write left to repair.
        self._reopen = False
        self._checkpoint = False
        self._checkpoint_tried = 0.0
        # Why a write failed; cleared by the next successful probe (check_writes), not by any write: a small
        # write that fits where a batch does not (a counter, on a full disk) does not make the store writable.
        self.write_fault: StoreUnavailable | None = None
        # Group commit: work queued for the writer's next transaction. The loop appends; the writer thread takes
        # up to GROUP_MAX at the start of each transaction. _runner: a group's turn is queued on the writer or
        # running, its answers not yet posted to the loop (the lock covers both fields, which the threads share).
        self._pending: collections.deque[_Grouped] = collections.deque()
        self._pending_lock = threading.Lock()
        self._runner = False
        self._services: list[Service] = []
        self.search_attached = False  # whether the readers see the search index's file (storage/sqlite/search_file.py)
        self._checkpointer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lensgraph-sqlite-checkpoint",
            initializer=lower_this_thread, initargs=(write_nice,),
        )
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoint_running = False
        self._checkpoint_last = 0.0
        # Set by the checkpointer thread after a pass that copied every frame it found, cleared by the writer
        # thread as it copies the rest (a bool: a lost update costs one finishing pass, or adds one).
        self._finish_pending = False

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock.acquire_shared()  # a restore waits for every server on this file to stop
        try:
            await self.in_writer(self._open_writer)
            self.search_attached = await self.in_writer(self._create_search_file)
            for _ in range(self._readers_wanted):
                conn = await aiosqlite.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
                self._all_readers.append(conn)
                await conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
                await conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
                if self.search_attached:
                    await conn.execute(search_file.ATTACH, (search_file.attach_uri(self.path),))
                    await conn.execute(f"PRAGMA {search_file.SCHEMA}.cache_size=-{SEARCH_CACHE_KIB}")
                self._readers.put_nowait(conn)
            for service in self._services:
                service.start()
        except BaseException as exc:
            await self.close()
            # Nothing can be served (SQLite cannot even read the file, say a full disk with no room for
            # its 32 KB shared-memory index): one line, and the process exits.
            fault = classify(exc, self.busy_timeout_ms)
            if fault is None:
                raise
            raise StoreUnavailable(f"cannot open the database {self.path}: {fault}") from exc

    def _create_search_file(self) -> bool:
        try:
            search_file.create(self.path, self.busy_timeout_ms)
        except (sqlite3.Error, OSError) as exc:  # searches scan; the next start tries again
            log.warning("cannot create the search index %s (%s): searches will scan the events",
                        search_file.search_path(self.path), exc)
            return False
        return True

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                f"PRAGMA busy_timeout={self.busy_timeout_ms}",
                "PRAGMA temp_store=MEMORY",
                f"PRAGMA cache_size=-{WRITER_CACHE_KIB}",
                f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}",
            ):
                conn.execute(pragma)
            if self.max_bytes:
                ((page_size,),) = conn.execute("PRAGMA page_size").fetchall()
                # Past this page count a write fails with SQLITE_FULL, exactly as on a full disk.
                conn.execute(f"PRAGMA max_page_count={max(1, self.max_bytes // page_size)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_writer(self) -> None:
        conn = self._connect()
        try:
            migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._writer = conn

    def serve(self, service: Service) -> None:
        self._services.append(service)

    async def close(self) -> None:
        # Grouped work still queued or running commits first (a caller that went away leaves its work queued all
        # the same): a turn on the writer behind it comes back after its answers, which the writer posts first.
        while self._runner:
            await self.in_writer(lambda: None)
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        # After the readers, which see the search index's file read-only: the follower, closing last on it,
        # checkpoints it and removes its WAL, as the writer does for the database after it.
        for service in self._services:
            await service.stop()
        await asyncio.get_running_loop().run_in_executor(self._checkpointer, self._close_checkpointer)
        self._checkpointer.shutdown(wait=True)
        await self.in_writer(self._close_writer)
        await self.in_writer(self._turn.close)
        self._write_thread.shutdown(wait=True)
        self._lock.release()

    def _close_checkpointer(self) -> None:
        conn, self._checkpoint_conn = self._checkpoint_conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _background_checkpoint(self) -> None:
        """On the checkpointer thread: copy what the WAL holds into the database file, beside the writer."""
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._checkpoint_conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            ((busy, frames, copied),) = self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            # Short of every frame (a reader still reads an older snapshot), the writer could not finish either.
            self._finish_pending = busy == 0 and copied == frames
        except sqlite3.Error as exc:  # the writer's own checkpoints still bound the WAL
            log.debug("background checkpoint not done: %s", exc)
            self._close_checkpointer()
        finally:
            self._checkpoint_running = False

    def _finish_checkpoint(self, db: sqlite3.Connection) -> None:
        """On the writer thread, in its turn and outside a transaction: copy the frames committed since the
        checkpointer's last complete pass, so that the transaction beginning next starts the WAL over."""
        self._finish_pending = False
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the write goes ahead; the WAL starts over after a later pass
            log.debug("finishing checkpoint not done: %s", exc)

    def _checkpoint_soon(self) -> None:
        now = time.monotonic()
        if self._checkpoint_running or now - self._checkpoint_last < CHECKPOINT_EVERY_S:
            return
        self._checkpoint_running, self._checkpoint_last = True, now
        asyncio.get_running_loop().run_in_executor(self._checkpointer, self._background_checkpoint)

    def _close_writer(self) -> None:
        db, self._writer = self._writer, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error as exc:  # a checkpoint on close that cannot finish: the WAL stays, nothing is lost
                log.warning("closing the SQLite writer: %s", exc)

    async def in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """On the writer thread: one IMMEDIATE transaction around work.

        A storage fault is raised as StoreUnavailable, with nothing of work stored. Other processes on the
        file wait for this one's write turn meanwhile (storage/sqlite/lock.py, WriteTurn).
        """
        try:
            turn = self._turn.acquire(self.busy_timeout_ms / 1000)
        except TimeoutError as exc:
            raise StoreBusy(f"the database stayed locked by another writer for over {self.busy_timeout_ms} ms"
                            " (its write turn)") from exc
        try:
            db = self._repaired()
            if self._finish_pending:
                self._finish_checkpoint(db)
            db.execute("BEGIN IMMEDIATE")
            try:
                out = work(db)
                db.execute("COMMIT")
            except BaseException:
                self._rollback(db)
                raise
        except Exception as exc:
            fault = exc if isinstance(exc, StoreUnavailable) else classify(exc, self.busy_timeout_ms)
            if fault is None:
                raise
            self._failed(exc, fault)
            if fault is exc:
                raise
            raise fault from exc
        finally:
            if turn:
                self._turn.release()
        return out

    def _rollback(self, db: sqlite3.Connection) -> None:
        # After SQLITE_FULL or an I/O error SQLite may have rolled back already; a ROLLBACK then
        # fails and would hide the fault. A connection that cannot roll back is replaced.
        if not db.in_transaction:
            return
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("SQLite rollback failed (%s); the writer connection will be reopened", exc)
            self._reopen = True

    def _failed(self, exc: BaseException, fault: StoreUnavailable) -> None:
        code = primary_code(exc)
        self._checkpoint = self._checkpoint or code in CHECKPOINT_AFTER
        self._reopen = self._reopen or code in REOPEN_AFTER
        if not isinstance(fault, StoreBusy):  # waiting for a lock is contention, not a store that cannot write
            self.write_fault = fault

    def _repaired(self) -> sqlite3.Connection:
        """The writer connection, repaired first if the last write left it something to repair."""
        if self._reopen or self._writer is None:
            self._close_writer()
            self._writer = self._connect()  # migrations ran at open; a fault here is raised to the caller
            self._reopen = False
        db = self._writer
        if self._checkpoint and time.monotonic() - self._checkpoint_tried >= REPAIR_CHECKPOINT_EVERY_S:
            self._checkpoint_tried = time.monotonic()
            self._checkpoint = not self._truncate_wal(db)
        return db

    def _truncate_wal(self, db: sqlite3.Connection) -> bool:
        """Copy the WAL into the database and truncate it, giving its space back; True when done.

        On a full disk the database file cannot grow to take the WAL's pages, so this fails
        until space is freed. It waits only briefly for readers: it is tried again later.
        """
        try:
            db.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            ((busy, _, _),) = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return busy == 0
        except sqlite3.Error as exc:
            log.debug("WAL checkpoint not possible yet: %s", exc)
            return False
        finally:
            db.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """work inside one write transaction, on the writer thread."""
        out = await self.in_writer(self.transaction, work)
        self._checkpoint_soon()
        return out

    async def run_grouped(
        self, work: Callable[[sqlite3.Connection], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        """work inside a write transaction it may share with other grouped work queued beside it.

        Each work runs in a savepoint of its own, in queue order, and sees the work before it. One that
        raises is rolled back alone and gets its exception; the rest commit. A storage fault (raised by
        any work or by the commit) fails the whole transaction, and every work in it gets the fault:
        nothing of it is stored. Each caller is answered only after the transaction has committed.

        on_commit(result) runs on the loop as soon as the commit is back, for each work in commit order,
        before any caller is answered (and whether or not its caller still waits): the live feed takes this
        process's commits from memory there, before a read of the file can find them first.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        with self._pending_lock:
            self._pending.append((work, answer, on_commit))
            if not self._runner:
                try:
                    self._write_thread.submit(self._run_group, loop)
                except RuntimeError:  # the writer has shut down
                    self._pending.pop()
                    raise StoreUnavailable("the store is closing") from None
                self._runner = True
        return await answer

    def _run_group(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the writer thread: one transaction for what is queued, then the next group's turn is queued
        at once, behind whatever other work waits for the writer. The writer does not wait for the loop to
        hand it the next group (the loop may be busy reading requests), and answers reach the loop in commit
        order, since the writer posts them in that order."""
        with self._pending_lock:
            items = [self._pending.popleft() for _ in range(min(GROUP_MAX, len(self._pending)))]
        outcomes: list[tuple[bool, Any]] | BaseException
        try:
            outcomes = self.transaction(_Group([work for work, _, _ in items], self))
        except BaseException as exc:
            outcomes = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits for these answers
            loop.call_soon_threadsafe(self._answer, items, outcomes)
        with self._pending_lock:
            self._runner = bool(self._pending)
            if self._runner:
                self._write_thread.submit(self._run_group, loop)

    def _answer(self, items: list[_Grouped], outcomes: list[tuple[bool, Any]] | BaseException) -> None:
        self._checkpoint_soon()
        if isinstance(outcomes, BaseException):
            fault = outcomes if isinstance(outcomes, Exception) else StoreUnavailable("shutting down")
            for _, answer, _ in items:
                if not answer.done():
                    answer.set_exception(fault)
            return
        for (_, _, on_commit), (ok, value) in zip(items, outcomes, strict=True):
            if ok and on_commit is not None:
                try:
                    on_commit(value)
                except Exception:  # committed all the same: its caller must get its answer
                    log.exception("a commit's hook failed")
        for (_, answer, _), (ok, value) in zip(items, outcomes, strict=True):
            if answer.done():  # its caller went away
                continue
            if ok:
                answer.set_result(value)
            else:
                answer.set_exception(value)

    async def check_writes(self) -> None:
        """Raises the write fault while writes fail. Once one has failed, each call repairs what it can and
        probes: room for a batch under the size limit, and a small commit the disk must take."""
        if self.write_fault is not None:
            await self.run(self._probe)
            await self.run(lambda db: db.execute("DELETE FROM meta WHERE key = 'write_probe'"))  # pages to reuse
            self.write_fault = None
            # Space is back: give the WAL's space back to the disk now rather than at the next throttled try.
            await self.in_writer(self._checkpoint_now)

    def _checkpoint_now(self) -> None:
        if self._checkpoint and self._writer is not None:
            self._checkpoint_tried = time.monotonic()
            self._checkpoint = not self._truncate_wal(self._writer)

    def _probe(self, db: sqlite3.Connection) -> None:
        """Room for a small batch: free pages under the size limit, and a commit of as many pages, which only
        a disk with room for their WAL frames takes (a one-page write may still fit where a batch does not)."""
        ((pages,),) = db.execute("PRAGMA page_count").fetchall()
        ((free,),) = db.execute("PRAGMA freelist_count").fetchall()
        ((most,),) = db.execute("PRAGMA max_page_count").fetchall()
        ((page_size,),) = db.execute("PRAGMA page_size").fetchall()
        if most - pages + free < PROBE_PAGES:
            raise StoreReadOnly(f"{FULL} (SQLITE_FULL)")
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', randomblob(?))",
                   ((PROBE_PAGES - 1) * page_size,))

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def fetch(self, sql: str, args: Sequence[Any] | Mapping[str, Any]) -> list[Sequence[Any]]:
        async with self.reader() as conn:
            try:
                return list(await conn.execute_fetchall(sql, args))
            except sqlite3.Error as exc:
                fault = classify(exc, self.busy_timeout_ms)
                if fault is None:
                    raise
                raise fault from exc

    async def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run statements in one write transaction; returns each one's changed-row count."""
        return await self.run(lambda db: [db.execute(sql, args).rowcount for sql, args in statements])


# A grouped work, the future its caller awaits, and what runs once it has committed (Database.run_grouped).
_Grouped = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]", Callable[[Any], None] | None]


class _Group:
    """Several works in one transaction, each in its own savepoint (Database.run_grouped)."""

    def __init__(self, works: list[Callable[[sqlite3.Connection], Any]], database: Database) -> None:
        self.works = works
        self.database = database

    def __call__(self, db: sqlite3.Connection) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        for work in self.works:
            db.execute("SAVEPOINT grouped")
            try:
                out = work(db)
            except Exception as exc:
                if isinstance(exc, StoreUnavailable) or classify(exc, self.database.busy_timeout_ms) is not None:
                    raise  # a storage fault: the whole transaction is rolled back
                db.execute("ROLLBACK TO grouped")
                db.execute("RELEASE grouped")
                outcomes.append((False, exc))
                continue
            db.execute("RELEASE grouped")
            outcomes.append((True, out))
        return outcomes
