"""Seed 004, the AgentLens server: typed events with a hash chain, under /api.

Wire format: camelCase; POST /api/events answers 201 {ingested, events:[{id, hash}]};
errors are {"error": "...", "details": [{"path", "message"}]}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from graph.rest.auth import bearer, public
from graph.rest.http import (
    json_response,
    query_choice,
    query_int,
    query_list,
    query_time,
    read_json,
)
from graph.rest.idempotency import ingest_once
from graph.rest.keys import PROJECT, SERVICES
from graph.rest.ratelimit import Rule
from graph.rest.sse import stream_events, stream_filter
from resolvers.core.errors import InputError, Problem
from resolvers.traces.event_types import EVENT_TYPES, SEVERITIES
from resolvers.traces.ingest import typed_items
from resolvers.traces.reads import find_events, find_sessions, get_event, get_session, timeline
from storage.contract import CommitResult, EventQuery, Page, SessionQuery
from storage.models import Event, Session
from storage.timeutil import iso_ms

VERSION = "0.1.0"
MAX_LIMIT = 500


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if problems:
        body["details"] = [{"path": p.path, "message": p.message} for p in problems]
    return json_response(body, status)


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "timestamp": iso_ms(e.timestamp),
        "sessionId": e.session_id,
        "agentId": e.agent_id,
        "eventType": e.type,
        "severity": e.severity,
        "payload": e.payload,
        "metadata": e.metadata,
        "prevHash": e.prev_hash,
        "hash": e.hash,
    }


def session_json(s: Session) -> dict[str, Any]:
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
    return json_response(
        {"ingested": len(result.events), "events": [{"id": e.id, "hash": e.hash} for e in result.events]}, 201
    )


async def post_events(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object with an events array"))
    items = typed_items(request.config_dict[SERVICES], request[PROJECT], body.get("events"))
    return await ingest_once(request, request[PROJECT], items, _ingested)


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
    result = await find_events(request.config_dict[SERVICES], request[PROJECT], query, _page(request, _order(request)))
    return json_response(
        {"events": [event_json(e) for e in result.items], "total": result.total, "hasMore": result.has_more}
    )


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
    return json_response(
        {"sessions": [session_json(s) for s in result.items], "total": result.total, "hasMore": result.has_more}
    )


async def session_detail(request: web.Request) -> web.Response:
    session = await get_session(request.config_dict[SERVICES], request[PROJECT], request.match_info["id"])
    return json_response(session_json(session))


async def session_timeline(request: web.Request) -> web.Response:
    result = await timeline(request.config_dict[SERVICES], request[PROJECT], request.match_info["id"])
    return json_response({"events": [event_json(e) for e in result.events], "chainValid": result.chain_valid})


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /stream: the eventAdded subscription as SSE, with the same filters, in this family's event shape."""
    return await stream_events(request, stream_filter(request, "types", "sessionId", "agentId"), event_json)


@public
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "version": VERSION})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/health", health),
        web.post("/events", post_events),
        web.get("/events", list_events),
        web.get("/events/{id}", event_detail),
        web.get("/sessions", list_sessions),
        web.get("/sessions/{id}", session_detail),
        web.get("/sessions/{id}/timeline", session_timeline),
    ]


DEFAULT_CREDENTIAL = bearer
RATE_STYLE = "x"


def rate_rules(per_minute: int) -> list[Rule]:
    return [Rule("/", per_minute, 60)]  # undocumented by the seed: one per-key budget
