"""Seed 002's session reads: the list, one session with its events, its explanation, its export, a comparison.

Each handler parses its request, calls resolvers/traces (where the explanation, the export and
the comparison are computed, scoped to the caller's project) and renders the seed's wire format.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graph.rest.agentlens.wire import (
    CompareOut,
    DeltaOut,
    ErrorOut,
    EventOut,
    ExplainOut,
    ExportEventOut,
    ExportOut,
    SessionDetailOut,
    SessionListOut,
    SessionMetricsOut,
    SessionOut,
)
from graph.rest.http import json_response, query_choice, query_int, read_json
from graph.rest.keys import PROJECT, SERVICES
from resolvers.core.errors import InputError, NotFound, Problem, from_pydantic
from resolvers.traces.compare import Comparison, Delta, SessionMetrics, compare_sessions
from resolvers.traces.explain import explain_session
from resolvers.traces.export import ExportedEvent, csv_text, export_format, export_session, filename
from resolvers.traces.jsfmt import js_num
from resolvers.traces.reads import find_sessions, session_step_records
from storage.contract import Page, SessionQuery
from storage.models import Session
from storage.models.records import EventRecord
from storage.timeutil import iso_ms, now_ms

SESSION_STATUSES = ("active", "completed", "error")


SessionId = Annotated[str, Field(min_length=1, max_length=256)]


class CompareIn(BaseModel):
    """POST /sessions/compare: two sessions of the caller's project, A the baseline."""

    model_config = ConfigDict(strict=True)

    session_a: SessionId = Field(description="First session ID (baseline)")
    session_b: SessionId = Field(description="Second session ID (compared against baseline)")


def session_json(s: Session) -> SessionOut:
    return {
        "session_id": s.id,
        "agent_name": s.agent_name,
        "started_at": iso_ms(s.started_at),
        "ended_at": iso_ms(s.ended_at) if s.ended_at else None,
        "metadata": s.metadata,
        "total_tokens_in": s.tokens_in,
        "total_tokens_out": s.tokens_out,
        "status": s.status.value,
    }


def event_json(e: EventRecord) -> EventOut:
    payload = e.payload
    return {
        "event_id": e.id,
        "session_id": e.session_id,
        "event_type": e.type,
        "timestamp": e.time,
        "model": e.model,
        "tokens_in": e.tokens_in,
        "tokens_out": e.tokens_out,
        "duration_ms": e.duration_ms,
        "input_data": payload.get("input_data"),
        "output_data": payload.get("output_data"),
        "tool_call": payload.get("tool_call"),
        "decision_trace": payload.get("decision_trace"),
    }


async def list_sessions(request: web.Request) -> web.Response:
    statuses = query_choice(request, "status", SESSION_STATUSES)
    page = Page(
        limit=query_int(request, "limit", 50, high=200),
        offset=query_int(request, "offset", 0),
        descending=True,
    )
    result = await find_sessions(request.config_dict[SERVICES], request[PROJECT], SessionQuery(statuses=statuses), page)
    answer: SessionListOut = {"sessions": [session_json(s) for s in result.items], "total": result.total}
    return json_response(answer)


async def session_detail(request: web.Request) -> web.Response:
    services, session_id = request.config_dict[SERVICES], request.match_info["id"]
    session, events = await session_step_records(services, request[PROJECT], session_id)
    answer: SessionDetailOut = {**session_json(session), "events": [event_json(e) for e in events]}
    return json_response(answer)


async def session_explain(request: web.Request) -> web.Response:
    session_id = request.match_info["id"]
    explanation = await explain_session(request.config_dict[SERVICES], request[PROJECT], session_id)
    answer: ExplainOut = {"session_id": session_id, "explanation": explanation}
    return json_response(answer)


def export_event_json(e: ExportedEvent) -> ExportEventOut:
    return {
        "event_id": e.event_id,
        "event_type": e.event_type,
        "timestamp": iso_ms(e.timestamp),
        "model": e.model,
        "tokens_in": e.tokens_in,
        "tokens_out": e.tokens_out,
        "duration_ms": e.duration_ms,
        "input_data": e.input_data,
        "output_data": e.output_data,
        "tool_call": e.tool_call,
        "decision_trace": e.decision_trace,
    }


