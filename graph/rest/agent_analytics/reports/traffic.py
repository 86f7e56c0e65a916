"""Traffic reports: stats, the raw event log, properties, breakdowns, insights, heatmap, live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp import web

from graph.rest.agent_analytics.reports.common import (
    DAY,
    DAY_NAMES,
    TOP,
    breakdown_ref,
    iso_date,
    parse_since,
    raw_event,
    read_project,
    row_limit,
    tracked_query,
    until_today,
)
from graph.rest.agent_analytics.reports.sessions import session_stats
from graph.rest.agent_analytics.reports_wire import (
    BreakdownOut,
    BucketOut,
    EventCountOut,
    EventsOut,
    EventSummaryOut,
    HeatCellOut,
    HeatmapOut,
    InsightsOut,
    KeyEventOut,
    LiveOut,
    PropertiesOut,
    PropertiesReceivedOut,
    StatsOut,
)
from graph.rest.http import json_response, query_int
from graph.rest.keys import SERVICES
from resolvers.analytics import insights as insight
from resolvers.analytics.engine import aggregate, total
from resolvers.core.errors import InputError, Problem
from storage.contract import EventQuery, Page
from storage.models.analytics import Filter, GroupBy, Metric, OrderBy, Ref
from storage.timeutil import from_ms, now_ms

BUCKET_FORMAT = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}


async def stats(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    group = request.query.get("groupBy") or "day"
    if group not in BUCKET_FORMAT:
        raise InputError(Problem("groupBy", "one of hour, day, week, month"))
    since_raw = request.query.get("since")
    start, end = parse_since(since_raw), until_today()
    series_start = start
    if group == "hour" and since_raw and "T" in since_raw:
        exact = datetime.fromisoformat(since_raw.replace("Z", "+00:00"))  # parse_since has read it already
        series_start = max(start, (exact if exact.tzinfo else exact.replace(tzinfo=UTC)).astimezone(UTC))
    users_and_events = (Metric("unique_users"), Metric("count"))
    series, top, totals, sessions = await asyncio.gather(
        aggregate(services, tracked_query(project_id, series_start, end, group_by=(GroupBy(bucket=group),),  # type: ignore[arg-type]
                                   metrics=users_and_events)),
        aggregate(services, tracked_query(project_id, start, end, group_by=(GroupBy(Ref("type")),),
                                   metrics=(Metric("count"), Metric("unique_users")),
                                   order_by=(OrderBy(metric=0),), limit=TOP)),
        total(services, tracked_query(project_id, start, end, metrics=users_and_events)),
        session_stats(request, project_id, start, end),
    )
    fmt = BUCKET_FORMAT[group]
    answer: StatsOut = {
        "project": name,
        "period": {"from": iso_date(start), "to": iso_date(end - DAY), "groupBy": group},
        "totals": {"unique_users": totals[0], "total_events": totals[1]},
        "timeSeries": [
            BucketOut(bucket=from_ms(r.keys[0]).strftime(fmt), unique_users=r.values[0], total_events=r.values[1])
            for r in series
        ],
        "events": [EventCountOut(event=r.keys[0], count=r.values[0], unique_users=r.values[1]) for r in top],
        "sessions": sessions,
    }
    return json_response(answer)


async def events(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    start = parse_since(request.query.get("since"))
    names = (request.query["event"],) if request.query.get("event") else None
    sessions = (request.query["session_id"],) if request.query.get("session_id") else None
    users = (request.query["user_id"],) if request.query.get("user_id") else None
    found = await services.store.traces.find_events(
        project_id,
        EventQuery(session_ids=sessions, types=names, since=start, kinds=("tracker",), user_ids=users),
        Page(limit=row_limit(request, 100), descending=True, count_total=False),
    )
    answer: EventsOut = {"project": name, "events": [raw_event(e) for e in found.items]}
    return json_response(answer)


async def properties(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    start, end = parse_since(request.query.get("since")), until_today()
    by_event, sample = await asyncio.gather(
        aggregate(services, tracked_query(
            project_id, start, end, group_by=(GroupBy(Ref("type")),),
            metrics=(Metric("count"), Metric("unique_users"), Metric("min", Ref("timestamp")),
                     Metric("max", Ref("timestamp"))),
            order_by=(OrderBy(metric=0),), limit=1000,
        )),
        services.store.traces.find_events(
            project_id, EventQuery(since=start, kinds=("tracker",)),
            Page(limit=100, descending=True, count_total=False),
        ),
    )
    keys = sorted({k for e in sample.items for k in e.payload})
    answer: PropertiesOut = {
        "project": name,
        "events": [
            EventSummaryOut(
                event=r.keys[0], count=r.values[0], unique_users=r.values[1],
                first_seen=iso_date(from_ms(int(r.values[2]))), last_seen=iso_date(from_ms(int(r.values[3]))),
            )
            for r in by_event
        ],
        "property_keys": keys,
    }
    return json_response(answer)


async def properties_received(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    start = parse_since(request.query.get("since"))
    sample = max(100, min(query_int(request, "sample", 5000, low=1), 10_000))
    found = await services.store.traces.find_events(
        project_id, EventQuery(since=start, kinds=("tracker",)),
        Page(limit=sample, descending=True, count_total=False),
    )
    pairs = sorted({(k, e.type) for e in found.items for k in e.payload})
    answer: PropertiesReceivedOut = {
        "project": name, "sample_size": sample, "since": iso_date(start),
        "properties": [KeyEventOut(key=k, event=ev) for k, ev in pairs],
    }
    return json_response(answer)


async def breakdown(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    prop = request.query.get("property")
    if not prop:
        raise InputError(Problem("property", "property query parameter required"))
    if len(prop) > 128 or not prop.isascii() or not prop.replace("_", "a").isalnum():
        raise InputError(Problem("property", "Invalid property filter key"))
    event = request.query.get("event") or None
    start, end = parse_since(request.query.get("since")), until_today()
    ref = breakdown_ref(prop)
    scope = (Filter(Ref("type"), "eq", event),) if event else ()
    values, totals = await asyncio.gather(
        aggregate(services, tracked_query(
            project_id, start, end, filters=(*scope, Filter(ref, "exists", True)), group_by=(GroupBy(ref),),
            metrics=(Metric("count"), Metric("unique_users")), order_by=(OrderBy(metric=0),),
            limit=row_limit(request, TOP),
        )),
        total(services, tracked_query(project_id, start, end, filters=scope,
                               metrics=(Metric("count"), Metric("rate", where=(Filter(ref, "exists", True),))))),
    )
    answer: BreakdownOut = {
        "project": name, "property": prop, "event": event,
        "values": [{"value": r.keys[0], "count": r.values[0], "unique_users": r.values[1]} for r in values],
        "total_events": totals[0], "total_with_property": round((totals[1] or 0) * totals[0]),
    }
    return json_response(answer)


async def insights(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    period = request.query.get("period") or "7d"
    if period not in insight.PERIODS:
        raise InputError(Problem("period", f"invalid period: {period}. allowed: {', '.join(insight.PERIODS)}"))
    found = await insight.compare_periods(services, project_id, int(period[:-1]), now_ms())
    answer: InsightsOut = {
        "project": name,
        "current_period": {"from": iso_date(found.current[0]), "to": iso_date(found.current[1])},
        "previous_period": {"from": iso_date(found.previous[0]), "to": iso_date(found.previous[1])},
        "metrics": {
            key: {"current": d.current, "previous": d.previous, "change": d.change, "change_pct": d.change_pct}
            for key, d in found.metrics.items()
        },  # type: ignore[typeddict-item]
        "trend": found.trend,
    }
    return json_response(answer)


async def heatmap(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    start, end = parse_since(request.query.get("since")), until_today()
    rows = await aggregate(services, tracked_query(
        project_id, start, end, group_by=(GroupBy(bucket="day_of_week"), GroupBy(bucket="hour_of_day")),
        metrics=(Metric("count"), Metric("unique_users")), limit=7 * 24,
    ))
    cells: list[HeatCellOut] = [
        {"day": r.keys[0], "hour": r.keys[1], "events": r.values[0], "users": r.values[1],
         "day_name": DAY_NAMES[r.keys[0]]}
        for r in rows
    ]
    if not cells:
        empty: HeatmapOut = {"project": name, "heatmap": [], "peak": None, "busiest_day": None, "busiest_hour": None}
        return json_response(empty)
    peak = max(cells, key=lambda c: (c["events"], -c["day"], -c["hour"]))
    days: dict[int, int] = {}
    hours: dict[int, int] = {}
    for c in cells:
        days[c["day"]] = days.get(c["day"], 0) + c["events"]
        hours[c["hour"]] = hours.get(c["hour"], 0) + c["events"]
    answer: HeatmapOut = {
        "project": name, "heatmap": cells,
        "peak": {"day": peak["day"], "day_name": peak["day_name"], "hour": peak["hour"], "events": peak["events"],
                 "users": peak["users"]},
        "busiest_day": DAY_NAMES[max(days, key=lambda d: (days[d], -d))],
        "busiest_hour": max(hours, key=lambda h: (hours[h], -h)),
    }
    return json_response(answer)


async def live(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    window = query_int(request, "window", 60, low=10, high=3600)
    end = now_ms() + timedelta(milliseconds=1)
    start = end - timedelta(seconds=window)
    counts, top_pages, top_events, recent = await asyncio.gather(
        total(services, tracked_query(project_id, start, end, metrics=(Metric("count"), Metric("unique_users"),
                                                                 Metric("unique_sessions")))),
        aggregate(services, tracked_query(project_id, start, end, filters=(Filter(Ref("path"), "exists", True),),
                                   group_by=(GroupBy(Ref("path")),), metrics=(Metric("unique_sessions"),),
                                   order_by=(OrderBy(metric=0),), limit=10)),
        aggregate(services, tracked_query(project_id, start, end, group_by=(GroupBy(Ref("type")),),
                                   metrics=(Metric("count"),), order_by=(OrderBy(metric=0),), limit=10)),
        services.store.traces.find_events(project_id, EventQuery(since=start, kinds=("tracker",)),
                                          Page(limit=20, descending=True, count_total=False)),
    )
    answer: LiveOut = {
        "project": name,
        "window": window,
        "active_visitors": counts[1],
        "active_sessions": counts[2],
        "events_per_minute": round(counts[0] * 60 / window, 1),
        "top_pages": [{"path": r.keys[0], "visitors": r.values[0]} for r in top_pages],
        "top_events": [{"event": r.keys[0], "count": r.values[0]} for r in top_events],
        "recent_events": [raw_event(e) for e in recent.items],
    }
    return json_response(answer)
