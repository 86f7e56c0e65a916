"""Reading traces back: shared by the GraphQL resolvers and the REST shims."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.core.errors import NotFound
from resolvers.core.services import Services
from resolvers.traces.chain import verify, verify_wire
from resolvers.traces.planner import END_TYPES, START_TYPES
from storage.contract import EventQuery, Page, PageResult, SessionQuery
from storage.models import Agent, Event, Session
from storage.models.records import EventRecord
from storage.timeutil import now_ms


@dataclass(slots=True)
class Timeline:
    events: list[Event]  # by time, then chain order
    chain_valid: bool


@dataclass(slots=True)
class WireTimeline:
    events: list[dict[str, Any]]  # seed 004's wire events (chain.verify_wire), by time, then chain order
    chain_valid: bool


async def find_sessions(services: Services, project_id: str, query: SessionQuery, page: Page) -> PageResult[Session]:
    return await services.store.traces.find_sessions(project_id, query, page)


async def find_events(services: Services, project_id: str, query: EventQuery, page: Page) -> PageResult[Event]:
    return await services.store.traces.find_events(project_id, query, page)


async def find_event_records(
    services: Services, project_id: str, query: EventQuery, page: Page
) -> PageResult[EventRecord]:
    return await services.store.traces.find_event_records(project_id, query, page)


async def find_agents(services: Services, project_id: str, page: Page) -> PageResult[Agent]:
    return await services.store.traces.find_agents(project_id, page)


async def get_session(services: Services, project_id: str, session_id: str) -> Session:
    found = await services.store.traces.sessions_by_ids(project_id, [session_id])
    if not found:
        raise NotFound("session", session_id)
    return found[0]


LIFECYCLE_TYPES = START_TYPES | END_TYPES


async def session_steps(services: Services, project_id: str, session_id: str) -> tuple[Session, list[Event]]:
    """A session and what happened in it, oldest first: every event but its start and end records,
    which the session itself stands for (its started_at, ended_at, status and final totals)."""
    session = await get_session(services, project_id, session_id)
    found = await services.store.traces.find_events(
        project_id, EventQuery(session_ids=(session.id,)), Page(limit=max(session.event_count, 1), count_total=False)
    )
    return session, [e for e in found.items if e.type not in LIFECYCLE_TYPES]


async def session_step_records(
    services: Services, project_id: str, session_id: str
) -> tuple[Session, list[EventRecord]]:
    """session_steps, as records."""
    session = await get_session(services, project_id, session_id)
    found = await services.store.traces.find_event_records(
        project_id, EventQuery(session_ids=(session.id,)), Page(limit=max(session.event_count, 1), count_total=False)
    )
    return session, [e for e in found.items if e.type not in LIFECYCLE_TYPES]


async def get_event(services: Services, project_id: str, event_id: str) -> Event:
    found = await services.store.traces.events_by_ids(project_id, [event_id])
    if not found:
        raise NotFound("event", event_id)
    return found[0]


async def timeline(services: Services, project_id: str, session_id: str) -> Timeline:
    await get_session(services, project_id, session_id)
    chain = await services.store.traces.session_chain(project_id, session_id)
    valid = verify(chain)
    return Timeline(events=sorted(chain, key=lambda e: (e.timestamp, e.seq)), chain_valid=valid)


async def timeline_wire(services: Services, project_id: str, session_id: str) -> WireTimeline:
    """timeline, as seed 004's wire events: the chain checked while the answer's dicts are built (verify_wire).
    A session's events exist only with their session (a batch stores both, retention deletes both), so only
    an empty chain needs the session looked up: a store call fewer per read."""
    chain = await services.store.traces.session_chain_records(project_id, session_id)
    if not chain:
        await get_session(services, project_id, session_id)
    events, valid = verify_wire(chain)
    return WireTimeline(events=events, chain_valid=valid)


async def usage_today(services: Services, project_id: str) -> int:
    """Events the project has received since midnight UTC."""
    today = now_ms().replace(hour=0, minute=0, second=0, microsecond=0)
    found = await services.store.traces.find_events(project_id, EventQuery(since=today), Page(limit=0))
    return found.total
