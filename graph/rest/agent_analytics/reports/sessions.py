"""Session reports: the session list, duration histogram, entry and exit pages, session statistics."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import web

from graph.rest.agent_analytics.reports.common import (
    TOP,
    iso_date,
    parse_since,
    read_project,
    row_limit,
    tracked_sessions,
    until_today,
)
from graph.rest.agent_analytics.reports_wire import (
    DistributionOut,
    DurationBucketOut,
    PageOut,
    PagesOut,
    SessionOut,
    SessionsOut,
    SessionStatsOut,
)
from graph.rest.http import json_response
from graph.rest.keys import SERVICES
from resolvers.analytics.engine import aggregate, total
from resolvers.core.errors import InputError, Problem
from storage.contract import Page, SessionQuery
from storage.models import Session
from storage.models.analytics import Filter, GroupBy, Metric, OrderBy, Ref
from storage.timeutil import to_ms

SESSION_METRICS = (
    Metric("count"),
    Metric("rate", where=(Filter(Ref("event_count"), "eq", 1),)),
    Metric("avg", Ref("duration_ms")),
    Metric("sum", Ref("event_count")),
    Metric("unique_users"),
)


async def session_stats(request: web.Request, project_id: str, start: datetime, end: datetime) -> SessionStatsOut:
    services = request.config_dict[SERVICES]
    count, bounce, duration, events, users = await total(
        services, tracked_sessions(project_id, start, end, metrics=SESSION_METRICS)
    )
    if not count:
        return {"total_sessions": 0, "bounce_rate": 0, "avg_duration": 0, "pages_per_session": 0,
                "sessions_per_user": 0}
    return {
        "total_sessions": count,
        "bounce_rate": bounce or 0,
        "avg_duration": round(duration or 0),
        "pages_per_session": round((events or 0) / count, 1),
        "sessions_per_user": round(count / (users or 1), 1),
    }


def session_json(s: Session) -> SessionOut:
    last = s.last_event_at or s.started_at
    end = max(last, s.ended_at) if s.ended_at else last
    return {
        "session_id": s.id,
        "user_id": s.user_id,
        "project_id": s.project_id,
        "start_time": to_ms(s.started_at),
        "end_time": to_ms(end),
        "duration": to_ms(end) - to_ms(s.started_at),
        "entry_page": s.entry_path,
        "exit_page": s.exit_path,
        "event_count": s.event_count,
        "is_bounce": 1 if s.event_count <= 1 else 0,
        "date": iso_date(s.started_at),
    }


async def sessions(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    start = parse_since(request.query.get("since"))
    bounce_raw = request.query.get("is_bounce")
    if bounce_raw not in (None, "", "0", "1", "true", "false"):
        raise InputError(Problem("is_bounce", "0 or 1"))
    bounced = None if not bounce_raw else bounce_raw in ("1", "true")
    users = (request.query["user_id"],) if request.query.get("user_id") else None
    found = await services.store.traces.find_sessions(
        project_id, SessionQuery(since=start, kinds=("tracker",), user_ids=users, bounced=bounced),
        Page(limit=row_limit(request, 100), descending=True, count_total=False),
    )
    answer: SessionsOut = {"project": name, "sessions": [session_json(s) for s in found.items]}
    return json_response(answer)


DURATION_BUCKETS = (
    ("0s", 0, 1), ("1-10s", 1, 10_000), ("10-30s", 10_000, 30_000), ("30-60s", 30_000, 60_000),
    ("1-3m", 60_000, 180_000), ("3-10m", 180_000, 600_000), ("10m+", 600_000, None),
)


ENGAGED = ("30-60s", "1-3m", "3-10m", "10m+")


async def distribution(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    start, end = parse_since(request.query.get("since")), until_today()
    duration = Ref("duration_ms")

    async def one(low: int, high: int | None) -> tuple[Any, ...]:
        bounds = (Filter(duration, "gte", low), *((Filter(duration, "lt", high),) if high is not None else ()))
        return await total(services, tracked_sessions(
            project_id, start, end, filters=bounds,
            metrics=(Metric("count"), Metric("rate", where=(Filter(Ref("event_count"), "eq", 1),)),
                     Metric("avg", Ref("event_count"))),
        ))

    results = await asyncio.gather(*(one(low, high) for _, low, high in DURATION_BUCKETS))
    rows = [(label, r) for (label, _, _), r in zip(DURATION_BUCKETS, results, strict=True) if r[0]]
    count = sum(r[0] for _, r in rows)
    if not count:
        empty: DistributionOut = {"project": name, "distribution": [], "median_bucket": None, "engaged_pct": 0}
        return json_response(empty)
    out: list[DurationBucketOut] = [
        {"bucket": label, "sessions": r[0], "bounces": round((r[1] or 0) * r[0]),
         "avg_events": round(r[2] or 0, 1), "pct": round(r[0] / count * 100, 1)}
        for label, r in rows
    ]
    cumulative, median = 0, None
    for row in out:
        cumulative += row["sessions"]
        if cumulative >= count / 2:
            median = row["bucket"]
            break
    engaged = sum(row["sessions"] for row in out if row["bucket"] in ENGAGED)
    answer: DistributionOut = {"project": name, "distribution": out, "median_bucket": median,
                               "engaged_pct": round(engaged / count * 100, 1)}
    return json_response(answer)


async def pages(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await read_project(request)
    kind = request.query.get("type") or "entry"
    if kind not in ("entry", "exit", "both"):
        raise InputError(Problem("type", "type must be one of: entry, exit, both"))
    start, end = parse_since(request.query.get("since")), until_today()
    limit = row_limit(request, TOP)

    async def by(column: str) -> list[PageOut]:
        ref = Ref(column)
        rows = await aggregate(services, tracked_sessions(
            project_id, start, end, filters=(Filter(ref, "exists", True),), group_by=(GroupBy(ref),),
            metrics=(Metric("count"), Metric("rate", where=(Filter(Ref("event_count"), "eq", 1),)),
                     Metric("avg", Ref("duration_ms")), Metric("avg", Ref("event_count"))),
            order_by=(OrderBy(metric=0),), limit=limit,
        ))
        return [
            {"page": r.keys[0], "sessions": r.values[0], "bounces": round((r.values[1] or 0) * r.values[0]),
             "bounce_rate": round(r.values[1] or 0, 3), "avg_duration": round(r.values[2] or 0),
             "avg_events": round(r.values[3] or 0, 1)}
            for r in rows
        ]

    answer: PagesOut = {"project": name}
    if kind in ("entry", "both"):
        answer["entry_pages"] = await by("entry_path")
    if kind in ("exit", "both"):
        answer["exit_pages"] = await by("exit_path")
    return json_response(answer)
