"""Query fields for sessions, events and agents."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graph.schema.connection import Connection, cursor_time, decode_cursor, page_args, to_connection
from graph.schema.context import Context
from graph.schema.errors import bad_input
from graph.schema.traces.inputs import EventFilter, SessionFilter, SortOrder, event_query, session_query
from graph.schema.traces.types import (
    Agent,
    Event,
    Session,
    event_after,
    event_key,
    session_after,
    session_key,
)
from resolvers.traces import reads
from storage.timeutil import to_ms


@strawberry.type
class TraceQuery:
    @strawberry.field(description="One session by id, or null.")
    async def session(self, info: Info[Context, None], id: strawberry.ID) -> Session | None:
        doc = await info.context.loaders.session.load(str(id))
        return Session.of(doc) if doc else None

    @strawberry.field(description="Sessions, newest first.")
    async def sessions(
        self,
        info: Info[Context, None],
        filter: SessionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Session]:
        ctx = info.context
        page = page_args(first, session_after(after), ctx.max_page, descending=True)
        result = await reads.find_sessions(ctx.services, ctx.project_id, session_query(filter), page)
        for doc in result.items:
            ctx.loaders.session.prime(doc.id, doc)
        return to_connection(result, Session.of, session_key, after is not None)

    @strawberry.field(description="One event by id, or null.")
    async def event(self, info: Info[Context, None], id: strawberry.ID) -> Event | None:
        doc = await info.context.loaders.event.load(str(id))
        return Event.of(doc) if doc else None

    @strawberry.field(description="Events across sessions, oldest first unless order is DESC.")
    async def events(
        self,
        info: Info[Context, None],
        filter: EventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order: SortOrder = SortOrder.ASC,
    ) -> Connection[Event]:
        ctx = info.context
        page = page_args(first, event_after(after), ctx.max_page, descending=order is SortOrder.DESC)
        result = await reads.find_events(ctx.services, ctx.project_id, event_query(filter), page)
        return to_connection(result, Event.of, event_key, after is not None)

    @strawberry.field(description="One agent by id, or null.")
    async def agent(self, info: Info[Context, None], id: strawberry.ID) -> Agent | None:
        doc = await info.context.loaders.agent.load(str(id))
        return Agent(doc=doc) if doc else None

    @strawberry.field(description="Agents, most recently active first.")
    async def agents(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Agent]:
        ctx = info.context
        key = None
        if after is not None:
            ts, aid = decode_cursor(after, 2)
            if not isinstance(aid, str):
                raise bad_input("after", "is not a cursor this server issued")
            key = (cursor_time(ts), aid)
        page = page_args(first, key, ctx.max_page, descending=True)
        result = await reads.find_agents(ctx.services, ctx.project_id, page)
        return to_connection(
            result, lambda d: Agent(doc=d), lambda a: (to_ms(a.last_seen), a.id), after is not None
        )
