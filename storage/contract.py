"""The Store contract, in the language of the domain.

Backends persist and query; they hold no domain rules. The one write,
commit_batch, hands the domain's planner the current state of the sessions a
batch touches and persists what it returns, atomically: that is how the hash
chain stays unbroken under concurrent batches on any backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from storage.models import Agent, ApiKey, Event, IdempotentResponse, Project, Session

T = TypeVar("T")

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


@dataclass(frozen=True, slots=True)
class SessionQuery:
    agent_ids: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    tags: tuple[str, ...] | None = None  # a session must carry all of them


@dataclass(frozen=True, slots=True)
class Page:
    """limit/offset for the REST shims, or limit/after (keyset) for GraphQL."""

    limit: int = 50
    offset: int = 0
    after: tuple | None = None
    descending: bool = False
    count_total: bool = True


@dataclass(slots=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int
    has_more: bool


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


class Conflict(Exception):
    """A unique value (a project name, an idempotency key) is taken."""


class StoreUnavailable(Exception):
    """The database cannot be used; the message is one line naming the host, never the password."""


class CommitConflict(Exception):
    """A batch kept losing the race for its sessions to concurrent commits: retry later."""


class Store(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def commit_batch(
        self, project_id: str, events: list[Event], plan: Planner
    ) -> CommitResult: ...

    async def sessions_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Session]: ...
    async def events_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Event]: ...
    async def agents_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Agent]: ...

    async def find_sessions(
        self, project_id: str, query: SessionQuery, page: Page
    ) -> PageResult[Session]: ...
    async def find_events(self, project_id: str, query: EventQuery, page: Page) -> PageResult[Event]: ...
    async def find_agents(self, project_id: str, page: Page) -> PageResult[Agent]: ...

    async def events_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[Event]]: ...
    async def sessions_for_agents(
        self, project_id: str, agent_ids: Sequence[str], query: SessionQuery, page: Page
    ) -> dict[str, PageResult[Session]]: ...
    async def events_by_call_ids(
        self, project_id: str, keys: Sequence[tuple[str, str]]
    ) -> list[Event]: ...
    async def session_chain(self, project_id: str, session_id: str) -> list[Event]: ...
    async def events_after(
        self, project_id: str, position: int, query: EventQuery, limit: int
    ) -> list[Event]:
        """Events committed after a position, in commit order: what live streams resume from."""
        ...

    # -- projects and keys (not scoped: these resolve the caller's project) --

    async def create_project(self, project: Project) -> Project:
        """Raises Conflict when the name is taken."""
        ...

    async def projects_by_ids(self, ids: Sequence[str]) -> list[Project]: ...
    async def project_by_name(self, name: str) -> Project | None: ...
    async def project_by_tracker_token(self, token: str) -> Project | None: ...
    async def find_projects(self, page: Page) -> PageResult[Project]: ...
    async def update_project(self, project: Project) -> Project: ...

    async def delete_project(self, project_id: str) -> bool:
        """Deletes the project and everything it owns."""
        ...

    async def add_key(self, key: ApiKey) -> None: ...
    async def key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def keys_for_project(self, project_id: str) -> list[ApiKey]: ...

    async def revoke_keys(self, project_id: str, revoked_at: datetime) -> int:
        """Revokes every live key of the project; returns how many."""
        ...

    async def has_keys(self) -> bool:
        """Whether any live key exists (dev mode is off once one does)."""
        ...

    # -- idempotency --

    async def remember_response(self, record: IdempotentResponse) -> IdempotentResponse:
        """Stores the record, or returns the live one already stored under its key."""
        ...

    async def recall_response(self, project_id: str, key: str, now: datetime) -> IdempotentResponse | None: ...
