"""SQLite rows and models: the column lists and the conversions either way."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import orjson

from storage.models import Agent, Event, Session, SessionStatus
from storage.models.construct import from_stored
from storage.models.traces import PRODUCT_FIELDS
from storage.search import search_text
from storage.timeutil import from_ms, to_ms

EVENT_COLUMNS = (
    "project_id, id, session_id, agent_id, type, severity, ts, received_at, seq, call_id, model,"
    " tokens_in, tokens_out, duration_ms, cost_nanos, payload, metadata, prev_hash, hash, rowid, "
    + ", ".join(PRODUCT_FIELDS)
)
# The rowid is assigned explicitly by the single writer, so it is the commit order.
INSERT_EVENT_COLUMNS = (
    "rowid, project_id, id, session_id, agent_id, type, severity, ts, received_at, seq, call_id, model,"
    " tokens_in, tokens_out, duration_ms, cost_nanos, payload, metadata, search_text, prev_hash, hash, "
    + ", ".join(PRODUCT_FIELDS)
)
_PRODUCT_END = 20 + len(PRODUCT_FIELDS)  # grouped reads append a row number after
SESSION_COLUMNS = (
    "project_id, id, agent_id, agent_name, status, started_at, ended_at, last_event_at, metadata,"
    " tags, event_count, error_count, tool_call_count, llm_call_count, tokens_in, tokens_out,"
    " cost_nanos, processing_ms, chain_head, chain_seq, kind, user_id, entry_path, exit_path"
)
AGENT_COLUMNS = "project_id, id, name, first_seen, last_seen"
# An EventRecord's fields, in its order (ts gives both ts_ms and time).
RECORD_COLUMNS = (
    "id, session_id, agent_id, user_id, type, severity, ts, seq, model, tokens_in, tokens_out, duration_ms,"
    " payload, metadata, prev_hash, hash"
)


# The Event fields EVENT_COLUMNS gives, in its order (ts is the timestamp, the rowid the position).
_EVENT_FIELDS = (
    "project_id", "id", "session_id", "agent_id", "type", "severity", "timestamp", "received_at", "seq", "call_id",
    "model", "tokens_in", "tokens_out", "duration_ms", "cost_nanos", "payload", "metadata", "prev_hash", "hash",
    "position", *PRODUCT_FIELDS,
)


# Rows come from our own writes: nothing is validated again on every read (models/construct.py).
def _event(row: Sequence[Any]) -> Event:
    values = dict(zip(_EVENT_FIELDS, row, strict=False))  # a grouped read's extra row number falls off the end
    values["timestamp"] = from_ms(row[6])
    values["received_at"] = from_ms(row[7])
    values["payload"] = orjson.loads(row[15])
    values["metadata"] = orjson.loads(row[16])
    return from_stored(Event, values)


def _session(row: Sequence[Any]) -> Session:
    return from_stored(Session, {
        "project_id": row[0],
        "id": row[1],
        "agent_id": row[2],
        "agent_name": row[3],
        "status": SessionStatus(row[4]),
        "started_at": from_ms(row[5]),
        "ended_at": from_ms(row[6]),
        "last_event_at": from_ms(row[7]),
        "metadata": orjson.loads(row[8]),
        "tags": orjson.loads(row[9]),
        "event_count": row[10],
        "error_count": row[11],
        "tool_call_count": row[12],
        "llm_call_count": row[13],
        "tokens_in": row[14],
        "tokens_out": row[15],
        "cost_nanos": row[16],
        "processing_ms": row[17],
        "chain_head": row[18],
        "chain_seq": row[19],
        "kind": row[20],
        "user_id": row[21],
        "entry_path": row[22],
        "exit_path": row[23],
    })


def _agent(row: Sequence[Any]) -> Agent:
    return Agent.model_construct(
        project_id=row[0], id=row[1], name=row[2], first_seen=from_ms(row[3]), last_seen=from_ms(row[4])
    )


def _prepare(e: Event) -> tuple[bytes, bytes, str]:
    """The costly parts of an event's row, computed before the write lock."""
    return orjson.dumps(e.payload), orjson.dumps(e.metadata), search_text(e.payload)


_product = attrgetter(*PRODUCT_FIELDS)


def _event_row(e: Event, prepared: tuple[bytes, bytes, str]) -> tuple:
    payload, metadata, text = prepared
    return (
        e.position,
        e.project_id,
        e.id,
        e.session_id,
        e.agent_id,
        e.type,
        e.severity,
        to_ms(e.timestamp),
        to_ms(e.received_at),
        e.seq,
        e.call_id,
        e.model,
        e.tokens_in,
        e.tokens_out,
        e.duration_ms,
        e.cost_nanos,
        payload,
        metadata,
        text,
        e.prev_hash,
        e.hash,
        *_product(e),
    )


def _session_row(s: Session) -> tuple:
    return (
        s.project_id,
        s.id,
        s.agent_id,
        s.agent_name,
        s.status.value,
        to_ms(s.started_at),
        to_ms(s.ended_at) if s.ended_at else None,
        to_ms(s.last_event_at) if s.last_event_at else None,
        orjson.dumps(s.metadata),
        orjson.dumps(s.tags),
        s.event_count,
        s.error_count,
        s.tool_call_count,
        s.llm_call_count,
        s.tokens_in,
        s.tokens_out,
        s.cost_nanos,
        s.processing_ms,
        s.chain_head,
        s.chain_seq,
        s.kind,
        s.user_id,
        s.entry_path,
        s.exit_path,
    )
