"""Events as the REST reads need them: a flat record, not a pydantic model.

A 1,000-event read spent most of its time building Event models (36 fields, two datetimes
each) only to turn them back into JSON. A record is a tuple of the fields those answers and
the hash chain use, with the time already in its wire form; rows become records directly.
record_of gives the same record from a model, for backends and callers that hold models.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
