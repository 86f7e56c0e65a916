"""Journeys: funnels and cohort retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from graph.rest.agent_analytics.reports.common import (
    COLUMN_PROPERTIES,
    DAY,
    breakdown_ref,
    iso_date,
    parse_since,
    read_project,
    until_today,
)
from graph.rest.agent_analytics.reports_wire import (
    CohortOut,
    FunnelBreakdownOut,
    FunnelOut,
    FunnelStepOut,
    RetentionOut,
)
from graph.rest.http import json_response, query_int, read_json
from graph.rest.keys import SERVICES
from resolvers.analytics.funnels import FunnelStep, FunnelStepResult, funnel
from resolvers.analytics.retention import retention
from resolvers.core.errors import InputError, Problem
from storage.models.analytics import TRACKED, Filter, Ref

FUNNEL_OPS = {"eq": "eq", "neq": "neq", "in": "in", "contains": "contains", "gt": "gt", "lt": "lt",
              "gte": "gte", "lte": "lte", "exists": "exists"}


def _funnel_steps(raw: Any) -> list[FunnelStep]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise InputError(Problem("steps", "at least 2 steps required"))
    if len(raw) > 10:
        raise InputError(Problem("steps", "at most 10 steps"))
    steps = []
    for i, item in enumerate(raw):
        if isinstance(item, str) and item:
            steps.append(FunnelStep(item))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("event"), str) or not item["event"]:
            raise InputError(Problem(f"steps[{i}]", "an event name, or {\"event\": name, \"filters\": [...]}"))
        filters = []
        for j, f in enumerate(item.get("filters") or []):
            where = f"steps[{i}].filters[{j}]"
            if not isinstance(f, dict) or not isinstance(f.get("field"), str) or f.get("op") not in FUNNEL_OPS:
                raise InputError(Problem(where, f"field, op ({', '.join(FUNNEL_OPS)}) and value"))
            field = f["field"]
            ref = Ref(field.removeprefix("properties."), "property") if field.startswith("properties.") else (
                breakdown_ref(field) if field in COLUMN_PROPERTIES or field in ("user_id",) else None)
            if ref is None:
                raise InputError(Problem(f"{where}.field", f"invalid filter field: {field}; use properties.<key>"))
            value = tuple(f["value"]) if f["op"] == "in" and isinstance(f.get("value"), list) else f.get("value")
            filters.append(Filter(ref, FUNNEL_OPS[f["op"]], value))  # type: ignore[arg-type]
        label = item.get("label")
        steps.append(FunnelStep(item["event"], tuple(filters), label if isinstance(label, str) else None))
    return steps


def _funnel_steps_out(found: list[FunnelStepResult]) -> list[FunnelStepOut]:
    return [
        {"step": s.step, "event": s.event, "label": s.label, "users": s.actors, "conversion_rate": s.conversion_rate,
         "conversion_from_previous": s.conversion_rate, "overall_rate": s.overall_rate, "drop_off": s.dropped,
         "avg_time_to_convert_ms": s.avg_time_to_convert_ms}
        for s in found
    ]


async def funnel_report(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object"))
    project_id, name = await read_project(request, body.get("project") or "")
    steps = _funnel_steps(body.get("steps"))
    hours = body.get("conversion_window_hours", 168)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not (0 < hours <= 24 * 90):
        raise InputError(Problem("conversion_window_hours", "hours, more than 0 and at most 2160 (90 days)"))
    since = body.get("since")
    if since is not None and not isinstance(since, str):
        raise InputError(Problem("since", "an ISO 8601 date or time, or <N>d"))
    start, end = parse_since(since, default_days=30), until_today()
    basis = body.get("count_by", "user_id")
    if basis not in ("user_id", "session_id"):
        raise InputError(Problem("count_by", "user_id or session_id"))
    prop = body.get("breakdown")
    if prop is not None and (not isinstance(prop, str) or not prop.replace("_", "a").isalnum() or len(prop) > 128):
        raise InputError(Problem("breakdown", "a property key"))
    limit = body.get("breakdown_limit", 10)
    if isinstance(limit, bool) or not isinstance(limit, int) or not (1 <= limit <= 50):
        raise InputError(Problem("breakdown_limit", "between 1 and 50"))
    found = await funnel(
        services, project_id, steps, start, end, timedelta(hours=hours), actor=basis, filters=(TRACKED,),
        breakdown=breakdown_ref(prop.removeprefix("properties.")) if prop else None, breakdown_limit=limit,
    )
    answer: FunnelOut = {
        "project": name,
        "period": {"from": iso_date(start), "to": iso_date(end - DAY)},
        "identity_basis": basis,
        "conversion_window_hours": hours,
        "steps": _funnel_steps_out(found.steps),
        "overall_conversion_rate": found.overall_conversion_rate,
        "breakdown": prop,
        "breakdowns": [
            FunnelBreakdownOut(value=value, steps=_funnel_steps_out(group),
                               overall_conversion_rate=round(group[-1].actors / group[0].actors, 4)
                               if group[0].actors else 0.0)
            for value, group in found.breakdown.items()
        ],
    }
    return json_response(answer)


PERIOD_DAYS = {"day": 1, "week": 7, "month": 31}


async def retention_report(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    period = request.query.get("period") or "week"
    if period not in PERIOD_DAYS:
        raise InputError(Problem("period", "day, week or month"))
    cohorts = query_int(request, "cohorts", 8, low=1, high=52)
    end = until_today()
    span = PERIOD_DAYS[period] * cohorts
    start = parse_since(request.query["since"]) if request.query.get("since") else end - timedelta(days=span)
    if period == "week":
        start -= timedelta(days=(start.weekday()))  # whole weeks, from Monday
    elif period == "month":
        start = start.replace(day=1)
    event, returning = request.query.get("event") or None, request.query.get("returning_event") or None
    found = await retention(services, project_id, start, end, period=period, periods=cohorts,  # type: ignore[arg-type]
                            filters=(TRACKED,), cohort_event=event, return_event=returning)
    answer: RetentionOut = {
        "project": name,
        "period": period,
        "cohorts": [CohortOut(date=iso_date(c.start), users=c.size, retained=c.retained, rates=c.rates)
                    for c in found.cohorts],
        "average_rates": found.average_rates,
        "users_analyzed": sum(c.size for c in found.cohorts),
    }
    return json_response(answer)
