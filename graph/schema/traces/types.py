"""Session, Event and Agent: documents exposed the way a frontend needs them.

Every field that reaches another document goes through the request's
DataLoaders, so nesting costs a constant number of store calls.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.schema.analytics.fields import AgentUsage, TypeCount, agent_usage, session_event_types
from graph.schema.analytics.money import Earnings, MoneyTotal
from graph.schema.connection import Connection, cursor_time, decode_cursor, page_args, to_connection
from graph.schema.context import Context
from graph.schema.errors import bad_input
from graph.schema.fast_fields import MISS
from graph.schema.loaders import ChildrenKey, EarningsKey
from graph.schema.traces.inputs import (
    EventFilter,
    SessionFilter,
    SortOrder,
    event_query,
    session_query,
)
from resolvers.core.bounds import INT64_MAX
from resolvers.revenue.attribution import Earnings as EarningsDoc
from resolvers.revenue.attribution import usd
from storage import models
from storage.contract import EventQuery
from storage.models import SessionStatus
from storage.models.records import EventView
from storage.timeutil import to_ms

CALL_TYPES = {"tool_call": ("tool_response", "tool_error"), "llm_call": ("llm_response",)}
RESULT_TYPES = {"tool_response": "tool_call", "tool_error": "tool_call", "llm_response": "llm_call"}


def event_key(e: models.Event) -> tuple:
    return (to_ms(e.timestamp), e.session_id, e.seq)


def view_key(e: EventView) -> tuple:
    """event_key of a view: its millisecond time is already there."""
    return (e.ts_ms, e.session_id, e.seq)


_new_object = object.__new__


def session_key(s: models.Session) -> tuple:
    return (to_ms(s.started_at), s.id)


def event_after(after: str | None) -> tuple | None:
    if after is None:
        return None
    ts, sid, seq = decode_cursor(after, 3)
    if not isinstance(sid, str) or not isinstance(seq, int) or not 0 <= seq <= INT64_MAX:
        raise bad_input("after", "is not a cursor this server issued")
    return (cursor_time(ts), sid, seq)


def session_after(after: str | None) -> tuple | None:
    if after is None:
        return None
    ts, sid = decode_cursor(after, 2)
    if not isinstance(sid, str):
        raise bad_input("after", "is not a cursor this server issued")
    return (cursor_time(ts), sid)


class CallIndex:
    """Calls and their answers within one complete session: pairs resolve without a store call.

    It keeps the stored events, not the GraphQL objects made of them: those point to the index,
    and an index pointing back would make every event of the page one reference cycle, left for
    the garbage collector's full collections (40-80 ms each, every few 1,000-event reads)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_call: dict[str, list[EventView]] = {}

    def add(self, doc: EventView) -> Event:
        if doc.call_id:
            self.by_call.setdefault(doc.call_id, []).append(doc)
        return Event.of(doc, self.session, self)

    def related(self, call_id: str, keep: Any) -> list[Event]:
        return [Event.of(d, self.session, self) for d in self.by_call.get(call_id, ()) if keep(d.type)]


