"""Events as the REST reads need them: a flat record, not a pydantic model.

A 1,000-event read spent most of its time building Event models (36 fields, two datetimes
each) only to turn them back into JSON. A record is a tuple of the fields those answers and
the hash chain use, with the time already in its wire form; rows become records directly.
record_of gives the same record from a model, for backends and callers that hold models.
EventView is the same idea for GraphQL's Event type; view_of gives it from a model.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from storage.models.money import nanos_to_usd
from storage.models.traces import Event
from storage.timeutil import iso_ms, to_ms


class EventRecord(NamedTuple):
    id: str
    session_id: str
    agent_id: str | None
    user_id: str | None
    type: str
    severity: str
    ts_ms: int  # the timestamp in milliseconds since the epoch: orders records as timestamp orders events
    time: str  # the same instant as iso_ms writes it
    seq: int
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    duration_ms: float | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: str | None
    hash: str | None


def record_of(e: Event) -> EventRecord:
    return EventRecord(
        e.id, e.session_id, e.agent_id, e.user_id, e.type, e.severity, to_ms(e.timestamp), iso_ms(e.timestamp),
        e.seq, e.model, e.tokens_in, e.tokens_out, e.duration_ms, e.payload, e.metadata, e.prev_hash, e.hash,
    )


class EventView(NamedTuple):
    """An event as GraphQL's Event type shows it: the fields it exposes or resolves from, and no more.

    A whole session's events over GraphQL were built as pydantic models (36 fields, a dict per row)
    only to be copied into the GraphQL objects: a quarter of a 1,000-event read. The values are the
    model's exactly (the same datetimes, the same parsed JSON), so the answers are the same bytes."""

    id: str
    session_id: str
    agent_id: str | None
    type: str
    severity: str
    ts_ms: int  # the timestamp in milliseconds: the cursor's key without a datetime conversion
    timestamp: datetime
    received_at: datetime
    seq: int
    call_id: str | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    duration_ms: float | None
    cost_nanos: int | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    prev_hash: str | None
    hash: str | None

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_nanos is None else nanos_to_usd(self.cost_nanos)


def view_of(e: Event) -> EventView:
    return EventView(
        e.id, e.session_id, e.agent_id, e.type, e.severity, to_ms(e.timestamp), e.timestamp, e.received_at, e.seq,
        e.call_id, e.model, e.tokens_in, e.tokens_out, e.duration_ms, e.cost_nanos, e.payload, e.metadata,
        e.prev_hash, e.hash,
    )
