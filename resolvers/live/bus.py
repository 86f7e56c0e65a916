"""The live bus: committed events and session changes, fanned out to subscribers.

Ingest publishes right after its transaction commits, with no await in
between, so messages for a session reach every subscriber in commit order.
Each subscriber has a bounded queue; one that falls behind is closed with
SubscriberOverflow rather than slowing ingest or silently losing events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from resolvers.core.metrics import LIVE_OVERFLOWS
from storage.models import Event, Session
from storage.models.anomalies import Anomaly

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 1000


class SubscriberOverflow(Exception):
    """The subscriber fell more than its queue size behind and was closed."""

    code = "SUBSCRIBER_OVERFLOW"

    def __init__(self, maxsize: int) -> None:
        super().__init__(
            f"subscriber fell more than {maxsize} messages behind and was closed; "
            "reconnect and resume from the last event id you received"
        )


@dataclass(frozen=True, slots=True)
class EventFilter:
    session_id: str | None = None
    agent_id: str | None = None
    types: frozenset[str] | None = None
    severities: frozenset[str] | None = None

    def matches(self, e: Event) -> bool:
        return (
            (self.session_id is None or e.session_id == self.session_id)
            and (self.agent_id is None or e.agent_id == self.agent_id)
            and (self.types is None or e.type in self.types)
            and (self.severities is None or e.severity in self.severities)
        )


@dataclass(frozen=True, slots=True)
class SessionFilter:
    session_id: str | None = None
    agent_id: str | None = None
    statuses: frozenset[str] | None = None

    def matches(self, s: Session) -> bool:
        return (
            (self.session_id is None or s.id == self.session_id)
            and (self.agent_id is None or s.agent_id == self.agent_id)
            and (self.statuses is None or s.status.value in self.statuses)
        )


Message = Event | Session | Anomaly
_END = object()  # queued by close(): wakes a consumer waiting for the next message


class Subscription:
    def __init__(
        self,
        project_id: str,
        matches: Callable[[Message], bool],
        maxsize: int,
        on_close: Callable[[Subscription], None],
    ) -> None:
        self.project_id = project_id
        self.matches = matches
        self.maxsize = maxsize
        self.queue: asyncio.Queue[Message | object] = asyncio.Queue(maxsize + 1)  # + room for _END
        self.overflowed = False
        self._on_close = on_close
        self._closed = False

    def offer(self, message: Message) -> None:
        if self.overflowed or not self.matches(message):
            return
        if self.queue.qsize() < self.maxsize:
            self.queue.put_nowait(message)
        else:
            self.overflowed = True
            LIVE_OVERFLOWS.inc()
            self.close()  # queues _END, which wakes a waiting consumer to see the overflow
            log.warning("live subscriber overflowed (queue %d) and was closed", self.maxsize)

    async def get(self) -> Message | None:
        """The next message; None once the subscription is closed (by its consumer, or at shutdown)."""
        if self.overflowed:
            raise SubscriberOverflow(self.maxsize)
        if self._closed and self.queue.empty():
            return None
        item = await self.queue.get()
        if self.overflowed:
            raise SubscriberOverflow(self.maxsize)
        return None if item is _END else item  # type: ignore[return-value]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self)
            self.queue.put_nowait(_END)  # the queue always keeps room for it

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        item = await self.get()
        if item is None:
            raise StopAsyncIteration
        return item


class Bus(Protocol):
    @property
    def subscriber_count(self) -> int: ...
    @property
    def queued(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def subscribe_events(self, project_id: str, flt: EventFilter, maxsize: int | None = None) -> Subscription: ...
    def subscribe_sessions(
        self, project_id: str, flt: SessionFilter, maxsize: int | None = None
    ) -> Subscription: ...
    async def subscribe_anomalies(
        self, project_id: str, severities: frozenset[str] | None = None, maxsize: int | None = None
    ) -> Subscription: ...
    def anomaly_detected(self, anomaly: Anomaly) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...


class LocalBus:
    """In-process fan-out: the embedded default, and the delivery end of every bus."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE) -> None:
        self.queue_size = queue_size
        self._subs: dict[str, set[Subscription]] = {}
        self._anomaly_subs: dict[str, set[Subscription]] = {}  # kept apart: they never take events

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for subs in [*self._subs.values(), *self._anomaly_subs.values()]:
            for sub in list(subs):
                sub.close()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values()) + sum(len(s) for s in self._anomaly_subs.values())

    @property
    def queued(self) -> int:
        every = [*self._subs.values(), *self._anomaly_subs.values()]
        return sum(sub.queue.qsize() for subs in every for sub in subs)

    def publish_batch(self, project_id: str, events: Iterable[Event], sessions: Iterable[Session]) -> None:
        subs = self._subs.get(project_id)
        if not subs:
            return
        targets = list(subs)
        for event in events:
            for sub in targets:
                sub.offer(event)
        for session in sessions:
            for sub in targets:
                sub.offer(session)

    def _subscribe(self, project_id: str, matches: Callable[[Message], bool], maxsize: int | None) -> Subscription:
        sub = Subscription(project_id, matches, maxsize or self.queue_size, self._remove)
        self._subs.setdefault(project_id, set()).add(sub)
        return sub

    def subscribe_events(self, project_id: str, flt: EventFilter, maxsize: int | None = None) -> Subscription:
        return self._subscribe(project_id, lambda m: isinstance(m, Event) and flt.matches(m), maxsize)

    def subscribe_sessions(
        self, project_id: str, flt: SessionFilter, maxsize: int | None = None
    ) -> Subscription:
        return self._subscribe(project_id, lambda m: isinstance(m, Session) and flt.matches(m), maxsize)

    def subscribe_anomaly_stream(
        self, project_id: str, severities: frozenset[str] | None = None, maxsize: int | None = None
    ) -> Subscription:
        def matches(m: Message) -> bool:
            return isinstance(m, Anomaly) and (severities is None or m.severity.value in severities)

        sub = Subscription(project_id, matches, maxsize or self.queue_size, self._remove_anomaly_sub)
        self._anomaly_subs.setdefault(project_id, set()).add(sub)
        return sub

    def publish_anomaly(self, anomaly: Anomaly) -> None:
        for sub in list(self._anomaly_subs.get(anomaly.project_id, ())):
            sub.offer(anomaly)

    def anomaly_projects(self) -> set[str]:
        return set(self._anomaly_subs)

    def followed_projects(self) -> set[str]:
        """The projects whose events or sessions someone here follows: all the change feed need read."""
        return set(self._subs)

    def _remove(self, sub: Subscription) -> None:
        _discard(self._subs, sub)

    def _remove_anomaly_sub(self, sub: Subscription) -> None:
        _discard(self._anomaly_subs, sub)


def _discard(registry: dict[str, set[Subscription]], sub: Subscription) -> None:
    subs = registry.get(sub.project_id)
    if subs is not None:
        subs.discard(sub)
        if not subs:
            del registry[sub.project_id]
