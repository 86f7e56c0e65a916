"""Seed 004, the AgentLens server: typed events with a hash chain, under /api.

Wire format: camelCase; POST /api/events answers 201 {ingested, events:[{id, hash}]};
errors are {"error": "...", "details": [{"path", "message"}]}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, cast

from aiohttp import web
from pydantic import Field
from typing_extensions import TypedDict

from graph.rest.agentlens_server.wire import (
    ErrorOut,
    EventListOut,
    EventOut,
    HealthOut,
    IngestedOut,
    Sealed,
    SessionListOut,
    SessionOut,
    TimelineOut,
)
from graph.rest.auth import bearer, public
from graph.rest.http import (
    json_response,
    query_choice,
    query_int,
    query_list,
    query_time,
    read_events_json,
)
from graph.rest.idempotency import ingest_once
from graph.rest.keys import PROJECT, SERVICES
from graph.rest.openapi import Example, Offset, Operation, Param, Spec
from graph.rest.ratelimit import Rule
from graph.rest.sse import stream_events, stream_filter
from resolvers.core.bounds import Instant
from resolvers.core.errors import InputError, Problem
from resolvers.core.idempotency import KeyHeader
from resolvers.traces.event_types import EVENT_TYPES, SEVERITIES, EventIn
from resolvers.traces.ingest import typed_items
from resolvers.traces.reads import find_event_records, find_sessions, get_event, get_session, timeline_wire
from storage.contract import CommitResult, EventQuery, Page, SessionQuery
from storage.models import Event, Session
from storage.models.records import EventRecord, record_of
from storage.timeutil import iso_ms

VERSION = "0.1.0"
MAX_LIMIT = 500


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: ErrorOut = {"error": message}
    if problems:
        body["details"] = [{"path": p.path, "message": p.message} for p in problems]
    return json_response(body, status)


def event_json(e: Event) -> EventOut:
    return record_json(record_of(e))


def record_json(e: EventRecord) -> EventOut:
    return {
        "id": e.id,
        "timestamp": e.time,
        "sessionId": e.session_id,
        "agentId": e.agent_id,
        "eventType": e.type,
        "severity": e.severity,
        "payload": e.payload,
        "metadata": e.metadata,
        "prevHash": e.prev_hash,
        "hash": e.hash,
    }


def session_json(s: Session) -> SessionOut:
    return {
        "id": s.id,
        "agentId": s.agent_id,
        "agentName": s.agent_name,
        "startedAt": iso_ms(s.started_at),
        "endedAt": iso_ms(s.ended_at) if s.ended_at else None,
        "status": s.status.value,
        "eventCount": s.event_count,
        "toolCallCount": s.tool_call_count,
        "errorCount": s.error_count,
        "llmCallCount": s.llm_call_count,
        "totalCostUsd": float(s.cost_usd),
        "totalInputTokens": s.tokens_in,
        "totalOutputTokens": s.tokens_out,
        "tags": s.tags,
    }


def _order(request: web.Request) -> bool:
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InputError(Problem("order", "must be asc or desc"))
    return order == "desc"


def _page(request: web.Request, descending: bool) -> Page:
    return Page(
        limit=query_int(request, "limit", 50, low=1, high=MAX_LIMIT),
        offset=query_int(request, "offset", 0),
        descending=descending,
    )


def _ingested(result: CommitResult) -> web.Response:
    sealed: list[Sealed] = [{"id": e.id, "hash": e.hash} for e in result.events]
    answer: IngestedOut = {"ingested": len(result.events), "events": sealed}
    return json_response(answer, 201)


async def post_events(request: web.Request) -> web.Response:
    body, storable = await read_events_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object with an events array"))
    items = typed_items(request.config_dict[SERVICES], request[PROJECT], body.get("events"))
    return await ingest_once(request, request[PROJECT], items, _ingested, documents_checked=storable)


async def list_events(request: web.Request) -> web.Response:
    query = EventQuery(
        session_ids=query_list(request, "sessionId"),
        agent_ids=query_list(request, "agentId"),
        types=query_choice(request, "eventType", EVENT_TYPES),
        severities=query_choice(request, "severity", SEVERITIES),
        since=query_time(request, "from"),
        until=query_time(request, "to"),
        search=request.query.get("search") or None,
    )
    page = _page(request, _order(request))
    result = await find_event_records(request.config_dict[SERVICES], request[PROJECT], query, page)
    answer: EventListOut = {
        "events": [record_json(e) for e in result.items], "total": result.total, "hasMore": result.has_more
    }
    return json_response(answer)


async def event_detail(request: web.Request) -> web.Response:
    event = await get_event(request.config_dict[SERVICES], request[PROJECT], request.match_info["id"])
    return json_response(event_json(event))


async def list_sessions(request: web.Request) -> web.Response:
    query = SessionQuery(
        agent_ids=query_list(request, "agentId"),
        statuses=query_choice(request, "status", ("active", "completed", "error")),
        since=query_time(request, "from"),
        until=query_time(request, "to"),
        tags=query_list(request, "tags"),
    )
    result = await find_sessions(request.config_dict[SERVICES], request[PROJECT], query, _page(request, True))
    answer: SessionListOut = {
        "sessions": [session_json(s) for s in result.items], "total": result.total, "hasMore": result.has_more
    }
    return json_response(answer)


async def session_detail(request: web.Request) -> web.Response:
    session = await get_session(request.config_dict[SERVICES], request[PROJECT], request.match_info["id"])
    return json_response(session_json(session))


async def session_timeline(request: web.Request) -> web.Response:
    result = await timeline_wire(request.config_dict[SERVICES], request[PROJECT], request.match_info["id"])
    # verify_wire's dicts are record_json's, built while the chain is checked (tests/resolvers/test_chain.py)
    answer: TimelineOut = {"events": cast(list[EventOut], result.events), "chainValid": result.chain_valid}
    return json_response(answer)


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /stream: the eventAdded subscription as SSE, with the same filters, in this family's event shape."""
    return await stream_events(request, stream_filter(request, "types", "sessionId", "agentId"), event_json)


