"""Seed 003, Agent Analytics, under /agent-analytics: the live stream (more routes follow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from graph.rest.common import error_middleware, json_response
from graph.rest.sse import stream_events, stream_filter
from resolvers.errors import Problem
from storage.models import Event
from storage.timeutil import iso_ms, now_ms


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if problems:
        body["field"] = problems[0].path
    return json_response(body, status)


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "event": e.type,
        "session_id": e.session_id,
        "agent_id": e.agent_id,
        "properties": e.payload,
        "timestamp": iso_ms(e.timestamp),
    }


async def stream(request: web.Request) -> web.StreamResponse:
    return await stream_events(request, stream_filter(request, "event", "session_id", "agent_id"), event_json)


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "timestamp": iso_ms(now_ms())})


def routes() -> list[web.RouteDef]:
    return [web.get("/health", health), web.get("/stream", stream)]


def middleware(max_body_bytes: int) -> Any:
    return error_middleware(render_error, max_body_bytes)
