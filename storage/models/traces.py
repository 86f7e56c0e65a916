"""Traces: sessions, their events, and the agents seen in them.

Times are timezone-aware UTC datetimes at millisecond precision (what both
SQLite and BSON dates keep). Money is kept as integer nano-dollars so sums are
exact on every backend; the API turns it into a decimal string.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from storage.models.money import nanos_to_usd


class SessionStatus(str, Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ERROR = "error"


class Session(BaseModel):
    """A trace: one run of one agent, with rolling counters and its hash-chain head."""

    project_id: str
    id: str
    agent_id: str | None = None
    agent_name: str | None = None
    status: SessionStatus = SessionStatus.ACTIVE
    started_at: datetime
    ended_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    event_count: int = 0
    error_count: int = 0
    tool_call_count: int = 0
    llm_call_count: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_nanos: int = 0
    processing_ms: float = 0.0
    last_event_at: datetime | None = None
    chain_head: str | None = None
    chain_seq: int = 0
    # Fixed by the session's first write: "agent" (a trace) or "tracker" (a visitor's product events).
    kind: str = "agent"
    # Tracked sessions (kind "tracker"): the visitor, and the first and last page path seen.
    user_id: str | None = None
    entry_path: str | None = None
    exit_path: str | None = None

    @property
    def cost_usd(self) -> Decimal:
        return nanos_to_usd(self.cost_nanos)


class Event(BaseModel):
    """One thing an agent did. seq orders events within their session's hash chain."""

    project_id: str
    id: str
    session_id: str
    agent_id: str | None = None
    type: str
    severity: str = "info"
    timestamp: datetime
    received_at: datetime
    seq: int = 0
    call_id: str | None = None
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    duration_ms: float | None = None
    cost_nanos: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str | None = None
    hash: str | None = None
    # Commit order across the store, assigned at commit: what live streams resume from.
    position: int = 0
    # "agent" (a step of an agent's trace) or "tracker" (a product event from a site or app).
    kind: str = "agent"
    # Product context, set on tracked events (None on agent steps): who, where from, on what.
    # user_id is the product's user, distinct from agent_id; anonymous_id the device before identify.
    user_id: str | None = None
    anonymous_id: str | None = None
    url: str | None = None
    path: str | None = None
    referrer: str | None = None
    referrer_domain: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
    country: str | None = None

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_nanos is None else nanos_to_usd(self.cost_nanos)


# The event columns analytics reads besides the trace's own, in storage order.
PRODUCT_FIELDS: tuple[str, ...] = (
    "kind", "user_id", "anonymous_id", "url", "path", "referrer", "referrer_domain",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "device", "browser", "os", "country",
)


class Agent(BaseModel):
    project_id: str
    id: str
    name: str | None = None
    first_seen: datetime
    last_seen: datetime