@public
async def health(request: web.Request) -> web.Response:
    answer: HealthOut = {"status": "ok", "version": VERSION}
    return json_response(answer)


class EventsIn(TypedDict):
    """POST /api/events: typed events; each eventType has its own payload fields."""

    events: list[EventIn]


TYPED_BATCH = {"events": [
    {"sessionId": "sess-doc-1", "agentId": "support-bot", "eventType": "session_started",
     "payload": {"agentName": "Support bot"}, "timestamp": "2025-01-01T12:00:00Z", "metadata": {"env": "docs"}},
    {"sessionId": "sess-doc-1", "agentId": "support-bot", "eventType": "tool_call",
     "payload": {"toolName": "search", "callId": "call-1", "arguments": {"q": "refund policy"}}},
    {"sessionId": "sess-doc-1", "agentId": "support-bot", "eventType": "tool_error", "severity": "error",
     "payload": {"toolName": "search", "callId": "call-1", "error": "timeout", "durationMs": 1200}},
]}
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
PAGE = (
    Param("limit", "query", f"Page size (at most {MAX_LIMIT})", Limit, default=50),
    Param("offset", "query", "Items to skip", Offset, default=0),
)
RANGE = (
    Param("from", "query", "Only from this instant (ISO 8601)", Instant),
    Param("to", "query", "Only up to this instant (ISO 8601)", Instant),
)
ID = Param("id", "path", "The id")

