"""A resumable live event stream: replay what a client missed, then follow live.

Subscribing comes first and replay second, so nothing committed in between
is lost; events that arrive both ways are dropped by their commit position.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from resolvers.core.services import Services
from resolvers.live.bus import EventFilter, Subscription
from storage.contract import EventQuery
from storage.models import Event

REPLAY_PAGE = 500


@dataclass(frozen=True, slots=True)
class StreamFilter:
    session_id: str | None = None
    agent_id: str | None = None
    types: tuple[str, ...] | None = None
    severities: tuple[str, ...] | None = None

    def for_bus(self) -> EventFilter:
        return EventFilter(
            session_id=self.session_id,
            agent_id=self.agent_id,
            types=frozenset(self.types) if self.types is not None else None,
            severities=frozenset(self.severities) if self.severities is not None else None,
        )

    def for_store(self) -> EventQuery:
        return EventQuery(
            session_ids=(self.session_id,) if self.session_id else None,
            agent_ids=(self.agent_id,) if self.agent_id else None,
            types=self.types,
            severities=self.severities,
        )


@contextlib.asynccontextmanager
async def following(
    services: Services, project_id: str, flt: StreamFilter, after: int | None, maxsize: int | None = None
) -> AsyncIterator[AsyncIterator[Event]]:
    """The stream of follow(), opened on entry: subscribed, and the first page of what the client missed
    read. A store that cannot answer (StoreUnavailable) fails here, before a caller starts its stream."""
    subscription = services.bus.subscribe_events(project_id, flt.for_bus(), maxsize)
    try:
        first = await _missed(services, project_id, flt, after) if after is not None else []
        yield _events(services, project_id, flt, after, subscription, first)
    finally:
        subscription.close()


async def follow(
    services: Services, project_id: str, flt: StreamFilter, after: int | None, maxsize: int | None = None
) -> AsyncIterator[Event]:
    """Events after position `after` (None: only new ones), in commit order.

    Raises SubscriberOverflow when the consumer falls too far behind.
    """
    async with following(services, project_id, flt, after, maxsize) as events:
        async for event in events:
            yield event


async def _missed(services: Services, project_id: str, flt: StreamFilter, after: int) -> list[Event]:
    return await services.store.traces.events_after(project_id, after, flt.for_store(), REPLAY_PAGE)


async def _events(
    services: Services, project_id: str, flt: StreamFilter, after: int | None, subscription: Subscription,
    page: list[Event],
) -> AsyncIterator[Event]:
    last = after
    while page:
        for event in page:
            last = event.position
            yield event
        if len(page) < REPLAY_PAGE:
            break
        page = await _missed(services, project_id, flt, last or 0)
    async for message in subscription:
        if not isinstance(message, Event):  # an event subscription carries events only
            continue
        if last is not None and message.position <= last:
            continue
        last = message.position
        yield message
