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
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import orjson

from storage.contract import (
    CommitResult,
    EventQuery,
    Page,
    PageResult,
    Planner,
    SessionQuery,
)
from storage.models import Agent, Event, Session, SessionStatus
from storage.search import normalize_term, search_text
from storage.sqlite_schema import DDL, SCHEMA_VERSION
from storage.sqlite_tenancy import TenancyMixin
from storage.timeutil import from_ms, to_ms

T = TypeVar("T")

CHUNK = 500  # ids per IN (...) list
READERS = 4

EVENT_COLUMNS = (
    "project_id, id, session_id, agent_id, type, severity, ts, received_at, seq, call_id, model,"
    " tokens_in, tokens_out, duration_ms, cost_nanos, payload, metadata, prev_hash, hash, rowid"
)
# The rowid is assigned explicitly by the single writer, so it is the commit order.
INSERT_EVENT_COLUMNS = (
    "rowid, project_id, id, session_id, agent_id, type, severity, ts, received_at, seq, call_id, model,"
    " tokens_in, tokens_out, duration_ms, cost_nanos, payload, metadata, search_text, prev_hash, hash"
)
SESSION_COLUMNS = (
    "project_id, id, agent_id, agent_name, status, started_at, ended_at, last_event_at, metadata,"
    " tags, event_count, error_count, tool_call_count, llm_call_count, tokens_in, tokens_out,"
    " cost_nanos, processing_ms, chain_head, chain_seq"
)
AGENT_COLUMNS = "project_id, id, name, first_seen, last_seen"


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


# Rows come from our own writes: model_construct skips re-validating payloads on every read.
def _event(row: Sequence[Any]) -> Event:
    return Event.model_construct(
        project_id=row[0],
        id=row[1],
        session_id=row[2],
        agent_id=row[3],
        type=row[4],
        severity=row[5],
        timestamp=from_ms(row[6]),
        received_at=from_ms(row[7]),
        seq=row[8],
        call_id=row[9],
        model=row[10],
        tokens_in=row[11],
        tokens_out=row[12],
        duration_ms=row[13],
        cost_nanos=row[14],
        payload=orjson.loads(row[15]),
        metadata=orjson.loads(row[16]),
        prev_hash=row[17],
        hash=row[18],
        position=row[19],
    )


def _session(row: Sequence[Any]) -> Session:
    return Session.model_construct(
        project_id=row[0],
        id=row[1],
        agent_id=row[2],
        agent_name=row[3],
        status=SessionStatus(row[4]),
        started_at=from_ms(row[5]),
        ended_at=from_ms(row[6]),
        last_event_at=from_ms(row[7]),
        metadata=orjson.loads(row[8]),
        tags=orjson.loads(row[9]),
        event_count=row[10],
        error_count=row[11],
        tool_call_count=row[12],
        llm_call_count=row[13],
        tokens_in=row[14],
        tokens_out=row[15],
        cost_nanos=row[16],
        processing_ms=row[17],
        chain_head=row[18],
        chain_seq=row[19],
    )


def _agent(row: Sequence[Any]) -> Agent:
    return Agent.model_construct(
        project_id=row[0], id=row[1], name=row[2], first_seen=from_ms(row[3]), last_seen=from_ms(row[4])
    )


def _prepare(e: Event) -> tuple[bytes, bytes, str]:
    """The costly parts of an event's row, computed before the write lock."""
    return orjson.dumps(e.payload), orjson.dumps(e.metadata), search_text(e.payload)


def _event_row(e: Event, prepared: tuple[bytes, bytes, str]) -> tuple:
    payload, metadata, text = prepared
    return (
        e.position,
        e.project_id,
        e.id,
        e.session_id,
        e.agent_id,
        e.type,
        e.severity,
        to_ms(e.timestamp),
        to_ms(e.received_at),
        e.seq,
        e.call_id,
        e.model,
        e.tokens_in,
        e.tokens_out,
        e.duration_ms,
        e.cost_nanos,
        payload,
        metadata,
        text,
        e.prev_hash,
        e.hash,
    )


def _session_row(s: Session) -> tuple:
    return (
        s.project_id,
        s.id,
        s.agent_id,
        s.agent_name,
        s.status.value,
        to_ms(s.started_at),
        to_ms(s.ended_at) if s.ended_at else None,
        to_ms(s.last_event_at) if s.last_event_at else None,
        orjson.dumps(s.metadata),
        orjson.dumps(s.tags),
        s.event_count,
        s.error_count,
        s.tool_call_count,
        s.llm_call_count,
        s.tokens_in,
        s.tokens_out,
        s.cost_nanos,
        s.processing_ms,
        s.chain_head,
        s.chain_seq,
    )