OPERATIONS = (
    Operation("GET", "/health", health, "Liveness and version", {200: (HealthOut, "Up")},
              examples=(Example("up", 200),)),
    Operation(
        "POST", "/events", post_events, "Ingest typed events",
        {201: (IngestedOut, "Every event was stored and sealed into its session's hash chain")},
        body=EventsIn,
        description="eventType is one of: " + ", ".join(EVENT_TYPES) + "; its payload is checked against "
                    "that type's fields. The batch is all or nothing. Send Idempotency-Key to make retries safe.",
        params=(Param("Idempotency-Key", "header", "Makes a retried batch count once", KeyHeader),),
        errors={409: "The Idempotency-Key was used with a different batch"},
        examples=(
            Example("session", 201, body=TYPED_BATCH),
            Example("unknown_type", 400, body={"events": [
                {"sessionId": "s", "agentId": "a", "eventType": "teleport", "payload": {}}]}),
            Example("empty", 400, body={"events": []}),
        ),
    ),
    Operation(
        "GET", "/events", list_events, "Events, filtered",
        {200: (EventListOut, "One page of events and the total that match")},
        params=(
            Param("sessionId", "query", "Only these sessions (comma-separated)"),
            Param("agentId", "query", "Only these agents (comma-separated)"),
            Param("eventType", "query", "Only these types", enum=EVENT_TYPES),
            Param("severity", "query", "Only these severities", enum=SEVERITIES),
            *RANGE,
            Param("search", "query", "Text the event's payload contains"),
            *PAGE,
            Param("order", "query", "By time: asc or desc", default="desc"),
        ),
        examples=(
            Example("session", 200, query={"sessionId": "sess-doc-1", "order": "asc"}),
            Example("errors", 200, query={"severity": "error", "limit": "5"}),
            Example("bad_order", 400, query={"order": "sideways"}),
            Example("bad_time", 400, query={"from": "yesterday"}),
        ),
    ),
    Operation(
        "GET", "/events/{id}", event_detail, "One event", {200: (EventOut, "The event")},
        params=(ID,), errors={404: "No such event in this project"},
        examples=(Example("missing", 404, path={"id": "nope"}),),
    ),
    Operation(
        "GET", "/sessions", list_sessions, "Sessions, newest first",
        {200: (SessionListOut, "One page of sessions and the total that match")},
        params=(
            Param("agentId", "query", "Only these agents (comma-separated)"),
            Param("status", "query", "Only sessions in these states", enum=("active", "completed", "error")),
            *RANGE,
            Param("tags", "query", "Only sessions with these tags (comma-separated)"),
            *PAGE,
        ),
        examples=(
            Example("all", 200),
            Example("active", 200, query={"status": "active", "agentId": "support-bot"}),
            Example("bad_status", 400, query={"status": "sleeping"}),
        ),
    ),
    Operation(
        "GET", "/sessions/{id}", session_detail, "One session", {200: (SessionOut, "The session")},
        params=(ID,), errors={404: "No such session in this project"},
        examples=(Example("found", 200, path={"id": "sess-doc-1"}), Example("missing", 404, path={"id": "nope"})),
    ),
    Operation(
        "GET", "/sessions/{id}/timeline", session_timeline, "A session's events in order, with its chain checked",
        {200: (TimelineOut, "The events, oldest first, and whether every hash links to the one before")},
        params=(ID,), errors={404: "No such session in this project"},
        examples=(Example("found", 200, path={"id": "sess-doc-1"}), Example("missing", 404, path={"id": "nope"})),
    ),
)

SPEC = Spec(
    slug="agentlens_server",
    title="AgentLens server (seed 004)",
    version=VERSION,
    description=(__doc__ or "").strip(),
    error=ErrorOut,
    schemes={"Bearer": {"type": "http", "scheme": "bearer"}},
    default_security=("Bearer",),
    operations=OPERATIONS,
)


DEFAULT_CREDENTIAL = bearer
RATE_STYLE = "x"


def rate_rules(per_minute: int) -> list[Rule]:
    return [Rule("/", per_minute, 60)]  # undocumented by the seed: one per-key budget
