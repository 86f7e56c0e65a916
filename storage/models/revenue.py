"""Revenue attribution (seed 000, LensAI): customers, goal types, goals, outcomes and revenues.

Money is exact: amounts are integer nano-units of their currency (an ISO 4217 code), never floats.
A revenue or outcome may point at an agent, a goal, a customer and an event; through the event it
belongs to a session (its trace), kept as session_id when the record is written so sessions and
their traces can be credited without reading the event again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

DEFAULT_CURRENCY = "USD"
DEFAULT_SOURCE = "Manual"


class RevenueRecord(BaseModel):
    """What every record of this domain has."""

    project_id: str
    id: str
    created_at: datetime
    updated_at: datetime


class Customer(RevenueRecord):
    key: str | None = None  # the customer's id in the caller's own systems
    name: str | None = None
    email: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class GoalType(RevenueRecord):
    name: str
    description: str | None = None


class Goal(RevenueRecord):
    name: str
    goal_type_id: str | None = None
    agent_id: str | None = None
    description: str | None = None


class Outcome(RevenueRecord):
    """A business outcome: a goal completion when it names a goal."""

    key: str
    name: str
    agent_id: str | None = None
    customer_id: str | None = None
    event_id: str | None = None
    session_id: str | None = None  # the event's session, when it names an event
    goal_id: str | None = None
    value_nanos: int | None = None
    currency: str = DEFAULT_CURRENCY
    recorded_at: datetime


class Revenue(RevenueRecord):
    key: str
    amount_nanos: int
    currency: str = DEFAULT_CURRENCY
    agent_id: str | None = None
    customer_id: str | None = None
    description: str | None = None
    event_id: str | None = None
    session_id: str | None = None  # the event's session, when it names an event
    goal_id: str | None = None
    source: str = DEFAULT_SOURCE
    recorded_at: datetime


# Each kind of record, and the fields a listing may filter on (by equality); all are indexed.
KINDS: dict[type[RevenueRecord], tuple[str, ...]] = {
    Customer: ("key", "email"),
    GoalType: ("name",),
    Goal: ("goal_type_id", "agent_id"),
    Outcome: ("agent_id", "goal_id", "customer_id", "session_id", "event_id"),
    Revenue: ("agent_id", "goal_id", "customer_id", "session_id", "event_id", "source", "currency"),
}
DAY_MS = 86_400_000