def _event_where(project_id: str, q: EventQuery) -> tuple[list[str], list[Any]]:
    where, args = ["e.project_id = ?"], [project_id]
    for column, values in (
        ("e.session_id", q.session_ids),
        ("e.agent_id", q.agent_ids),
        ("e.type", q.types),
        ("e.severity", q.severities),
    ):
        if values is not None:
            where.append(f"{column} IN ({_marks(len(values))})" if values else "0")
            args.extend(values)
    if q.since is not None:
        where.append("e.ts >= ?")
        args.append(to_ms(q.since))
    if q.until is not None:
        where.append("e.ts <= ?")
        args.append(to_ms(q.until))
    if q.search:
        term = normalize_term(q.search)
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if len(term) >= 3:
            # The trigram index answers LIKE itself; the outer LIKE keeps the exact semantics.
            where.append(
                "e.rowid IN (SELECT rowid FROM events_fts WHERE search_text LIKE ? ESCAPE '\\')"
            )
            args.append(pattern)
        where.append("e.search_text LIKE ? ESCAPE '\\'")
        args.append(pattern)
    return where, args


def _session_where(project_id: str, q: SessionQuery) -> tuple[list[str], list[Any]]:
    where, args = ["s.project_id = ?"], [project_id]
    for column, values in (("s.agent_id", q.agent_ids), ("s.status", q.statuses)):
        if values is not None:
            where.append(f"{column} IN ({_marks(len(values))})" if values else "0")
            args.extend(values)
    if q.since is not None:
        where.append("s.started_at >= ?")
        args.append(to_ms(q.since))
    if q.until is not None:
        where.append("s.started_at <= ?")
        args.append(to_ms(q.until))
    for tag in q.tags or ():
        where.append(
            "s.id IN (SELECT session_id FROM session_tags WHERE project_id = s.project_id AND tag = ?)"
        )
        args.append(tag)
    return where, args


def _event_after(page: Page) -> tuple[str, list[Any]]:
    if page.after is None:
        return "", []
    ts, session_id, seq = page.after
    op = "<" if page.descending else ">"
    return f"(e.ts, e.session_id, e.seq) {op} (?, ?, ?)", [to_ms(ts), session_id, seq]


def _session_after(page: Page) -> tuple[str, list[Any]]:
    if page.after is None:
        return "", []
    started_at, sid = page.after
    # sessions list newest first unless asked otherwise; keyset follows that order
    op = "<" if page.descending else ">"
    return f"(s.started_at, s.id) {op} (?, ?)", [to_ms(started_at), sid]


