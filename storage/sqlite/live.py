"""The SQLite change feed: every process's commits, read back by commit position.

An event's rowid is its commit position (the single writer of each commit
assigns them in order, and SQLite's lock orders the commits of several
processes). The feed remembers the last position it delivered. A commit made
by this process that directly follows it is delivered from memory at once;
anything else (another process's commit, or one of ours after a gap) wakes a
read of the events after that position, and of the sessions whose last change
falls in the same range. Idle, it checks for others' commits a few times a
second; busy with its own commits, it checks as often (not on every wake: each
check is a read, and under one-event requests a read per commit cost more than
the request's own write did; bench/README.md, "Ingest, second pass").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence

from storage.contract.common import StoreUnavailable
from storage.contract.live import Change, Followed
from storage.models import Event, Session
from storage.sqlite.database import Database
from storage.sqlite.query import _marks, _prefixed
from storage.sqlite.rows import EVENT_COLUMNS, SESSION_COLUMNS, _event, _session

log = logging.getLogger("storage.sqlite")

POLL_SECONDS = 0.1
READ_LIMIT = 1000
# Changes handed over from memory and not yet delivered. Past this the feed reads the file instead: the
# events are there, and the fast path is only a shortcut, so memory never holds more than this many batches.
MAX_PENDING = 64
# Past this many followed projects the feed reads every project's rows rather than name them all in the query.
MAX_NAMED_PROJECTS = 500


class SQLiteFeed:
    shared = True

    def __init__(self, db: Database, poll_seconds: float = POLL_SECONDS) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._last: int | None = None  # the last position delivered; None while nobody follows
        self._pending: deque[Change] = deque()
        self._wake = asyncio.Event()
        # Whether the file may hold something the memory path did not hand over (a commit of another
        # process, or of ours after a gap): then the next wake reads it. Else a wake only delivers pending
        # changes, and the file is checked once poll_seconds have passed since the last check.
        self._unread = False
        self._checked = 0.0
        self._followed: Followed | None = None

    def committed(self, project_id: str, events: Sequence[Event], sessions: Sequence[Session]) -> None:
        if self._last is None or not events:
            return
        if events[-1].position <= self._last:
            return  # a read of the file delivered it already
        if events[0].position == self._last + 1 and len(self._pending) < MAX_PENDING:
            self._pending.append(Change(project_id, list(events), list(sessions)))
            self._last = events[-1].position
        else:
            self._unread = True
        self._wake.set()

    async def follow(self, ready: asyncio.Event, followed: Followed | None = None) -> AsyncIterator[Change]:
        self._followed = followed
        self._last = await self._head()
        self._checked = asyncio.get_running_loop().time()
        ready.set()
        failing: StoreUnavailable | None = None
        try:
            while True:
                while self._pending:
                    yield self._pending.popleft()
                # Idle: look for other processes' commits. asyncio.timeout, not wait_for: on Python 3.11
                # wait_for swallows a cancel that lands as the wake-up fires, and shutdown then hung.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                self._wake.clear()
                now = asyncio.get_running_loop().time()
                if not self._unread and now - self._checked < self.poll_seconds:
                    continue  # woken to deliver this process's commits, all handed over from memory
                self._unread, self._checked = False, now
                try:
                    await self._catch_up()
                    failing = None
                except StoreUnavailable as exc:
                    # A read that fails now (an I/O error) is tried again at the next poll: the position
                    # is kept, so nothing is skipped. Said once per outage, not once per poll.
                    if failing is None:
                        log.warning("live feed cannot read the database (%s); retrying", exc.for_log())
                    failing = exc
                    self._unread = True
        finally:
            self._last = None
            self._unread = False
            self._pending.clear()

    async def _head(self) -> int:
        ((head,),) = await self.db.fetch("SELECT COALESCE(MAX(rowid), 0) FROM events", ())
        return int(head)

    async def _catch_up(self) -> None:
        last = self._last
        if last is None:
            return
        head = await self._head()
        if head <= last:
            return
        # Asked after the head is known: a project that gains its first listener from here on had nothing in
        # (last, head] committed after it started listening, so leaving its rows out misses nobody's event.
        projects = None if self._followed is None else sorted(self._followed())
        if projects is not None and not projects:
            # Nobody listens: move on without reading (under `serve --workers N` each process would otherwise
            # read back and decode every other process's events; bench/README.md, "Two workers on one file").
            if self._last is not None:
                self._last = max(self._last, head)
            return
        if projects is not None and len(projects) > MAX_NAMED_PROJECTS:
            projects = None
        only = "" if projects is None else f" AND {{p}}.project_id IN ({_marks(len(projects))})"
        rows = await self.db.fetch(
            f"SELECT {_prefixed(EVENT_COLUMNS, 'e')} FROM events e WHERE e.rowid > ? AND e.rowid <= ?"
            + only.format(p="e") + " ORDER BY e.rowid LIMIT ?",
            (last, head, *(projects or ()), READ_LIMIT),
        )
        events = [_event(r) for r in rows]
        full = len(rows) == READ_LIMIT
        upto = events[-1].position if full else head
        session_rows = await self.db.fetch(
            f"SELECT {_prefixed(SESSION_COLUMNS, 's')}, s.position FROM sessions s"
            " WHERE s.position > ? AND s.position <= ?" + only.format(p="s") + " ORDER BY s.position",
            (last, upto, *(projects or ())),
        )
        # No await from here on. A commit of ours can be in the file before its coroutine hands it over,
        # so the fast path may have delivered part of this range while we read: keep only what is newer.
        delivered = self._last
        if delivered is None:
            return
        events = [e for e in events if e.position > delivered]
        sessions = [_session(r) for r in session_rows if r[-1] > delivered]
        # One Change per run of one project's events, in commit order; its sessions go with its last run.
        runs: list[Change] = []
        for event in events:
            if not runs or runs[-1].project_id != event.project_id:
                runs.append(Change(event.project_id))
            runs[-1].events.append(event)
        for change in reversed(runs):
            change.sessions = [s for s in sessions if s.project_id == change.project_id]
            sessions = [s for s in sessions if s.project_id != change.project_id]
        self._pending.extend(runs)
        self._last = max(upto, delivered)
        if full:
            self._unread = True
            self._wake.set()  # more to read
