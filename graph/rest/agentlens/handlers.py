"""Seed 002, the AgentLens backend: POST /events from its SDK, and its session reads.

Wire format: snake_case, every field optional, errors as {"error": "..."}.
Fields the seed does not name are kept in the event's payload, so nothing an
SDK sends is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from graph.rest.agentlens.overview import get_analytics
from graph.rest.agentlens.reads import (
    SESSION_STATUSES,
    CompareIn,
    list_sessions,
    session_detail,
    session_explain,
    session_export,
    sessions_compare,
)
from graph.rest.agentlens.wire import (
    AnalyticsOut,
    CompareOut,
    ErrorOut,
    ExplainOut,
    ExportOut,
    HealthOut,
    ProcessedOut,
    SessionDetailOut,
    SessionListOut,
)
from graph.rest.auth import public, x_api_key
from graph.rest.http import json_response, read_events_json
from graph.rest.idempotency import ingest_once
from graph.rest.keys import PROJECT, SERVICES
from graph.rest.openapi import Example, Offset, Operation, Param, Spec
from graph.rest.ratelimit import Rule
from resolvers.core.bounds import DurationMs, Instant, Tokens
from resolvers.core.errors import InputError, Problem, from_pydantic
from resolvers.core.idempotency import KeyHeader
from resolvers.core.ids import new_uuid
from resolvers.traces.event_types import unsealed_event
from resolvers.traces.export import CSV_COLUMNS
from resolvers.traces.ingest import Incoming
from resolvers.traces.overview import SERIES_DAYS, TOP_AGENTS, WINDOW_DAYS
from resolvers.traces.planner import END_TYPES, START_TYPES, Lifecycle
from storage.models import SessionStatus
from storage.timeutil import iso_ms, now_ms

# Fields that become columns of the stored event; all others stay in the payload.
CORE_FIELDS = frozenset(
    {"event_type", "session_id", "event_id", "timestamp", "model", "tokens_in", "tokens_out",
     "duration_ms", "agent_name", "agent_id", "metadata", "status"}
)


class WireEvent(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    event_type: str = Field(default="generic", min_length=1, max_length=128)
    session_id: str = Field(default="unknown", min_length=1, max_length=256)
    event_id: str | None = Field(default=None, min_length=1, max_length=256)
    timestamp: Instant | None = None
    agent_name: str | None = Field(default=None, min_length=1, max_length=256)
    agent_id: str | None = Field(default=None, min_length=1, max_length=256)
    model: str | None = None
    tokens_in: Tokens | None = None
    tokens_out: Tokens | None = None
    duration_ms: DurationMs | None = None
    metadata: dict[str, Any] | None = None
    status: str | None = None
    tool_call: dict[str, Any] | None = None
    decision_trace: dict[str, Any] | None = None
    # session_end as the SDK sends it: when the session ended, and the session's final totals.
    ended_at: Instant | None = None
    total_tokens_in: Tokens | None = None
    total_tokens_out: Tokens | None = None


class EventsIn(TypedDict):
    """POST /events: a batch from the SDK."""

    events: list[WireEvent]


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: ErrorOut = {"error": message}
    return json_response(body, status)


# A whole batch of WireEvents in one pydantic call (one model_validate an event was ~2% of the loop's samples
# at batches of 100): the same model, so what it accepts model_validate accepts, with the same values.
_WIRE_BATCH: TypeAdapter[list[WireEvent]] = TypeAdapter(list[WireEvent])


def _wire_events(raw: list[Any]) -> list[WireEvent | ValidationError]:
    """Each event validated, or its ValidationError. A valid batch (the common case) in one call; a batch with
    any invalid event event by event, so that each event's own errors are named, in order, as before."""
    try:
        return list(_WIRE_BATCH.validate_python(raw))
    except ValidationError:
        pass
    out: list[WireEvent | ValidationError] = []
    for item in raw:
        try:
            out.append(WireEvent.model_validate(item))
        except ValidationError as exc:
            out.append(exc)
    return out


