"""Analytics on MongoDB: an AnalyticsQuery compiled to one aggregation pipeline, a StepQuery to another.

storage/models/analytics.py holds the semantics; this module only spells them as stages.
Every pipeline starts with a $match on project_id and the time range (which the indexes
serve); the query's filters follow as one $expr, so that type rules are the model's
(1 == 1.0, but 1 != true and 1 != "1") rather than the query language's.

Only long-standing operators are used ($group, $push, $addToSet, $filter, $arrayElemAt,
$dateFromParts, $hour, $dayOfWeek, $mod, $ceil, $toDecimal for sums of money), but for $getField (MongoDB 5.0), and that
only for a property key a field path cannot spell (one with a dot or a leading $).
A percentile sorts the group's numbers by a $sort before $group (for the first number
read) or by $unwind, $sort and $group again (for any other), then takes the nearest rank.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bson.decimal128 import Decimal128

from storage.models.analytics import (
    DAY_MS,
    HOUR_MS,
    PROPERTIES,
    RANK_EPSILON,
    TIME_FIELDS,
    WEEK_MS,
    AnalyticsQuery,
    Filter,
    FirstStepGroup,
    Metric,
    Ref,
    Row,
    Source,
    StepQuery,
    StepRow,
    check_query,
    check_steps,
    first_step_groups,
    is_exact_sum,
    is_number_ref,
    rounded,
)
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import EVENTS, REVENUES, SESSIONS
from storage.timeutil import EPOCH, from_ms, to_ms

TIME = {"events": "timestamp", "sessions": "started_at", "revenues": "recorded_at"}
COLLECTIONS = {"events": EVENTS, "sessions": SESSIONS, "revenues": REVENUES}
NUMBER_TYPES = ["int", "long", "double", "decimal"]
NEVER = {"$eq": [1, 0]}


def _posmod(expr: Any, unit: int) -> dict[str, Any]:
    return {"$mod": [{"$add": [{"$mod": [expr, unit]}, unit]}, unit]}


def _ms(date: Any) -> dict[str, Any]:
    """A BSON date as epoch milliseconds (null stays null)."""
    return {"$subtract": [date, EPOCH]}


def _bucket(bucket: str, date: str) -> Any:
    ms = _ms(date)
    if bucket == "hour":
        return {"$subtract": [ms, _posmod(ms, HOUR_MS)]}
    if bucket == "day":
        return {"$subtract": [ms, _posmod(ms, DAY_MS)]}
    if bucket == "week":  # 1970-01-01 was a Thursday: Monday is 3 days before
        return {"$subtract": [ms, _posmod({"$add": [ms, 3 * DAY_MS]}, WEEK_MS)]}
    if bucket == "month":
        return _ms({"$dateFromParts": {"year": {"$year": date}, "month": {"$month": date}}})
    if bucket == "hour_of_day":
        return {"$hour": date}
    if bucket == "day_of_week":  # $dayOfWeek is 1 = Sunday
        return {"$subtract": [{"$dayOfWeek": date}, 1]}
    raise ValueError(f"unknown bucket {bucket!r}")


def _type_is(x: Any, types: list[str]) -> dict[str, Any]:
    return {"$in": [{"$type": x}, types]}


class _Compiler:
    def __init__(self, source: Source) -> None:
        self.source: Source = source

    def value(self, ref: Ref) -> Any:
        """The ref's value, null for null or missing; times as epoch milliseconds."""
        if ref.kind == "field":
            if self.source == "sessions" and ref.name == "duration_ms":
                return _ms_diff(_ms({"$ifNull": ["$ended_at", "$last_event_at"]}), _ms("$started_at"))
            if ref.name in TIME_FIELDS:
                return _ms(f"${ref.name}")
            return {"$ifNull": [f"${ref.name}", None]}
        container = PROPERTIES[self.source]
        name = ref.name
        if name and "." not in name and not name.startswith("$") and "\0" not in name:
            return {"$ifNull": [f"${container}.{name}", None]}
        return {"$ifNull": [{"$getField": {"field": {"$literal": name}, "input": f"${container}"}}, None]}

    def number(self, ref: Ref) -> Any:
        x = self.value(ref)
        if ref.kind == "field":
            return x if is_number_ref(self.source, ref) else None
        return {"$cond": [_type_is(x, NUMBER_TYPES), x, None]}

    # -- filters --------------------------------------------------------

    def _eq(self, ref: Ref, value: Any) -> Any:
        return {"$eq": [self.value(ref), {"$literal": value}]}

    def condition(self, f: Filter) -> Any:
        value: Any = to_ms(f.value) if isinstance(f.value, datetime) else f.value
        x = self.value(f.ref)
        if f.op == "eq":
            return self._eq(f.ref, value)
        if f.op == "neq":
            return {"$not": [self._eq(f.ref, value)]}
        if f.op == "in":
            return {"$or": [self._eq(f.ref, v) for v in value]} if value else NEVER
        if f.op == "exists":
            return {"$ne" if value else "$eq": [x, None]}
        if f.op == "contains":
            return {
                "$cond": [_type_is(x, ["string"]), {"$gte": [{"$indexOfBytes": [x, {"$literal": value}]}, 0]}, False]
            }
        kind = ["string"] if isinstance(value, str) else NUMBER_TYPES
        return {"$and": [_type_is(x, kind), {f"${f.op}": [x, {"$literal": value}]}]}

    def all_of(self, filters: tuple[Filter, ...]) -> Any:
        if not filters:
            return {"$eq": [1, 1]}
        return {"$and": [self.condition(f) for f in filters]}

    def match(self, project_id: str, start: datetime, end: datetime, filters: tuple[Filter, ...]) -> dict[str, Any]:
        m: dict[str, Any] = {
            "project_id": project_id,
            TIME[self.source]: {"$gte": from_ms(to_ms(start)), "$lt": from_ms(to_ms(end))},
        }
        # Plain equality on a text field means the same in the query language: stated twice, so an index serves it.
        plain = [
            f for f in filters
            if f.ref.kind == "field" and not is_number_ref(self.source, f.ref) and f.ref.name not in m
            and f.op in ("eq", "in")
            and all(isinstance(v, str) for v in (f.value if f.op == "in" else (f.value,)))
        ]
        for f in plain:
            m[f.ref.name] = f.value if f.op == "eq" else {"$in": list(f.value)}
        if filters:
            m["$expr"] = self.all_of(filters)
        return m