@strawberry.type(description="One thing an agent did, with its place in the session's hash chain.")
class Event:
    # Scalars are plain attributes, filled once: default resolvers are far cheaper
    # than a resolver call per field on every event of a large trace.
    id: strawberry.ID
    type: str
    severity: str
    timestamp: datetime
    received_at: datetime
    sequence: int = strawberry.field(description="Position in the session's hash chain, from 1.")
    session_id: strawberry.ID
    agent_id: strawberry.ID | None
    call_id: str | None
    payload: JSON
    metadata: JSON
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    duration_ms: float | None
    cost_usd: Decimal | None = strawberry.field(description="Cost in USD as a decimal string.")
    hash: str | None
    prev_hash: str | None
    doc: strawberry.Private[models.Event | EventView]
    known_session: strawberry.Private[Session | None]
    calls: strawberry.Private[CallIndex | None]

    @classmethod
    def of(cls, doc: models.Event | EventView, session: Session | None = None, calls: CallIndex | None = None) -> Event:
        # The instance's attributes set in one dict, not through the dataclass __init__'s 21 keywords: a
        # 1,000-event page builds 1,000 of these. The values are what __init__ would store (strawberry.ID
        # and cast return their argument); strawberry types have no __post_init__ or slots.
        event = _new_object(cls)
        event.__dict__ = {
            "id": doc.id, "type": doc.type, "severity": doc.severity, "timestamp": doc.timestamp,
            "received_at": doc.received_at, "sequence": doc.seq, "session_id": doc.session_id,
            "agent_id": doc.agent_id or None, "call_id": doc.call_id, "payload": doc.payload,
            "metadata": doc.metadata, "model": doc.model, "tokens_in": doc.tokens_in, "tokens_out": doc.tokens_out,
            "duration_ms": doc.duration_ms, "cost_usd": doc.cost_usd, "hash": doc.hash, "prev_hash": doc.prev_hash,
            "doc": doc, "known_session": session, "calls": calls,
        }
        return event

    def known_field(self, name: str) -> Any:
        """session, parent or children when this event can answer without a store call, else MISS. The
        resolvers below answer this first; the executor reads it directly (graph/schema/fast_fields.py)."""
        if name == "session":
            return MISS if self.known_session is None else self.known_session
        if name == "parent":
            call_type = RESULT_TYPES.get(self.doc.type)
            if call_type is None or not self.doc.call_id:
                return None
            if self.calls is not None:
                return next(iter(self.calls.related(self.doc.call_id, lambda t: t == call_type)), None)
        elif name == "children":
            result_types = CALL_TYPES.get(self.doc.type)
            if result_types is None or not self.doc.call_id:
                return []
            if self.calls is not None:
                return self.calls.related(self.doc.call_id, lambda t: t in result_types)
        return MISS

    @strawberry.field
    def session(self, info: Info[Context, None]) -> Session | None:
        if (known := self.known_field("session")) is not MISS:
            return known
        return _session_of(info.context.loaders.session.load(self.doc.session_id))  # type: ignore[return-value]

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Agent | None:
        return await _agent_of(info, self.doc.agent_id)

    @strawberry.field(description="The call this event answers (a tool or LLM call with the same callId).")
    def parent(self, info: Info[Context, None]) -> Event | None:
        if (known := self.known_field("parent")) is not MISS:
            return known
        call_type = RESULT_TYPES[self.doc.type]
        return self._related(info, lambda e: e.type == call_type, first=True)  # type: ignore[return-value]

    @strawberry.field(description="The responses and errors answering this call, by callId.")
    def children(self, info: Info[Context, None]) -> list[Event]:
        if (known := self.known_field("children")) is not MISS:
            return known
        result_types = CALL_TYPES[self.doc.type]
        return self._related(info, lambda e: e.type in result_types, first=False)  # type: ignore[return-value]

    async def _related(self, info: Info[Context, None], keep: Any, first: bool) -> Event | list[Event] | None:
        related = await info.context.loaders.calls.load((self.doc.session_id, self.doc.call_id or ""))
        found = [Event.of(e) for e in related if keep(e)]
        return (found[0] if found else None) if first else found


async def _agent_of(info: Info[Context, None], agent_id: str | None) -> Agent | None:
    if not agent_id:
        return None
    doc = await info.context.loaders.agent.load(agent_id)
    return Agent(doc=doc) if doc else None


async def _session_of(pending: Awaitable[models.Session | None]) -> Session | None:
    doc = await pending
    return Session.of(doc) if doc else None


