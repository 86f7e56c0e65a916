"""Subscriptions: events and session changes as they are committed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from graph.schema.errors import overflow_error
from graph.schema.traces.inputs import SessionStatusEnum  # noqa: F401  (registers the enum)
from graph.schema.traces.types import Event, Session
from resolvers.live.bus import EventFilter, SessionFilter, SubscriberOverflow, Subscription
from storage.models import SessionStatus


async def _deliver(sub: Subscription, wrap: Callable[[Any], Any]) -> AsyncGenerator[Any, None]:
    """Wrapped documents until the subscriber overflows; then one error, and the end."""
    try:
        async for doc in sub:
            yield wrap(doc)
    except SubscriberOverflow as exc:
        yield overflow_error(exc)


@strawberry.input
class LiveEventFilter:
    session_id: strawberry.ID | None = None
    agent_id: strawberry.ID | None = None
    types: list[str] | None = None
    severity: list[str] | None = None

    def to_bus(self) -> EventFilter:
        return EventFilter(
            session_id=str(self.session_id) if self.session_id else None,
            agent_id=str(self.agent_id) if self.agent_id else None,
            types=frozenset(self.types) if self.types is not None else None,
            severities=frozenset(self.severity) if self.severity is not None else None,
        )


@strawberry.input
class LiveSessionFilter:
    session_id: strawberry.ID | None = None
    agent_id: strawberry.ID | None = None
    status: list[SessionStatus] | None = None

    def to_bus(self) -> SessionFilter:
        return SessionFilter(
            session_id=str(self.session_id) if self.session_id else None,
            agent_id=str(self.agent_id) if self.agent_id else None,
            statuses=frozenset(s.value for s in self.status) if self.status is not None else None,
        )


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(description="Each event of the caller's project as it is committed.")
    async def event_added(
        self, info: Info[Context, None], filter: LiveEventFilter | None = None
    ) -> AsyncGenerator[Event, None]:
        ctx = info.context
        sub = ctx.services.bus.subscribe_events(ctx.project_id, filter.to_bus() if filter else EventFilter())
        try:
            async for item in _deliver(sub, Event.of):
                yield item
        finally:
            sub.close()  # at once when the client unsubscribes, not when the inner generator is collected

    @strawberry.subscription(description="A session's new state after each batch that changed it.")
    async def session_updated(
        self, info: Info[Context, None], filter: LiveSessionFilter | None = None
    ) -> AsyncGenerator[Session, None]:
        ctx = info.context
        sub = ctx.services.bus.subscribe_sessions(ctx.project_id, filter.to_bus() if filter else SessionFilter())
        try:
            async for item in _deliver(sub, Session.of):
                yield item
        finally:
            sub.close()  # at once when the client unsubscribes, not when the inner generator is collected