def _ms_diff(a: Any, b: Any) -> dict[str, Any]:
    return {"$subtract": [a, b]}


def _rank(p: float, n: Any) -> dict[str, Any]:
    return {"$max": [1, {"$ceil": {"$subtract": [{"$multiply": [p, n]}, RANK_EPSILON]}}]}


def compile_aggregate(query: AnalyticsQuery) -> list[dict[str, Any]]:
    check_query(query)
    c = _Compiler(query.source)
    date = f"${TIME[query.source]}"
    project: dict[str, Any] = {"_id": 0}
    key: dict[str, Any] = {}
    for i, g in enumerate(query.group_by):
        if g.ref is not None:
            project[f"g{i}"] = c.value(g.ref)
            key[f"k{i}"] = f"$g{i}"
            if g.ref.kind == "property":  # 1 and 1.0 are two keys, as their JSON texts are
                project[f"t{i}"] = {"$eq": [{"$type": c.value(g.ref)}, "double"]}
                key[f"t{i}"] = f"$t{i}"
        else:
            project[f"g{i}"] = _bucket(g.bucket or "", date)
            key[f"k{i}"] = f"$g{i}"
    accumulate: dict[str, Any] = {"_id": key or None, "_n": {"$sum": 1}}
    final: dict[str, Any] = {"_id": 1}
    sorted_inputs: dict[str, int] = {}  # percentile input -> the first metric reading it
    resorts: list[int] = []
    for j, m in enumerate(query.metrics):
        final[f"m{j}"] = _metric(c, m, j, project, accumulate, sorted_inputs, resorts)
    pipeline: list[dict[str, Any]] = [{"$match": c.match(query.project_id, query.start, query.end, query.filters)}]
    pipeline.append({"$project": project})
    if sorted_inputs:
        first = next(iter(sorted_inputs.values()))
        pipeline.append({"$sort": {f"v{first}": 1}})
    pipeline.append({"$group": accumulate})
    fields = [name for name in accumulate if name != "_id"]
    for j in resorts:  # every other percentile's numbers, sorted within each group
        pipeline += [
            {"$unwind": {"path": f"$a{j}", "preserveNullAndEmptyArrays": True}},
            {"$sort": {"_id": 1, f"a{j}": 1}},
            {"$group": {"_id": "$_id", "_doc": {"$first": "$$ROOT"}, "_sorted": {"$push": f"$a{j}"}}},
            {"$project": {**{name: f"$_doc.{name}" for name in fields if name != f"a{j}"}, f"a{j}": "$_sorted"}},
        ]
    pipeline.append({"$project": final})
    if query.group_by:
        order: dict[str, int] = {}
        for o in query.order_by:
            direction = -1 if o.descending else 1
            if o.metric is not None:
                order.setdefault(f"m{o.metric}", direction)
            elif o.group is not None:
                for name in _key_fields(query, o.group):
                    order.setdefault(name, direction)
        for i in range(len(query.group_by)):
            for name in _key_fields(query, i):
                order.setdefault(name, 1)
        pipeline.append({"$sort": order})
    pipeline.append({"$limit": max(query.limit, 1)})
    return pipeline


