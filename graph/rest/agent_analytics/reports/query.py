"""POST /query: the seed's flexible query (metrics, group_by, filters) on the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from graph.rest.agent_analytics.reports.common import (
    COLUMN_PROPERTIES,
    DAY,
    MAX_LIMIT,
    iso_date,
    parse_since,
    read_project,
    tracked_query,
    tracked_sessions,
    until_today,
)
from graph.rest.agent_analytics.reports_wire import (
    QueryOut,
)
from graph.rest.http import json_response, read_json
from graph.rest.keys import SERVICES
from resolvers.analytics.engine import aggregate
from resolvers.core.errors import InputError, Problem
from storage.models.analytics import Filter, GroupBy, Metric, Ref
from storage.timeutil import from_ms, to_ms

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
    project_id, name = await read_project(request, body.get("project"))
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
    end = _parse_date(body["date_to"], "date_to") + DAY if body.get("date_to") else until_today()
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
        found = await aggregate(services, tracked_query(
            project_id, start, end, filters=tuple(filters), group_by=group_by,
            metrics=tuple(event_metrics[m] for m in wanted or ["event_count"]), limit=10_000,
        ))
        for r in found:
            rows_by_key[r.keys] = dict(zip(wanted or ["event_count"], r.values, strict=True))
    if session_metrics:
        found = await aggregate(services, tracked_sessions(
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
    answer: QueryOut = {"project": name, "period": {"from": iso_date(start), "to": iso_date(end - DAY)},
                        "metrics": metrics, "group_by": groups, "rows": rows, "count": len(rows)}
    return json_response(answer)
