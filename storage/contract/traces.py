"""The traces contract: sessions, their events and agents, and the one event write.

Backends persist and query; they hold no domain rules. The one write,
commit_batch, hands the domain's planner the current state of the sessions a
batch touches and persists what it returns, atomically: that is how the hash
chain stays unbroken under concurrent batches on any backend. An idempotency
claim, when given, is checked and recorded in the same transaction as the
batch, so a retried request is applied once whatever process it reaches and
whenever the first attempt died.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from storage.contract.common import Page, PageResult
from storage.models import Agent, Event, IdempotentResponse, Session
from storage.models.records import EventRecord, EventView

# Event order everywhere: (timestamp, session_id, seq) — unique and stable.
EventKey = tuple[datetime, str, int]
# Session order everywhere: (started_at, id), newest first.
SessionKey = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class EventQuery:
    session_ids: tuple[str, ...] | None = None
    agent_ids: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    severities: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    kinds: tuple[str, ...] | None = None  # "agent", "tracker"
    user_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SessionQuery:
    agent_ids: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    tags: tuple[str, ...] | None = None  # a session must carry all of them
    kinds: tuple[str, ...] | None = None  # "agent", "tracker"
    user_ids: tuple[str, ...] | None = None
    bounced: bool | None = None  # True: sessions of one event; False: of more


@dataclass(slots=True)
class BatchPlan:
    events: list[Event]  # sealed: seq, prev_hash and hash set
    sessions: list[Session]  # the new state of every touched session
    agents: list[Agent] = field(default_factory=list)


# (current sessions by id, new events in batch order) -> what to persist
Planner = Callable[[Mapping[str, Session], list[Event]], BatchPlan]


@dataclass(slots=True)
class CommitResult:
    events: list[Event]  # one per input event, in input order; a duplicate id maps to the stored event
    sessions: list[Session]
    inserted: list[Event]  # only the events this call stored
    # With a claim: the answer recorded for its key, by this call or (replayed) by an earlier one.
    response: IdempotentResponse | None = None
    replayed: bool = False


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Claim(Generic[R]):
    """An Idempotency-Key, checked and recorded inside the write it guards.

    answer turns this call's result (a CommitResult for an event batch, the created record
    for other writes) into the response remembered for the key; it runs inside the
    transaction, so it must be pure and quick.
    """

    project_id: str
    key: str
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    answer: Callable[[R], tuple[int, bytes, str]]

    def record(self, result: R) -> IdempotentResponse:
        status, body, content_type = self.answer(result)
        return IdempotentResponse(
            project_id=self.project_id, key=self.key, fingerprint=self.fingerprint, status=status, body=body,
            content_type=content_type, created_at=self.created_at, expires_at=self.expires_at,
        )


class TraceStore(Protocol):
    async def commit_batch(
        self, project_id: str, events: list[Event], plan: Planner, claim: Claim[Any] | None = None
    ) -> CommitResult:
        """Stores the batch atomically. With a claim whose key already holds a live record, stores
        nothing and returns that record as the response, replayed."""
        ...

    async def sessions_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Session]: ...
    async def events_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Event]: ...
    async def agents_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Agent]: ...

    async def find_sessions(self, project_id: str, query: SessionQuery, page: Page) -> PageResult[Session]: ...
    async def find_events(self, project_id: str, query: EventQuery, page: Page) -> PageResult[Event]: ...
    async def find_agents(self, project_id: str, page: Page) -> PageResult[Agent]: ...

    async def events_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[Event]]: ...
    async def sessions_for_agents(
        self, project_id: str, agent_ids: Sequence[str], query: SessionQuery, page: Page
    ) -> dict[str, PageResult[Session]]: ...
    async def events_by_call_ids(self, project_id: str, keys: Sequence[tuple[str, str]]) -> list[Event]: ...
    async def session_chain(self, project_id: str, session_id: str) -> list[Event]: ...
    # The same reads as records (storage/models/records.py), for answers that need no model.
    async def find_event_records(self, project_id: str, query: EventQuery, page: Page) -> PageResult[EventRecord]: ...
    async def session_chain_records(self, project_id: str, session_id: str) -> list[EventRecord]: ...
    async def event_views_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[EventView]]: ...

    async def delete_sessions_before(self, project_id: str, cutoff: datetime, limit: int) -> int:
        """Deletes up to limit whole sessions whose last event is before cutoff, with their events, tags and
        search entries; returns how many. Whole sessions only, so every remaining chain still verifies."""
        ...

    async def events_after(self, project_id: str, position: int, query: EventQuery, limit: int) -> list[Event]:
        """Events committed after a position, in commit order: what live streams resume from."""
        ...