def _key_fields(query: AnalyticsQuery, i: int) -> list[str]:
    ref = query.group_by[i].ref
    return [f"_id.k{i}", f"_id.t{i}"] if ref is not None and ref.kind == "property" else [f"_id.k{i}"]


def _metric(
    c: _Compiler,
    m: Metric,
    j: int,
    project: dict[str, Any],
    accumulate: dict[str, Any],
    sorted_inputs: dict[str, int],
    resorts: list[int],
) -> Any:
    if m.kind == "count":
        return "$_n"
    if m.kind in ("unique_users", "unique_sessions"):
        name = "user_id" if m.kind == "unique_users" else ("id" if c.source == "sessions" else "session_id")
        project[f"v{j}"] = {"$ifNull": [f"${name}", None]}
        accumulate[f"a{j}"] = {"$addToSet": f"$v{j}"}
        return {"$size": {"$filter": {"input": f"$a{j}", "cond": {"$ne": ["$$this", None]}}}}
    if m.kind == "rate":
        project[f"v{j}"] = {"$cond": [c.all_of(m.where), 1, 0]}
        accumulate[f"a{j}"] = {"$sum": f"$v{j}"}
        return {"$cond": [{"$eq": ["$_n", 0]}, None, {"$divide": [f"$a{j}", "$_n"]}]}
    assert m.ref is not None
    project[f"v{j}"] = c.number(m.ref)
    if m.kind in ("sum", "avg") and is_exact_sum(c.source, m.ref):
        # $sum of 64-bit integers turns into a double past 2**63 (and SecantusDB's $avg fails): add Decimal128s,
        # made an int (a sum) or a float (an average, as SQLite's AVG) when read (_exact)
        project[f"v{j}"] = {"$toDecimal": c.number(m.ref)}
    if m.kind == "sum":
        accumulate[f"a{j}"] = {"$sum": f"$v{j}"}
        accumulate[f"c{j}"] = {"$sum": {"$cond": [{"$eq": [f"$v{j}", None]}, 0, 1]}}
        return {"$cond": [{"$eq": [f"$c{j}", 0]}, None, f"$a{j}"]}
    if m.kind in ("avg", "min", "max"):
        accumulate[f"a{j}"] = {f"${m.kind}": f"$v{j}"}
        return {"$ifNull": [f"$a{j}", None]}
    # percentile
    reads = repr(m.ref)
    if not sorted_inputs:
        sorted_inputs[reads] = j
    elif reads not in sorted_inputs:
        resorts.append(j)
    accumulate[f"a{j}"] = {"$push": f"$v{j}"}
    values = {"$filter": {"input": f"$a{j}", "cond": {"$ne": ["$$this", None]}}}
    return {
        "$let": {
            "vars": {"xs": values},
            "in": {
                "$cond": [
                    {"$eq": [{"$size": "$$xs"}, 0]},
                    None,
                    {"$arrayElemAt": ["$$xs", {"$subtract": [_rank(float(m.p or 0), {"$size": "$$xs"}), 1]}]},
                ]
            },
        }
    }


