"""Session, Event and Agent: documents exposed the way a frontend needs them.

Every field that reaches another document goes through the request's
DataLoaders, so nesting costs a constant number of store calls.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.context import Context
from graph.errors import bad_input
from graph.types.connection import Connection, decode_cursor, page_args, to_connection
from graph.types.inputs import (
    EventFilter,
    SessionFilter,
    SessionStatusEnum,
    SortOrder,
    event_query,
    session_query,
)
from resolvers.loaders import ChildrenKey
from storage import models
from storage.timeutil import from_ms, to_ms

CALL_TYPES = {"tool_call": ("tool_response", "tool_error"), "llm_call": ("llm_response",)}
RESULT_TYPES = {"tool_response": "tool_call", "tool_error": "tool_call", "llm_response": "llm_call"}


def event_key(e: models.Event) -> tuple:
    return (to_ms(e.timestamp), e.session_id, e.seq)


def session_key(s: models.Session) -> tuple:
    return (to_ms(s.started_at), s.id)


def event_after(after: str | None) -> tuple | None:
    if after is None:
        return None
    ts, sid, seq = decode_cursor(after, 3)
    if not isinstance(ts, int) or not isinstance(sid, str) or not isinstance(seq, int):
        raise bad_input("after", "is not a cursor this server issued")
    return (from_ms(ts), sid, seq)


def session_after(after: str | None) -> tuple | None:
    if after is None:
        return None
    ts, sid = decode_cursor(after, 2)
    if not isinstance(ts, int) or not isinstance(sid, str):
        raise bad_input("after", "is not a cursor this server issued")
    return (from_ms(ts), sid)


@strawberry.type(description="One thing an agent did, with its place in the session's hash chain.")
class Event:
    doc: strawberry.Private[models.Event]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def type(self) -> str:
        return self.doc.type

    @strawberry.field
    def severity(self) -> str:
        return self.doc.severity

    @strawberry.field
    def timestamp(self) -> datetime:
        return self.doc.timestamp

    @strawberry.field
    def received_at(self) -> datetime:
        return self.doc.received_at

    @strawberry.field(description="Position in the session's hash chain, from 1.")
    def sequence(self) -> int:
        return self.doc.seq

    @strawberry.field
    def session_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.session_id)

    @strawberry.field
    def agent_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.agent_id) if self.doc.agent_id else None

    @strawberry.field
    def call_id(self) -> str | None:
        return self.doc.call_id

    @strawberry.field
    def payload(self) -> JSON:
        return self.doc.payload

    @strawberry.field
    def metadata(self) -> JSON:
        return self.doc.metadata

    @strawberry.field
    def model(self) -> str | None:
        return self.doc.model

    @strawberry.field
    def tokens_in(self) -> int | None:
        return self.doc.tokens_in

    @strawberry.field
    def tokens_out(self) -> int | None:
        return self.doc.tokens_out

    @strawberry.field
    def duration_ms(self) -> float | None:
        return self.doc.duration_ms

    @strawberry.field(description="Cost in USD as a decimal string.")
    def cost_usd(self) -> Decimal | None:
        return self.doc.cost_usd

    @strawberry.field
    def hash(self) -> str | None:
        return self.doc.hash

    @strawberry.field
    def prev_hash(self) -> str | None:
        return self.doc.prev_hash

    @strawberry.field
    async def session(self, info: Info[Context, None]) -> Session | None:
        doc = await info.context.loaders.session.load(self.doc.session_id)
        return Session(doc=doc) if doc else None

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Agent | None:
        if not self.doc.agent_id:
            return None
        doc = await info.context.loaders.agent.load(self.doc.agent_id)
        return Agent(doc=doc) if doc else None

    @strawberry.field(description="The call this event answers (a tool or LLM call with the same callId).")
    async def parent(self, info: Info[Context, None]) -> Event | None:
        call_type = RESULT_TYPES.get(self.doc.type)
        if call_type is None or not self.doc.call_id:
            return None
        related = await info.context.loaders.calls.load((self.doc.session_id, self.doc.call_id))
        return next((Event(doc=e) for e in related if e.type == call_type), None)

    @strawberry.field(description="The responses and errors answering this call, by callId.")
    async def children(self, info: Info[Context, None]) -> list[Event]:
        result_types = CALL_TYPES.get(self.doc.type)
        if result_types is None or not self.doc.call_id:
            return []
        related = await info.context.loaders.calls.load((self.doc.session_id, self.doc.call_id))
        return [Event(doc=e) for e in related if e.type in result_types]


@strawberry.type(description="A trace: one run of one agent.")
class Session:
    doc: strawberry.Private[models.Session]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def status(self) -> SessionStatusEnum:  # type: ignore[valid-type]
        return self.doc.status

    @strawberry.field
    def agent_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.agent_id) if self.doc.agent_id else None

    @strawberry.field
    def agent_name(self) -> str | None:
        return self.doc.agent_name

    @strawberry.field
    def started_at(self) -> datetime:
        return self.doc.started_at

    @strawberry.field
    def ended_at(self) -> datetime | None:
        return self.doc.ended_at

    @strawberry.field
    def last_event_at(self) -> datetime | None:
        return self.doc.last_event_at

    @strawberry.field(description="Wall-clock length: until endedAt, or the last event while active.")
    def duration_ms(self) -> float | None:
        end = self.doc.ended_at or self.doc.last_event_at
        return None if end is None else (end - self.doc.started_at).total_seconds() * 1000

    @strawberry.field
    def metadata(self) -> JSON:
        return self.doc.metadata

    @strawberry.field
    def tags(self) -> list[str]:
        return self.doc.tags

    @strawberry.field
    def event_count(self) -> int:
        return self.doc.event_count

    @strawberry.field
    def error_count(self) -> int:
        return self.doc.error_count

    @strawberry.field
    def tool_call_count(self) -> int:
        return self.doc.tool_call_count

    @strawberry.field
    def llm_call_count(self) -> int:
        return self.doc.llm_call_count

    @strawberry.field
    def tokens_in(self) -> int:
        return self.doc.tokens_in

    @strawberry.field
    def tokens_out(self) -> int:
        return self.doc.tokens_out

    @strawberry.field(description="Total cost in USD as a decimal string.")
    def cost_usd(self) -> Decimal:
        return self.doc.cost_usd

    @strawberry.field
    def processing_ms(self) -> float:
        return self.doc.processing_ms

    @strawberry.field(description="Hash of the last event in this session's chain.")
    def chain_head(self) -> str | None:
        return self.doc.chain_head

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Agent | None:
        if not self.doc.agent_id:
            return None
        doc = await info.context.loaders.agent.load(self.doc.agent_id)
        return Agent(doc=doc) if doc else None

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
        key = ChildrenKey(self.doc.id, event_query(filter), page)
        result = await info.context.loaders.session_events.load(key)
        return to_connection(result, lambda d: Event(doc=d), event_key, after is not None)


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
        return to_connection(result, lambda d: Session(doc=d), session_key, after is not None)