class SQLiteStore(TenancyMixin):
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

    # -- lookups by id -----------------------------------------------------

    async def _by_ids(self, sql: str, project_id: str, ids: Sequence[str], make: Any) -> list[Any]:
        out: list[Any] = []
        unique = list(dict.fromkeys(ids))
        for chunk in _chunks(unique):
            rows = await self._fetch(sql.format(marks=_marks(len(chunk))), (project_id, *chunk))
            out.extend(make(row) for row in rows)
        return out

    async def sessions_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Session]:
        return await self._by_ids(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND id IN ({{marks}})",
            project_id,
            ids,
            _session,
        )

    async def events_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Event]:
        return await self._by_ids(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND id IN ({{marks}})",
            project_id,
            ids,
            _event,
        )

    async def agents_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Agent]:
        return await self._by_ids(
            f"SELECT {AGENT_COLUMNS} FROM agents WHERE project_id = ? AND id IN ({{marks}})",
            project_id,
            ids,
            _agent,
        )

    # -- lists -------------------------------------------------------------

    async def _page(
        self,
        select: str,
        where: list[str],
        args: list[Any],
        after: tuple[str, list[Any]],
        order: str,
        page: Page,
        make: Any,
    ) -> PageResult[Any]:
        clause = " AND ".join(where)
        total = 0
        if page.count_total:
            rows = await self._fetch(f"SELECT COUNT(*) FROM {select.split(' FROM ', 1)[1]} WHERE {clause}", args)
            total = rows[0][0]
        after_sql, after_args = after
        where_page = clause + (f" AND {after_sql}" if after_sql else "")
        rows = await self._fetch(
            f"{select} WHERE {where_page} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, *after_args, page.limit + 1, page.offset],
        )
        items = [make(row) for row in rows[: page.limit]]
        return PageResult(items=items, total=total, has_more=len(rows) > page.limit)

    async def find_events(self, project_id: str, query: EventQuery, page: Page) -> PageResult[Event]:
        where, args = _event_where(project_id, query)
        direction = "DESC" if page.descending else "ASC"
        return await self._page(
            f"SELECT {_prefixed(EVENT_COLUMNS, 'e')} FROM events e",
            where,
            args,
            _event_after(page),
            f"e.ts {direction}, e.session_id {direction}, e.seq {direction}",
            page,
            _event,
        )

    async def find_sessions(self, project_id: str, query: SessionQuery, page: Page) -> PageResult[Session]:
        where, args = _session_where(project_id, query)
        direction = "DESC" if page.descending else "ASC"
        return await self._page(
            f"SELECT {_prefixed(SESSION_COLUMNS, 's')} FROM sessions s",
            where,
            args,
            _session_after(page),
            f"s.started_at {direction}, s.id {direction}",
            page,
            _session,
        )

    async def find_agents(self, project_id: str, page: Page) -> PageResult[Agent]:
        direction = "DESC" if page.descending else "ASC"
        after: tuple[str, list[Any]] = ("", [])
        if page.after is not None:
            op = "<" if page.descending else ">"
            after = (f"(a.last_seen, a.id) {op} (?, ?)", [to_ms(page.after[0]), page.after[1]])
        return await self._page(
            f"SELECT {_prefixed(AGENT_COLUMNS, 'a')} FROM agents a",
            ["a.project_id = ?"],
            [project_id],
            after,
            f"a.last_seen {direction}, a.id {direction}",
            page,
            _agent,
        )

    # -- grouped lists, for the DataLoaders ---------------------------------

    async def _grouped(
        self,
        table: str,
        columns: str,
        group_column: str,
        keys: Sequence[str],
        where: list[str],
        args: list[Any],
        after: tuple[str, list[Any]],
        order: str,
        page: Page,
        make: Any,
    ) -> dict[str, PageResult[Any]]:
        out: dict[str, PageResult[Any]] = {k: PageResult([], 0, False) for k in keys}
        unique = list(dict.fromkeys(keys))
        alias = table[0]
        for chunk in _chunks(unique):
            in_clause = f"{alias}.{group_column} IN ({_marks(len(chunk))})"
            clause = " AND ".join([*where, in_clause])
            if page.count_total:
                for key, count in await self._fetch(
                    f"SELECT {alias}.{group_column}, COUNT(*) FROM {table} {alias} WHERE {clause}"
                    f" GROUP BY {alias}.{group_column}",
                    [*args, *chunk],
                ):
                    out[key].total = count
            after_sql, after_args = after
            clause_page = clause + (f" AND {after_sql}" if after_sql else "")
            rows = await self._fetch(
                f"SELECT * FROM (SELECT {_prefixed(columns, alias)},"
                f" ROW_NUMBER() OVER (PARTITION BY {alias}.{group_column} ORDER BY {order}) AS rn"
                f" FROM {table} {alias} WHERE {clause_page}) WHERE rn > ? AND rn <= ? ORDER BY rn",
                [*args, *chunk, *after_args, page.offset, page.offset + page.limit + 1],
            )
            group_index = [c.strip() for c in columns.split(",")].index(group_column)
            for row in rows:
                result = out[row[group_index]]
                if len(result.items) < page.limit:
                    result.items.append(make(row))
                else:
                    result.has_more = True
        return out

    async def events_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[Event]]:
        where, args = _event_where(project_id, query)
        direction = "DESC" if page.descending else "ASC"
        return await self._grouped(
            "events",
            EVENT_COLUMNS,
            "session_id",
            session_ids,
            where,
            args,
            _event_after(page),
            f"e.ts {direction}, e.seq {direction}",
            page,
            _event,
        )

    async def sessions_for_agents(
        self, project_id: str, agent_ids: Sequence[str], query: SessionQuery, page: Page
    ) -> dict[str, PageResult[Session]]:
        where, args = _session_where(project_id, query)
        direction = "DESC" if page.descending else "ASC"
        return await self._grouped(
            "sessions",
            SESSION_COLUMNS,
            "agent_id",
            agent_ids,
            where,
            args,
            _session_after(page),
            f"s.started_at {direction}, s.id {direction}",
            page,
            _session,
        )

    async def events_by_call_ids(self, project_id: str, keys: Sequence[tuple[str, str]]) -> list[Event]:
        out: list[Event] = []
        unique = list(dict.fromkeys(keys))
        for chunk in _chunks(unique, 250):
            pairs = ",".join("(?, ?)" for _ in chunk)
            rows = await self._fetch(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND call_id IS NOT NULL"
                f" AND (session_id, call_id) IN (VALUES {pairs}) ORDER BY ts, seq",
                [project_id, *(v for pair in chunk for v in pair)],
            )
            out.extend(_event(row) for row in rows)
        return out

    async def events_after(
        self, project_id: str, position: int, query: EventQuery, limit: int
    ) -> list[Event]:
        where, args = _event_where(project_id, query)
        rows = await self._fetch(
            f"SELECT {_prefixed(EVENT_COLUMNS, 'e')} FROM events e WHERE {' AND '.join(where)}"
            " AND e.rowid > ? ORDER BY e.rowid LIMIT ?",
            [*args, position, limit],
        )
        return [_event(row) for row in rows]

    async def session_chain(self, project_id: str, session_id: str) -> list[Event]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND session_id = ? ORDER BY seq",
            (project_id, session_id),
        )
        return [_event(row) for row in rows]


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))
