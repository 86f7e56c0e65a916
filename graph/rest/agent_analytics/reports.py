"""Seed 003's analytics reads, each a few engine queries over the project's tracked events.

Every read names its project (`project`: id or name) unless the key belongs to
one; it reads only tracked product events (kind "tracker"), never agent steps.
`since` takes an ISO 8601 date or time, or "<N>d"; like the seed system, ranges
run from the start of that UTC day through today, and the default is 7 days.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from graph.rest.agent_analytics.reports_wire import (
    BreakdownOut,
    BucketOut,
    CohortOut,
    DistributionOut,
    DurationBucketOut,
    EventCountOut,
    EventsOut,
    EventSummaryOut,
    FunnelBreakdownOut,
    FunnelOut,
    FunnelStepOut,
    HeatCellOut,
    HeatmapOut,
    InsightsOut,
    KeyEventOut,
    LiveOut,
    PageOut,
    PagesOut,
    PropertiesOut,
    PropertiesReceivedOut,
    QueryOut,
    RawEventOut,
    RetentionOut,
    SessionOut,
    SessionsOut,
    SessionStatsOut,
    StatsOut,
)
from graph.rest.http import json_response, query_int, read_json
from graph.rest.keys import PRINCIPAL, SERVICES
from resolvers.analytics import insights as insight
from resolvers.analytics.engine import FunnelStep, FunnelStepResult, aggregate, funnel, retention, total
from resolvers.core.errors import InputError, Problem
from resolvers.projects import service as projects
from storage.contract import EventQuery, Page, SessionQuery
from storage.models import Event, Session
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, OrderBy, Ref
from storage.timeutil import from_ms, now_ms, to_ms

TRACKED = Filter(Ref("kind"), "eq", "tracker")
DAY = timedelta(days=1)
DEFAULT_DAYS = 7
TOP = 20
MAX_LIMIT = 1000
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Product fields kept as columns: a breakdown by one reads the column (which holds what the tracker
# sent, or what the server derived), any other name a property.
COLUMN_PROPERTIES = (
    "country", "device", "browser", "os", "path", "url", "referrer", "referrer_domain",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)
PROPERTY_KEY = r"^[A-Za-z0-9_]{1,128}$"


# -- parameters ---------------------------------------------------------------------------


def _day(value: datetime) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def parse_since(raw: str | None, name: str = "since", default_days: int = DEFAULT_DAYS) -> datetime:
    """Start of the UTC day `raw` names: an ISO date or time, or N days ago ("7d")."""
    today = _day(now_ms())
    if raw is None or raw == "":
        return today - timedelta(days=default_days)
    if raw.endswith("d") and raw[:-1].isdigit():
        days = int(raw[:-1])
        if days > 400:
            raise InputError(Problem(name, "at most 400d"))
        return today - timedelta(days=days)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        start = _day(parsed.astimezone(UTC))
    except (ValueError, OverflowError):  # OverflowError: year 1 at +01:00 is before year 1 in UTC
        raise InputError(Problem(name, f"must be an ISO 8601 date or time or <N>d, got {raw[:40]!r}")) from None
    if start > today:
        raise InputError(Problem(name, "is in the future"))
    if today - start > timedelta(days=400):
        raise InputError(Problem(name, "reaches back at most 400 days"))
    return start


def _until() -> datetime:
    """The end of today (UTC), exclusive: ranges run through today."""
    return _day(now_ms()) + DAY


def _limit(request: web.Request, default: int) -> int:
    return query_int(request, "limit", default, low=1, high=MAX_LIMIT)


async def _project(request: web.Request, ref: Any = None) -> tuple[str, str]:
    """(project id, the name the caller used) for this read."""
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    ref = request.query.get("project") if ref is None else ref
    if ref is None or ref == "":
        if principal.admin or principal.account_id is not None:  # neither has a project of its own
            raise InputError(Problem("project", "project query parameter required"))
        return principal.project_id, principal.project_id
    if not isinstance(ref, str) or len(ref) > 200:
        raise InputError(Problem("project", "must be a project id or name"))
    project = await projects.resolve_project(services, principal, ref)
    return project.id, ref


def _query(project_id: str, start: datetime, end: datetime, **kw: Any) -> AnalyticsQuery:
    return AnalyticsQuery(project_id, start, end, filters=(TRACKED, *kw.pop("filters", ())), **kw)


def _sessions(project_id: str, start: datetime, end: datetime, **kw: Any) -> AnalyticsQuery:
    return AnalyticsQuery(
        project_id, start, end, source="sessions", filters=(TRACKED, *kw.pop("filters", ())), **kw
    )


def raw_event(e: Event) -> RawEventOut:
    return {
        "id": e.id,
        "project_id": e.project_id,
        "event": e.type,
        "properties": e.payload,
        "user_id": e.user_id,
        "session_id": e.session_id,
        "timestamp": to_ms(e.timestamp),
        "date": _date(e.timestamp),
        "country": e.country,
    }


# -- session statistics -------------------------------------------------------------------

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
        services, _sessions(project_id, start, end, metrics=SESSION_METRICS)
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


# -- routes -------------------------------------------------------------------------------

BUCKET_FORMAT = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}


async def stats(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    group = request.query.get("groupBy") or "day"
    if group not in BUCKET_FORMAT:
        raise InputError(Problem("groupBy", "one of hour, day, week, month"))
    since_raw = request.query.get("since")
    start, end = parse_since(since_raw), _until()
    series_start = start
    if group == "hour" and since_raw and "T" in since_raw:
        exact = datetime.fromisoformat(since_raw.replace("Z", "+00:00"))  # parse_since has read it already
        series_start = max(start, (exact if exact.tzinfo else exact.replace(tzinfo=UTC)).astimezone(UTC))
    users_and_events = (Metric("unique_users"), Metric("count"))
    series, top, totals, sessions = await asyncio.gather(
        aggregate(services, _query(project_id, series_start, end, group_by=(GroupBy(bucket=group),),  # type: ignore[arg-type]
                                   metrics=users_and_events)),
        aggregate(services, _query(project_id, start, end, group_by=(GroupBy(Ref("type")),),
                                   metrics=(Metric("count"), Metric("unique_users")),
                                   order_by=(OrderBy(metric=0),), limit=TOP)),
        total(services, _query(project_id, start, end, metrics=users_and_events)),
        session_stats(request, project_id, start, end),
    )
    fmt = BUCKET_FORMAT[group]
    answer: StatsOut = {
        "project": name,
        "period": {"from": _date(start), "to": _date(end - DAY), "groupBy": group},
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
    project_id, name = await _project(request)
    start = parse_since(request.query.get("since"))
    names = (request.query["event"],) if request.query.get("event") else None
    sessions = (request.query["session_id"],) if request.query.get("session_id") else None
    users = (request.query["user_id"],) if request.query.get("user_id") else None
    found = await services.store.traces.find_events(
        project_id,
        EventQuery(session_ids=sessions, types=names, since=start, kinds=("tracker",), user_ids=users),
        Page(limit=_limit(request, 100), descending=True, count_total=False),
    )
    answer: EventsOut = {"project": name, "events": [raw_event(e) for e in found.items]}
    return json_response(answer)


QUERY_METRICS = ("event_count", "unique_users", "session_count", "bounce_rate", "avg_duration")
QUERY_GROUPS = {
    "event": Ref("type"), "date": None, "user_id": Ref("user_id"), "session_id": Ref("session_id"),
    "country": Ref("country"), **{f: Ref(f) for f in COLUMN_PROPERTIES if f != "country"},
}
QUERY_FIELDS = ("event", "user_id", "date", "country", "session_id", "timestamp")
QUERY_OPS = ("eq", "neq", "gt", "lt", "gte", "lte", "contains")
ORDERABLE = ("event_count", "unique_users", "session_count", "date", "event")


def _parse_date(raw: Any, name: str) -> datetime:
    if not isinstance(raw, str):
        raise InputError(Problem(name, "must be a date, YYYY-MM-DD"))
    try:
        day = datetime.strptime(raw[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(Problem(name, f"must be a date, YYYY-MM-DD, got {raw[:40]!r}")) from None
    if not (datetime(1970, 1, 1, tzinfo=UTC) <= day <= datetime(9000, 1, 1, tzinfo=UTC)):
        raise InputError(Problem(name, "must be a date between 1970 and 9000"))
    return day


def _timestamp_value(raw: Any, name: str) -> int:
    if isinstance(raw, bool):
        raise InputError(Problem(name, "expected epoch milliseconds or an ISO timestamp"))
    if isinstance(raw, int | float):
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return to_ms(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
        except (ValueError, OverflowError):
            pass
    raise InputError(Problem(name, "invalid timestamp filter value: expected epoch milliseconds or ISO timestamp"))


def _query_filter(i: int, raw: Any) -> list[Filter]:
    where = f"filters[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("field"), str) or not raw.get("op") or "value" not in raw:
        raise InputError(Problem(where, f"filters[{i}] must include field, op, and value"))
    field, op, value = raw["field"], raw["op"], raw["value"]
    if op not in QUERY_OPS:
        raise InputError(Problem(f"{where}.op", f"invalid filter op: {op}. allowed: {', '.join(QUERY_OPS)}"))
    if field.startswith("properties."):
        key = field.removeprefix("properties.")
        if not key or len(key) > 128 or not key.replace("_", "a").isalnum() or not key.isascii():
            raise InputError(Problem(f"{where}.field", "Invalid property filter key"))
        return [Filter(Ref(key, "property"), op, value)]
    if field not in QUERY_FIELDS and field not in COLUMN_PROPERTIES:
        hint = f". Event properties must use properties.<key>, for example properties.{field}"
        raise InputError(Problem(
            f"{where}.field",
            f"invalid filter field: {field}. Built-in fields are {', '.join(QUERY_FIELDS)}{hint}",
        ))
    if field == "date":
        day = _parse_date(value, f"{where}.value")
        start, after = to_ms(day), to_ms(day + DAY)
        ts = Ref("timestamp")
        by_op = {
            "eq": [Filter(ts, "gte", start), Filter(ts, "lt", after)],
            "gt": [Filter(ts, "gte", after)],
            "gte": [Filter(ts, "gte", start)],
            "lt": [Filter(ts, "lt", start)],
            "lte": [Filter(ts, "lt", after)],
        }
        if op not in by_op:
            raise InputError(Problem(f"{where}.op", f"date filters take eq, gt, gte, lt or lte, not {op}"))
        return by_op[op]
    if field == "timestamp":
        return [Filter(Ref("timestamp"), op, _timestamp_value(value, f"{where}.value"))]
    if op == "contains" and not isinstance(value, str):
        raise InputError(Problem(f"{where}.value", "contains takes a string"))
    return [Filter(QUERY_GROUPS.get(field) or Ref(field), op, value)]


async def query(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object"))
    if not body.get("project"):
        raise InputError(Problem("project", "project required"))
    project_id, name = await _project(request, body.get("project"))
    metrics = body.get("metrics", ["event_count"])
    groups = body.get("group_by", [])
    if not isinstance(metrics, list) or not metrics or len(metrics) > len(QUERY_METRICS):
        raise InputError(Problem("metrics", f"a list of metrics: {', '.join(QUERY_METRICS)}"))
    for m in metrics:
        if not isinstance(m, str) or m not in QUERY_METRICS:
            raise InputError(Problem("metrics", f"invalid metric: {m}. allowed: {', '.join(QUERY_METRICS)}"))
    if not isinstance(groups, list) or len(groups) > 3:
        raise InputError(Problem("group_by", "a list of at most 3 fields"))
    for g in groups:
        if not isinstance(g, str) or g not in QUERY_GROUPS:
            raise InputError(Problem("group_by", f"invalid group_by: {g}. allowed: {', '.join(QUERY_GROUPS)}"))
    count_mode = body.get("count_mode", "raw")
    if count_mode != "raw":
        raise InputError(Problem("count_mode", f"invalid count_mode: {count_mode}. allowed: raw"))
    filters_raw = body.get("filters", [])
    if not isinstance(filters_raw, list):
        raise InputError(Problem("filters", "filters must be an array"))
    filters = [f for i, raw in enumerate(filters_raw) for f in _query_filter(i, raw)]
    start = parse_since(body.get("date_from"), "date_from") if body.get("date_from") else parse_since(None)
    end = _parse_date(body["date_to"], "date_to") + DAY if body.get("date_to") else _until()
    if end <= start:
        raise InputError(Problem("date_to", "must not be before date_from"))
    limit = body.get("limit", 100)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(Problem("limit", "a positive integer"))
    limit = min(limit, MAX_LIMIT)
    session_metrics = [m for m in metrics if m in ("bounce_rate", "avg_duration")]
    if session_metrics and (set(groups) - {"date"} or filters):
        raise InputError(Problem("metrics", f"{session_metrics[0]} is a session metric: group by date only, "
                                            "without event filters"))
    order_by, order = body.get("order_by"), body.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InputError(Problem("order", "asc or desc"))
    default_order = "date" if "date" in groups else metrics[0]
    order_field = order_by if order_by in ORDERABLE else default_order

    group_by = tuple(GroupBy(bucket="day") if g == "date" else GroupBy(QUERY_GROUPS[g]) for g in groups)
    event_metrics = {"event_count": Metric("count"), "unique_users": Metric("unique_users"),
                     "session_count": Metric("unique_sessions")}
    wanted = [m for m in metrics if m in event_metrics]
    rows_by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    if wanted or not session_metrics:
        found = await aggregate(services, _query(
            project_id, start, end, filters=tuple(filters), group_by=group_by,
            metrics=tuple(event_metrics[m] for m in wanted or ["event_count"]), limit=10_000,
        ))
        for r in found:
            rows_by_key[r.keys] = dict(zip(wanted or ["event_count"], r.values, strict=True))
    if session_metrics:
        found = await aggregate(services, _sessions(
            project_id, start, end, group_by=tuple(GroupBy(bucket="day") for _ in groups),
            metrics=(Metric("rate", where=(Filter(Ref("event_count"), "eq", 1),)), Metric("avg", Ref("duration_ms"))),
            limit=10_000,
        ))
        for r in found:
            row = rows_by_key.setdefault(r.keys, dict.fromkeys(wanted, 0))
            if "bounce_rate" in session_metrics:
                row["bounce_rate"] = round(r.values[0] or 0, 3)
            if "avg_duration" in session_metrics:
                row["avg_duration"] = round(r.values[1] or 0)
        for row in rows_by_key.values():
            for m in session_metrics:
                row.setdefault(m, 0)
    rows: list[dict[str, Any]] = []
    for keys, values in rows_by_key.items():
        row = {}
        for g, k in zip(groups, keys, strict=True):
            row[g] = from_ms(k).strftime("%Y-%m-%d") if g == "date" else k
        row.update(values)
        rows.append(row)
    column = order_field if rows and order_field in rows[0] else default_order
    # Nulls last either way; ties keep the group keys' order (Python's sort is stable).
    present = sorted((r for r in rows if r.get(column) is not None), key=lambda r: r[column],
                     reverse=order == "desc")
    rows = present + [r for r in rows if r.get(column) is None]
    rows = rows[:limit]
    answer: QueryOut = {"project": name, "period": {"from": _date(start), "to": _date(end - DAY)},
                        "metrics": metrics, "group_by": groups, "rows": rows, "count": len(rows)}
    return json_response(answer)


async def properties(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    start, end = parse_since(request.query.get("since")), _until()
    by_event, sample = await asyncio.gather(
        aggregate(services, _query(
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
            EventSummaryOut(event=r.keys[0], count=r.values[0], unique_users=r.values[1],
                            first_seen=_date(from_ms(int(r.values[2]))), last_seen=_date(from_ms(int(r.values[3]))))
            for r in by_event
        ],
        "property_keys": keys,
    }
    return json_response(answer)


async def properties_received(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    start = parse_since(request.query.get("since"))
    sample = max(100, min(query_int(request, "sample", 5000, low=1), 10_000))
    found = await services.store.traces.find_events(
        project_id, EventQuery(since=start, kinds=("tracker",)),
        Page(limit=sample, descending=True, count_total=False),
    )
    pairs = sorted({(k, e.type) for e in found.items for k in e.payload})
    answer: PropertiesReceivedOut = {
        "project": name, "sample_size": sample, "since": _date(start),
        "properties": [KeyEventOut(key=k, event=ev) for k, ev in pairs],
    }
    return json_response(answer)


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
        "date": _date(s.started_at),
    }


async def sessions(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    start = parse_since(request.query.get("since"))
    bounce_raw = request.query.get("is_bounce")
    if bounce_raw not in (None, "", "0", "1", "true", "false"):
        raise InputError(Problem("is_bounce", "0 or 1"))
    bounced = None if not bounce_raw else bounce_raw in ("1", "true")
    users = (request.query["user_id"],) if request.query.get("user_id") else None
    found = await services.store.traces.find_sessions(
        project_id, SessionQuery(since=start, kinds=("tracker",), user_ids=users, bounced=bounced),
        Page(limit=_limit(request, 100), descending=True, count_total=False),
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
    project_id, name = await _project(request)
    start, end = parse_since(request.query.get("since")), _until()
    duration = Ref("duration_ms")

    async def one(low: int, high: int | None) -> tuple[Any, ...]:
        bounds = (Filter(duration, "gte", low), *((Filter(duration, "lt", high),) if high is not None else ()))
        return await total(services, _sessions(
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


def _breakdown_ref(prop: str) -> Ref:
    return Ref(prop) if prop in COLUMN_PROPERTIES else Ref(prop, "property")


async def breakdown(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    prop = request.query.get("property")
    if not prop:
        raise InputError(Problem("property", "property query parameter required"))
    if len(prop) > 128 or not prop.isascii() or not prop.replace("_", "a").isalnum():
        raise InputError(Problem("property", "Invalid property filter key"))
    event = request.query.get("event") or None
    start, end = parse_since(request.query.get("since")), _until()
    ref = _breakdown_ref(prop)
    scope = (Filter(Ref("type"), "eq", event),) if event else ()
    values, totals = await asyncio.gather(
        aggregate(services, _query(
            project_id, start, end, filters=(*scope, Filter(ref, "exists", True)), group_by=(GroupBy(ref),),
            metrics=(Metric("count"), Metric("unique_users")), order_by=(OrderBy(metric=0),),
            limit=_limit(request, TOP),
        )),
        total(services, _query(project_id, start, end, filters=scope,
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
    project_id, name = await _project(request)
    period = request.query.get("period") or "7d"
    if period not in insight.PERIODS:
        raise InputError(Problem("period", f"invalid period: {period}. allowed: {', '.join(insight.PERIODS)}"))
    found = await insight.compare_periods(services, project_id, int(period[:-1]), now_ms())
    answer: InsightsOut = {
        "project": name,
        "current_period": {"from": _date(found.current[0]), "to": _date(found.current[1])},
        "previous_period": {"from": _date(found.previous[0]), "to": _date(found.previous[1])},
        "metrics": {
            key: {"current": d.current, "previous": d.previous, "change": d.change, "change_pct": d.change_pct}
            for key, d in found.metrics.items()
        },  # type: ignore[typeddict-item]
        "trend": found.trend,
    }
    return json_response(answer)


async def pages(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    kind = request.query.get("type") or "entry"
    if kind not in ("entry", "exit", "both"):
        raise InputError(Problem("type", "type must be one of: entry, exit, both"))
    start, end = parse_since(request.query.get("since")), _until()
    limit = _limit(request, TOP)

    async def by(column: str) -> list[PageOut]:
        ref = Ref(column)
        rows = await aggregate(services, _sessions(
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


async def heatmap(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    start, end = parse_since(request.query.get("since")), _until()
    rows = await aggregate(services, _query(
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
                _breakdown_ref(field) if field in COLUMN_PROPERTIES or field in ("user_id",) else None)
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
    project_id, name = await _project(request, body.get("project") or "")
    steps = _funnel_steps(body.get("steps"))
    hours = body.get("conversion_window_hours", 168)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not (0 < hours <= 24 * 90):
        raise InputError(Problem("conversion_window_hours", "hours, more than 0 and at most 2160 (90 days)"))
    since = body.get("since")
    if since is not None and not isinstance(since, str):
        raise InputError(Problem("since", "an ISO 8601 date or time, or <N>d"))
    start, end = parse_since(since, default_days=30), _until()
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
        breakdown=_breakdown_ref(prop.removeprefix("properties.")) if prop else None, breakdown_limit=limit,
    )
    answer: FunnelOut = {
        "project": name,
        "period": {"from": _date(start), "to": _date(end - DAY)},
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
    project_id, name = await _project(request)
    period = request.query.get("period") or "week"
    if period not in PERIOD_DAYS:
        raise InputError(Problem("period", "day, week or month"))
    cohorts = query_int(request, "cohorts", 8, low=1, high=52)
    end = _until()
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
        "cohorts": [CohortOut(date=_date(c.start), users=c.size, retained=c.retained, rates=c.rates)
                    for c in found.cohorts],
        "average_rates": found.average_rates,
        "users_analyzed": sum(c.size for c in found.cohorts),
    }
    return json_response(answer)


async def live(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project_id, name = await _project(request)
    window = query_int(request, "window", 60, low=10, high=3600)
    end = now_ms() + timedelta(milliseconds=1)
    start = end - timedelta(seconds=window)
    counts, top_pages, top_events, recent = await asyncio.gather(
        total(services, _query(project_id, start, end, metrics=(Metric("count"), Metric("unique_users"),
                                                                 Metric("unique_sessions")))),
        aggregate(services, _query(project_id, start, end, filters=(Filter(Ref("path"), "exists", True),),
                                   group_by=(GroupBy(Ref("path")),), metrics=(Metric("unique_sessions"),),
                                   order_by=(OrderBy(metric=0),), limit=10)),
        aggregate(services, _query(project_id, start, end, group_by=(GroupBy(Ref("type")),),
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