@strawberry.type(description="A trace: one run of one agent.")
class Session:
    id: strawberry.ID
    status: SessionStatus
    agent_id: strawberry.ID | None
    agent_name: str | None
    started_at: datetime
    ended_at: datetime | None
    last_event_at: datetime | None
    duration_ms: float | None = strawberry.field(
        description="Wall-clock length: until endedAt, or the last event while active."
    )
    metadata: JSON
    tags: list[str]
    event_count: int
    error_count: int
    tool_call_count: int
    llm_call_count: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal = strawberry.field(description="Total cost in USD as a decimal string.")
    processing_ms: float
    chain_head: str | None = strawberry.field(description="Hash of the last event in this session's chain.")
    doc: strawberry.Private[models.Session]

    @classmethod
    def of(cls, doc: models.Session) -> Session:
        end = doc.ended_at or doc.last_event_at
        return cls(
            id=strawberry.ID(doc.id), status=doc.status,
            agent_id=strawberry.ID(doc.agent_id) if doc.agent_id else None, agent_name=doc.agent_name,
            started_at=doc.started_at, ended_at=doc.ended_at, last_event_at=doc.last_event_at,
            duration_ms=None if end is None else (end - doc.started_at).total_seconds() * 1000,
            metadata=cast(JSON, doc.metadata), tags=doc.tags, event_count=doc.event_count, error_count=doc.error_count,
            tool_call_count=doc.tool_call_count, llm_call_count=doc.llm_call_count, tokens_in=doc.tokens_in,
            tokens_out=doc.tokens_out, cost_usd=doc.cost_usd, processing_ms=doc.processing_ms,
            chain_head=doc.chain_head, doc=doc,
        )

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Agent | None:
        return await _agent_of(info, self.doc.agent_id)

    @strawberry.field(description="The session's events, oldest first unless order is DESC.")
    async def events(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: EventFilter | None = None,
        order: SortOrder = SortOrder.ASC,
    ) -> Connection[Event]:
        page = page_args(first, event_after(after), info.context.max_page, descending=order is SortOrder.DESC)
        query = event_query(filter)
        result = await info.context.loaders.session_events.load(ChildrenKey(self.doc.id, query, page))
        # A page holding the whole session pairs its calls in memory.
        whole = query == EventQuery() and after is None and not result.has_more
        if whole:
            calls = CallIndex(self)
            return to_connection(result, calls.add, view_key, after is not None)
        return to_connection(result, lambda d: Event.of(d, self), view_key, after is not None)

    @strawberry.field(description="Revenue attributed to this session (through its events), one total per currency.")
    async def revenue(self, info: Info[Context, None]) -> list[MoneyTotal]:
        return [MoneyTotal.of(t) for t in await info.context.loaders.session_revenue.load(self.doc.id)]

    @strawberry.field(description="This session's USD revenue against its own LLM cost.")
    async def roi(self, info: Info[Context, None]) -> Earnings:
        earned = usd(await info.context.loaders.session_revenue.load(self.doc.id))
        return Earnings.of(EarningsDoc(earned, self.doc.cost_nanos))

    @strawberry.field(description="How many of each event type this session holds, most first.")
    async def event_types(self, info: Info[Context, None]) -> list[TypeCount]:
        return await session_event_types(info.context, self.doc.id, self.doc.started_at, self.doc.last_event_at)


@strawberry.type(description="An agent, as seen in its sessions.")
class Agent:
    doc: strawberry.Private[models.Agent]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def name(self) -> str | None:
        return self.doc.name

    @strawberry.field
    def first_seen(self) -> datetime:
        return self.doc.first_seen

    @strawberry.field
    def last_seen(self) -> datetime:
        return self.doc.last_seen

    @strawberry.field(description="This agent's sessions, newest first.")
    async def sessions(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: SessionFilter | None = None,
    ) -> Connection[Session]:
        page = page_args(first, session_after(after), info.context.max_page, descending=True)
        key = ChildrenKey(self.doc.id, session_query(filter), page)
        result = await info.context.loaders.agent_sessions.load(key)
        return to_connection(result, Session.of, session_key, after is not None)

    @strawberry.field(description="What this agent did from `from` (default: 30 days before `to`) to `to` "
                                  "(default: now): events, sessions, errors, tokens, cost and latency.")
    async def usage(
        self, info: Info[Context, None],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> AgentUsage:
        return await agent_usage(info.context, self.doc.id, from_, to)

    @strawberry.field(description="Revenue attributed to this agent, one total per currency, all time.")
    async def revenue(self, info: Info[Context, None]) -> list[MoneyTotal]:
        return [MoneyTotal.of(t) for t in await info.context.loaders.agent_revenue.load(self.doc.id)]

    @strawberry.field(description="USD revenue recorded from `from` to `to` against the LLM cost of the traces "
                                  "started then (default: the last 400 days): net and ROI.")
    async def roi(
        self, info: Info[Context, None],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> Earnings:
        return Earnings.of(await info.context.loaders.agent_earnings.load(EarningsKey(self.doc.id, from_, to)))

