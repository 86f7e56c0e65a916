"""Seed 002's GET /analytics: resolvers/traces/overview computes it, this renders the seed's wire format."""

from __future__ import annotations

from aiohttp import web

from graph.rest.agentlens.wire import AnalyticsOut
from graph.rest.http import json_response
from graph.rest.keys import PROJECT, SERVICES
from resolvers.traces.jsfmt import js_num
from resolvers.traces.overview import Overview, overview
from storage.timeutil import iso_ms, now_ms


def analytics_json(o: Overview) -> AnalyticsOut:
    t, d = o.overview, o.duration
    return {
        "overview": {
            "total_sessions": t.total_sessions,
            "active_sessions": t.active_sessions,
            "completed_sessions": t.completed_sessions,
            "error_sessions": t.error_sessions,
            "error_rate": js_num(t.error_rate),
            "total_events": t.total_events,
            "total_tokens": t.total_tokens,
            "total_tokens_in": t.total_tokens_in,
            "total_tokens_out": t.total_tokens_out,
            "avg_tokens_per_session": t.avg_tokens_per_session,
            "earliest_session": iso_ms(t.earliest_session) if t.earliest_session else None,
            "latest_session": iso_ms(t.latest_session) if t.latest_session else None,
        },
        "duration": {"avg_ms": d.avg_ms, "min_ms": d.min_ms, "max_ms": d.max_ms},
        "top_agents": [
            {"agent_name": a.agent_name, "session_count": a.session_count, "total_tokens": a.total_tokens,
             "avg_tokens": a.avg_tokens}
            for a in o.top_agents
        ],
        "model_usage": [
            {"model": m.model, "call_count": m.call_count, "total_tokens": m.total_tokens,
             "total_tokens_in": m.total_tokens_in, "total_tokens_out": m.total_tokens_out,
             "avg_duration_ms": js_num(m.avg_duration_ms)}
            for m in o.model_usage
        ],
        "event_types": [{"event_type": name, "count": count} for name, count in o.event_types],
        "sessions_over_time": [
            {"day": day.day.strftime("%Y-%m-%d"), "session_count": day.session_count,
             "total_tokens": day.total_tokens}
            for day in o.sessions_over_time
        ],
        "hourly_activity": [{"hour": hour, "event_count": count} for hour, count in o.hourly_activity],
    }


async def get_analytics(request: web.Request) -> web.Response:
    result = await overview(request.config_dict[SERVICES], request[PROJECT], now_ms())
    return json_response(analytics_json(result))