async def session_export(request: web.Request) -> web.Response:
    chosen = export_format(request.query.get("format"))  # a bad format is refused before the session is read
    exported = await export_session(request.config_dict[SERVICES], request[PROJECT], request.match_info["id"])
    headers = {"Content-Disposition": f'attachment; filename="{filename(exported.session, chosen)}"'}
    if chosen == "csv":
        return web.Response(text=csv_text(exported.events), content_type="text/csv", headers=headers)
    s, summary = exported.session, exported.summary
    answer: ExportOut = {
        "exported_at": iso_ms(now_ms()),
        "session": {
            "session_id": s.id,
            "agent_name": s.agent_name,
            "status": s.status.value,
            "started_at": iso_ms(s.started_at),
            "ended_at": iso_ms(s.ended_at) if s.ended_at else None,
            "total_tokens_in": s.tokens_in,
            "total_tokens_out": s.tokens_out,
            "metadata": s.metadata,
        },
        "events": [export_event_json(e) for e in exported.events],
        "summary": {
            "total_events": summary.total_events,
            "total_tokens": summary.total_tokens,
            "models_used": summary.models_used,
            "event_types": summary.event_types,
            "total_duration_ms": summary.total_duration_ms,
        },
    }
    return json_response(answer, headers=headers)


def metrics_json(m: SessionMetrics) -> SessionMetricsOut:
    s = m.session
    return {
        "session_id": s.id,
        "agent_name": s.agent_name,
        "status": s.status.value,
        "started_at": iso_ms(s.started_at),
        "ended_at": iso_ms(s.ended_at) if s.ended_at else None,
        "session_duration_ms": m.session_duration_ms,
        "tokens_in": m.tokens_in,
        "tokens_out": m.tokens_out,
        "total_tokens": m.total_tokens,
        "event_count": m.event_count,
        "error_count": m.error_count,
        "total_processing_ms": m.total_processing_ms,
        "avg_event_duration_ms": m.avg_event_duration_ms,
        "models": {name: {"calls": u.calls, "tokens_in": u.tokens_in, "tokens_out": u.tokens_out}
                   for name, u in m.models.items()},
        "event_types": dict(m.event_types),
        "tools": {name: {"calls": t.calls, "total_duration": js_num(t.total_duration)} for name, t in m.tools.items()},
        "metadata": s.metadata,
    }


def delta_json(d: Delta) -> DeltaOut:
    return {"absolute": d.absolute, "percent": d.percent}


def comparison_json(c: Comparison) -> CompareOut:
    d = c.deltas
    return {
        "compared_at": iso_ms(now_ms()),
        "session_a": metrics_json(c.a),
        "session_b": metrics_json(c.b),
        "deltas": {
            "total_tokens": delta_json(d["total_tokens"]),
            "tokens_in": delta_json(d["tokens_in"]),
            "tokens_out": delta_json(d["tokens_out"]),
            "event_count": delta_json(d["event_count"]),
            "error_count": delta_json(d["error_count"]),
            "total_processing_ms": delta_json(d["total_processing_ms"]),
            "avg_event_duration_ms": delta_json(d["avg_event_duration_ms"]),
        },
        "shared": {"event_types": c.shared_event_types, "tools": c.shared_tools, "models": c.shared_models},
    }


async def sessions_compare(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object with session_a and session_b"))
    try:
        wanted = CompareIn.model_validate(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None
    if wanted.session_a == wanted.session_b:
        raise InputError(Problem("session_b", "must differ from session_a; a session is not compared with itself"))
    try:
        result = await compare_sessions(
            request.config_dict[SERVICES], request[PROJECT], wanted.session_a, wanted.session_b
        )
    except NotFound as exc:  # the reference names the session: "Session <id> not found"
        missing: ErrorOut = {"error": f"Session {exc.ident} not found"}
        return json_response(missing, 404)
    return json_response(comparison_json(result))