def translate(project_id: str, raw: list[Any], received: datetime, max_events: int) -> list[Incoming]:
    if len(raw) > max_events:
        raise InputError(Problem("events", f"holds {len(raw)} events; at most {max_events} are allowed"))
    problems: list[Problem] = []
    out: list[Incoming] = []
    for index, (item, wire) in enumerate(zip(raw, _wire_events(raw), strict=True)):
        if isinstance(wire, ValidationError):
            problems.extend(from_pydantic(wire, ("events", index)).problems)
            continue
        starts, ends = wire.event_type in START_TYPES, wire.event_type in END_TYPES
        if starts and wire.agent_name is None:
            problems.append(Problem(f"events[{index}].agent_name", "is required for session_start"))
            continue
        if starts and "session_id" not in item:
            problems.append(Problem(f"events[{index}].session_id", "is required for session_start"))
            continue
        if ends and wire.status not in (None, *SESSION_STATUSES):
            problems.append(Problem(f"events[{index}].status", "must be completed or error"))
            continue
        payload = {k: v for k, v in item.items() if k not in CORE_FIELDS}
        hint = None
        if starts:
            hint = Lifecycle(agent_name=wire.agent_name, metadata=wire.metadata or {})
        elif ends:
            # The SDK's totals when it counted any (as the reference backend, a 0 keeps what was counted
            # here), else tokens_in/tokens_out as final counts.
            hint = Lifecycle(
                agent_name=wire.agent_name,
                end_status=SessionStatus(wire.status) if wire.status in ("completed", "error") else None,
                final_tokens_in=wire.total_tokens_in or wire.tokens_in,
                final_tokens_out=wire.total_tokens_out or wire.tokens_out,
            )
            for key in ("tokens_in", "tokens_out"):
                if key in item:
                    payload[key] = item[key]
        elif wire.agent_name:
            hint = Lifecycle(agent_name=wire.agent_name)
        counted = not ends  # a session_end's tokens are final totals, not more usage
        # The SDK sends a session_end with ended_at and no timestamp: that is when the session ended
        # (the planner closes the session at its end event's time, and the hash chain seals that time).
        at = (wire.ended_at if ends else None) or wire.timestamp or received
        tool = wire.tool_call or {}
        out.append(
            Incoming(
                # Validated values (WireEvent's), so the Event is built without validating them again.
                unsealed_event({
                    "project_id": project_id,
                    "id": wire.event_id or new_uuid(),
                    "session_id": wire.session_id,
                    "agent_id": wire.agent_id or wire.agent_name,
                    "type": wire.event_type,
                    "severity": "error" if wire.event_type == "error" else "info",
                    "timestamp": at,
                    "received_at": received,
                    "call_id": tool.get("call_id") if isinstance(tool.get("call_id"), str) else None,
                    "model": wire.model,
                    "tokens_in": wire.tokens_in if counted else None,
                    "tokens_out": wire.tokens_out if counted else None,
                    "duration_ms": wire.duration_ms,
                    "payload": payload,
                    "metadata": wire.metadata or {},
                }),
                hint,
            )
        )
    if problems:
        raise InputError(problems)
    return out

