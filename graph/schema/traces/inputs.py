"""Filter and ingest inputs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from storage.contract import EventQuery, SessionQuery
from storage.models import SessionStatus

# Registers the stored enum itself as the GraphQL enum, so annotations can name SessionStatus directly.
SessionStatusEnum = strawberry.enum(SessionStatus, name="SessionStatus", description="Lifecycle of a session.")


@strawberry.enum
class SortOrder(Enum):
    ASC = "asc"
    DESC = "desc"


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


@strawberry.input(description="Every field narrows the result; all given fields must match.")
class EventFilter:
    session_id: strawberry.ID | None = None
    agent_id: strawberry.ID | None = None
    types: list[str] | None = None
    severities: list[str] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the payload's values."
    )


@strawberry.input
class SessionFilter:
    agent_id: strawberry.ID | None = None
    status: list[SessionStatus] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from", description="startedAt at or after")
    to: datetime | None = strawberry.field(default=None, description="startedAt at or before")
    tags: list[str] | None = strawberry.field(default=None, description="Sessions carrying all of these tags.")


def event_query(f: EventFilter | None) -> EventQuery:
    if f is None:
        return EventQuery()
    return EventQuery(
        session_ids=(str(f.session_id),) if f.session_id else None,
        agent_ids=(str(f.agent_id),) if f.agent_id else None,
        types=_tuple(f.types),
        severities=_tuple(f.severities),
        since=f.from_,
        until=f.to,
        search=f.search or None,
    )


def session_query(f: SessionFilter | None) -> SessionQuery:
    if f is None:
        return SessionQuery()
    return SessionQuery(
        agent_ids=(str(f.agent_id),) if f.agent_id else None,
        statuses=None if f.status is None else tuple(s.value for s in f.status),
        since=f.from_,
        until=f.to,
        tags=_tuple(f.tags),
    )


@strawberry.input(description="One event in the typed format of POST /api/events.")
class EventInput:
    session_id: strawberry.ID
    agent_id: strawberry.ID
    event_type: str = strawberry.field(description="One of the 18 event types, e.g. tool_call.")
    payload: JSON
    severity: str | None = None
    metadata: JSON | None = None
    timestamp: datetime | None = None

    def as_wire(self) -> dict:
        raw = {
            "sessionId": str(self.session_id),
            "agentId": str(self.agent_id),
            "eventType": self.event_type,
            "payload": self.payload,
        }
        for key, value in (("severity", self.severity), ("metadata", self.metadata), ("timestamp", self.timestamp)):
            if value is not None:
                raw[key] = value
        return raw