def compile_steps(query: StepQuery) -> list[dict[str, Any]]:
    check_steps(query)
    c = _Compiler("events")
    match = c.match(query.project_id, query.start, query.end, query.filters)
    any_step = {"$or": [c.all_of(step) for step in query.steps]}
    match["$expr"] = {"$and": [match["$expr"], any_step]} if "$expr" in match else any_step
    match.setdefault(query.actor, {"$ne": None})
    project = {
        "_id": 0,
        "a": f"${query.actor}",
        "s": {"$switch": {"branches": [{"case": c.all_of(step), "then": i} for i, step in enumerate(query.steps)]}},
        "t": _ms("$timestamp"),
        "b": c.value(query.breakdown) if query.breakdown is not None else None,
        "p": "$position",
    }
    return [
        {"$match": match},
        {"$match": {query.actor: {"$type": "string"}}},
        {"$project": project},
        {"$sort": {"a": 1, "t": 1, "p": 1}},
        {"$limit": max(query.limit, 1)},
    ]


# first_step_conversions reads every step row: the contract gives it no row limit.
UNLIMITED = 2**62


@translated
class MongoAnalytics:
    def __init__(self, mongo: Mongo) -> None:
        self.mongo = mongo

    async def aggregate(self, query: AnalyticsQuery) -> list[Row]:
        pipeline = compile_aggregate(query)
        collection = self.mongo.db[COLLECTIONS[query.source]]
        docs = await (await collection.aggregate(pipeline, allowDiskUse=True)).to_list(None)
        if not query.group_by and not docs:  # a total over no rows is still one row
            docs = [{"_id": None, **{f"m{j}": _empty(m) for j, m in enumerate(query.metrics)}}]
        out = []
        for doc in docs[: query.limit]:
            ids = doc["_id"] or {}
            keys = tuple(ids.get(f"k{i}") for i in range(len(query.group_by)))
            keys = tuple(int(k) if g.bucket is not None and k is not None else k for g, k in zip(
                query.group_by, keys, strict=True))
            values = tuple(rounded(_exact(m, doc.get(f"m{j}"))) for j, m in enumerate(query.metrics))
            out.append(Row(keys=keys, values=values))
        return out

    async def steps(self, query: StepQuery) -> list[StepRow]:
        if not query.steps or query.limit == 0:
            return []
        pipeline = compile_steps(query)
        cursor = await self.mongo.events.aggregate(pipeline, allowDiskUse=True)
        return [StepRow(actor=d["a"], step=d["s"], at_ms=int(d["t"]), breakdown=d.get("b")) async for d in cursor]

    async def first_step_conversions(self, query: StepQuery) -> list[FirstStepGroup]:
        # The reference walk over this store's own step rows, so both stores answer alike by construction
        # (a $group pipeline would need operators SecantusDB, the tests' server, may not have; not measured yet).
        if len(query.steps) != 2 or query.breakdown is None:
            raise ValueError("first_step_conversions takes two steps and a breakdown")
        return first_step_groups(await self.steps(replace(query, limit=UNLIMITED)))


def _exact(m: Metric, value: Any) -> Any:
    """An exact sum's Decimal128 as the integer it is (amounts are integer nanos, so is their sum); an average
    of them as a float."""
    if not isinstance(value, Decimal128):
        return value
    return int(value.to_decimal()) if m.kind == "sum" else float(value.to_decimal())


def _empty(m: Metric) -> Any:
    return 0 if m.kind in ("count", "unique_users", "unique_sessions") else None