async def post_events(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    body, storable = await read_events_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object with an events array"))
    raw = body.get("events")
    if not isinstance(raw, list):
        raise InputError(Problem("events", "must be an array of events"))
    items = translate(request[PROJECT], raw, now_ms(), services.limits.max_batch_events)
    answer: ProcessedOut = {"status": "ok", "processed": len(items)}
    processed = json_response(answer)
    if not items:
        return processed
    return await ingest_once(request, request[PROJECT], items, lambda _: processed, documents_checked=storable)


@public
async def health(request: web.Request) -> web.Response:
    answer: HealthOut = {"status": "ok", "timestamp": iso_ms(now_ms())}
    return json_response(answer)

SDK_BATCH = {"events": [
    {"event_type": "session_start", "session_id": "sess-doc-1", "agent_name": "support-bot",
     "timestamp": "2025-01-01T12:00:00Z", "metadata": {"env": "docs"}},
    {"event_type": "llm_call", "session_id": "sess-doc-1", "model": "gpt-4o", "tokens_in": 120, "tokens_out": 40,
     "duration_ms": 812.5, "input_data": {"prompt": "hi"}, "output_data": {"response": "hello"},
     "timestamp": "2025-01-01T12:00:01Z"},
    {"event_type": "tool_call", "session_id": "sess-doc-1", "duration_ms": 95.0, "timestamp": "2025-01-01T12:00:02Z",
     "tool_call": {"tool_name": "web_search", "tool_input": {"q": "status"}, "tool_output": {"hits": 3}}},
    {"event_type": "session_end", "session_id": "sess-doc-1", "status": "completed",
     "ended_at": "2025-01-01T12:00:05Z", "total_tokens_in": 120, "total_tokens_out": 40},
    {"event_type": "session_start", "session_id": "sess-doc-2", "agent_name": "support-bot",
     "timestamp": "2025-01-02T12:00:00Z"},
    {"event_type": "llm_call", "session_id": "sess-doc-2", "model": "gpt-4o-mini", "tokens_in": 90, "tokens_out": 30,
     "duration_ms": 640.0, "decision_trace": {"reasoning": "A shorter prompt"},
     "timestamp": "2025-01-02T12:00:01Z"},
]}
SESSION_PATH = {"id": "sess-doc-1"}
Limit = Annotated[int, Field(ge=0, le=200)]

OPERATIONS = (
    Operation("GET", "/health", health, "Liveness of the backend", {200: (HealthOut, "Up")},
              examples=(Example("up", 200),)),
    Operation(
        "POST", "/events", post_events, "Ingest a batch of SDK events",
        {200: (ProcessedOut, "Every event was accepted (or the batch was an Idempotency-Key replay)")},
        body=EventsIn,
        description="Every field of an event is optional; fields the seed does not name stay in the event's "
                    "payload. session_start needs agent_name and session_id; session_end's status is "
                    "completed or error. Send Idempotency-Key to make retries safe.",
        params=(Param("Idempotency-Key", "header", "Makes a retried batch count once", KeyHeader),),
        errors={409: "The Idempotency-Key was used with a different batch"},
        examples=(
            Example("session", 200, body=SDK_BATCH),
            Example("empty", 200, body={"events": []}),
            Example("missing_agent_name", 400, body={"events": [{"event_type": "session_start", "session_id": "x"}]}),
            Example("not_a_list", 400, body={"events": "nope"}),
        ),
    ),
    Operation(
        "GET", "/sessions", list_sessions, "Sessions, newest first",
        {200: (SessionListOut, "One page of sessions and the total that match")},
        params=(
            Param("status", "query", "Only sessions in these states", enum=SESSION_STATUSES),
            Param("limit", "query", "Page size (at most 200)", Limit, default=50),
            Param("offset", "query", "Sessions to skip", Offset, default=0),
        ),
        examples=(
            Example("all", 200),
            Example("completed", 200, query={"status": "completed", "limit": "10"}),
            Example("bad_status", 400, query={"status": "sleeping"}),
        ),
    ),
    # Fixed paths before /sessions/{id}, so "compare" is never read as a session id.
    Operation(
        "POST", "/sessions/compare", sessions_compare, "Two sessions side by side",
        {200: (CompareOut, "Both sessions' metrics, the deltas of B against A, and what either used")},
        body=CompareIn,
        description="Deltas are B relative to A: absolute is B - A, percent ((B - A) / A) x 100 to two places "
                    "(100 or -100 from a zero A, 0 when both are zero). shared lists every event type, tool "
                    "and model seen in either session.",
        errors={404: "Either session is not in this project; the error names it"},
        examples=(
            Example("compared", 200, body={"session_a": "sess-doc-1", "session_b": "sess-doc-2"}),
            Example("missing_field", 400, body={"session_a": "sess-doc-1"}),
            Example("same_session", 400, body={"session_a": "sess-doc-1", "session_b": "sess-doc-1"}),
            Example("unknown_session", 404, body={"session_a": "sess-doc-1", "session_b": "nope"}),
        ),
    ),
    Operation(
        "GET", "/sessions/{id}", session_detail, "One session with its events",
        {200: (SessionDetailOut, "The session and every event in it, oldest first")},
        params=(Param("id", "path", "The session's id"),),
        errors={404: "No such session in this project"},
        examples=(Example("found", 200, path=SESSION_PATH), Example("missing", 404, path={"id": "nope"})),
    ),
    Operation(
        "GET", "/sessions/{id}/explain", session_explain, "A session explained in Markdown",
        {200: (ExplainOut, "The session's duration, tokens, a timeline of its steps with their reasoning, "
                           "and a summary")},
        params=(Param("id", "path", "The session's id"),),
        errors={404: "No such session in this project"},
        examples=(Example("found", 200, path=SESSION_PATH), Example("missing", 404, path={"id": "nope"})),
    ),
    Operation(
        "GET", "/sessions/{id}/export", session_export, "A session and all its events, as JSON or CSV",
        {200: (ExportOut, "The export, with Content-Disposition naming a file to save it as")},
        params=(Param("id", "path", "The session's id"),
                Param("format", "query", "json or csv", Literal["json", "csv"], default="json")),
        errors={404: "No such session in this project"},
        also_media=("text/csv",),
        description="CSV columns: " + ", ".join(CSV_COLUMNS) + ". Cells that a spreadsheet would read as a "
                    "formula are prefixed with an apostrophe.",
        examples=(
            Example("json", 200, path=SESSION_PATH),
            Example("csv", 200, path=SESSION_PATH, query={"format": "csv"}),
            Example("bad_format", 400, path=SESSION_PATH, query={"format": "xml"}),
            Example("missing", 404, path={"id": "nope"}),
        ),
    ),
    Operation(
        "GET", "/analytics", get_analytics, "Aggregate statistics across all sessions",
        {200: (AnalyticsOut, "Overview, session durations, top agents, model usage, event types, sessions per "
                             "day and activity per hour")},
        description=f"Counts this project's agent sessions and their events only (never product events tracked "
                    f"through /agent-analytics/track). \"All time\" is the last {WINDOW_DAYS} UTC days up to the "
                    f"end of tomorrow: sessions by started_at, events by timestamp. Session start and end records "
                    f"are not events: total_events, event_types, model_usage and hourly_activity leave them out. "
                    f"duration covers ended sessions (ended_at - started_at). top_agents is the {TOP_AGENTS} "
                    f"agents with the most tokens; model_usage covers events naming a model, most tokens first; "
                    f"sessions_over_time is the last {SERIES_DAYS} UTC days (today included), oldest first, "
                    f"days without sessions left out; hourly_activity is by UTC hour, hours without events "
                    f"left out. Equal totals are ordered by name. Rounding is JavaScript's Math.round: "
                    f"error_rate (a percentage) and avg_duration_ms to two places, the rest to integers.",
        examples=(Example("all_time", 200),),
    ),
)

SPEC = Spec(
    slug="agentlens",
    title="AgentLens backend (seed 002)",
    version="1.0.0",
    description=(__doc__ or "").strip(),
    error=ErrorOut,
    schemes={"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    default_security=("ApiKey",),
    operations=OPERATIONS,
)


DEFAULT_CREDENTIAL = x_api_key
RATE_STYLE = "ietf"  # RateLimit-Limit / -Remaining / -Reset, as the seed documents


def rate_rules(per_minute: int) -> list[Rule]:
    # The seed's documented per-IP windows.
    return [Rule("/events", 60, 60, per="ip"), Rule("/sessions", 120, 60, per="ip"),
            Rule("/analytics", 120, 60, per="ip")]
