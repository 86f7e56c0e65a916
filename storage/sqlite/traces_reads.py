"""Trace reads on SQLite: lookups by id, pages, first pages per group, and commits after a position."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from storage.contract import EventQuery, Page, PageResult, SessionQuery
from storage.models import Agent, Event, Session
from storage.models.records import EventRecord, EventView
from storage.sqlite.database import Database
from storage.sqlite.query import (
    _chunks,
    _event_after,
    _event_where,
    _marks,
    _names,
    _prefixed,
    _session_after,
    _session_where,
)
from storage.sqlite.read_rows import VIEW_COLUMNS, _record, _records, _view
from storage.sqlite.rows import (
    AGENT_COLUMNS,
    EVENT_COLUMNS,
    RECORD_COLUMNS,
    SESSION_COLUMNS,
    _agent,
    _event,
    _session,
)
from storage.sqlite.search_index import SearchIndex
from storage.timeutil import to_ms


def _whole(page: Page, after_sql: str, fetched: int) -> bool:
    """Whether a page's rows are every row that matches, so their number is the total: it starts at the
    first row (no offset, no cursor) and the one row past its limit was not found."""
    return page.offset == 0 and not after_sql and fetched <= page.limit


class TraceReads:
    def __init__(self, db: Database, search: SearchIndex) -> None:
        self.db = db
        self.search = search

    async def _where(self, project_id: str, query: EventQuery) -> tuple[list[str], list[Any]]:
        """The query's conditions; a search first has the full-text index caught up with every commit."""
        indexed = await self.search.ready() if query.search else True
        return _event_where(project_id, query, indexed=indexed)

    # -- lookups by id -----------------------------------------------------

    async def _by_ids(self, sql: str, project_id: str, ids: Sequence[str], make: Any) -> list[Any]:
        out: list[Any] = []
        unique = list(dict.fromkeys(ids))
        for chunk in _chunks(unique):
            rows = await self.db.fetch(sql.format(marks=_marks(len(chunk))), (project_id, *chunk))
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
        build: Any = None,
    ) -> PageResult[Any]:
        """make builds an item from a row; build, when given, the items from the rows (read_rows._records)."""
        clause = " AND ".join(where)
        after_sql, after_args = after
        where_page = clause + (f" AND {after_sql}" if after_sql else "")
        rows = await self.db.fetch(
            f"{select} WHERE {where_page} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, *after_args, page.limit + 1, page.offset],
        )
        total = 0
        if page.count_total:
            if _whole(page, after_sql, len(rows)):
                total = len(rows)
            else:
                counted = await self.db.fetch(
                    f"SELECT COUNT(*) FROM {select.split(' FROM ', 1)[1]} WHERE {clause}", args
                )
                total = counted[0][0]
        items = build(rows[: page.limit]) if build is not None else [make(row) for row in rows[: page.limit]]
        return PageResult(items=items, total=total, has_more=len(rows) > page.limit)

    async def find_events(self, project_id: str, query: EventQuery, page: Page) -> PageResult[Event]:
        return await self._events(project_id, query, page, EVENT_COLUMNS, _event)

    async def find_event_records(self, project_id: str, query: EventQuery, page: Page) -> PageResult[EventRecord]:
        return await self._events(project_id, query, page, RECORD_COLUMNS, _record, _records)

    async def _events(
        self, project_id: str, query: EventQuery, page: Page, columns: str, make: Any, build: Any = None
    ) -> PageResult[Any]:
        where, args = await self._where(project_id, query)
        direction = "DESC" if page.descending else "ASC"
        return await self._page(
            f"SELECT {_prefixed(columns, 'e')} FROM events e",
            where,
            args,
            _event_after(page),
            f"e.ts {direction}, e.session_id {direction}, e.seq {direction}",
            page,
            make,
            build,
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
            after_sql, after_args = after
            clause_page = clause + (f" AND {after_sql}" if after_sql else "")
            if len(chunk) == 1:  # one group (a session's events): its page, without the window function's sort
                rows = await self.db.fetch(
                    f"SELECT {_prefixed(columns, alias)} FROM {table} {alias} WHERE {clause_page}"
                    f" ORDER BY {order} LIMIT ? OFFSET ?",
                    [*args, *chunk, *after_args, page.limit + 1, page.offset],
                )
                if page.count_total and _whole(page, after_sql, len(rows)):
                    out[chunk[0]].total = len(rows)
                elif page.count_total:
                    await self._count_groups(table, alias, group_column, clause, [*args, *chunk], out)
            else:
                if page.count_total:
                    await self._count_groups(table, alias, group_column, clause, [*args, *chunk], out)
                rows = await self.db.fetch(
                    f"SELECT * FROM (SELECT {_prefixed(columns, alias)},"
                    f" ROW_NUMBER() OVER (PARTITION BY {alias}.{group_column} ORDER BY {order}) AS rn"
                    f" FROM {table} {alias} WHERE {clause_page}) WHERE rn > ? AND rn <= ? ORDER BY rn",
                    [*args, *chunk, *after_args, page.offset, page.offset + page.limit + 1],
                )
            group_index = _names(columns).index(group_column)
            for row in rows:
                result = out[row[group_index]]
                if len(result.items) < page.limit:
                    result.items.append(make(row))
                else:
                    result.has_more = True
        return out

    async def _count_groups(
        self, table: str, alias: str, group_column: str, clause: str, args: list[Any], out: dict[str, PageResult[Any]]
    ) -> None:
        for key, count in await self.db.fetch(
            f"SELECT {alias}.{group_column}, COUNT(*) FROM {table} {alias} WHERE {clause}"
            f" GROUP BY {alias}.{group_column}",
            args,
        ):
            out[key].total = count

    async def events_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[Event]]:
        return await self._events_by_session(project_id, session_ids, query, page, EVENT_COLUMNS, _event)

    async def event_views_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[EventView]]:
        """events_for_sessions as GraphQL shows them: half the columns, no models."""
        return await self._events_by_session(project_id, session_ids, query, page, VIEW_COLUMNS, _view)

    async def _events_by_session(
        self,
        project_id: str,
        session_ids: Sequence[str],
        query: EventQuery,
        page: Page,
        columns: str,
        build: Callable[[Sequence[Any]], Any],
    ) -> dict[str, PageResult[Any]]:
        where, args = await self._where(project_id, query)
        direction = "DESC" if page.descending else "ASC"
        return await self._grouped(
            "events",
            columns,
            "session_id",
            session_ids,
            where,
            args,
            _event_after(page),
            f"e.ts {direction}, e.seq {direction}",
            page,
            build,
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
            rows = await self.db.fetch(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND call_id IS NOT NULL"
                f" AND (session_id, call_id) IN (VALUES {pairs}) ORDER BY ts, seq",
                [project_id, *(v for pair in chunk for v in pair)],
            )
            out.extend(_event(row) for row in rows)
        return out

    async def events_after(
        self, project_id: str, position: int, query: EventQuery, limit: int
    ) -> list[Event]:
        where, args = await self._where(project_id, query)
        rows = await self.db.fetch(
            f"SELECT {_prefixed(EVENT_COLUMNS, 'e')} FROM events e WHERE {' AND '.join(where)}"
            " AND e.rowid > ? ORDER BY e.rowid LIMIT ?",
            [*args, position, limit],
        )
        return [_event(row) for row in rows]

    async def session_chain(self, project_id: str, session_id: str) -> list[Event]:
        rows = await self.db.fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND session_id = ? ORDER BY seq",
            (project_id, session_id),
        )
        return [_event(row) for row in rows]

    async def session_chain_records(self, project_id: str, session_id: str) -> list[EventRecord]:
        rows = await self.db.fetch(
            f"SELECT {RECORD_COLUMNS} FROM events WHERE project_id = ? AND session_id = ? ORDER BY seq",
            (project_id, session_id),
        )
        return _records(rows)
