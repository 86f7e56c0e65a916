"""Analytics on SQLite: an AnalyticsQuery compiled to one parameterised statement, a StepQuery to one SELECT.

storage/models/analytics.py holds the semantics; this module only spells them in SQL.

Every value the caller names is bound as a named parameter, property keys included:
a key is turned into a JSON path (`$."key"`) only when it has none of the characters
a path would have to escape (quote, backslash, control characters); any other key is
looked up with json_each, which compares keys exactly. Field names and buckets come
from fixed lists, never from the query's text.

An aggregate reads in up to three layers: the rows (group keys and each metric's input,
read once per row), a window layer when a percentile needs row numbers, and the groups.
A property group key is the property's JSON text (so 1, 1.0, "1" and true stay apart;
a JSON null and a missing key are both NULL), decoded with orjson; its order is the
MongoDB one: null, numbers, strings, objects, arrays, booleans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from storage.models.analytics import (
    DAY_MS,
    HOUR_MS,
    PROPERTIES,
    RANK_EPSILON,
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
    is_exact_sum,
    is_number_ref,
    rounded,
)
from storage.models.experiments import exposed_experiment
from storage.sqlite.database import Database
from storage.timeutil import to_ms

TABLE = {"events": "events", "sessions": "sessions", "revenues": "revenues"}
TIME = {"events": "ts", "sessions": "started_at", "revenues": "recorded_at"}
# Field name -> column expression; the rest are their own column.
COLUMNS: dict[Source, dict[str, str]] = {
    "events": {"timestamp": "ts"},
    "sessions": {"duration_ms": "(COALESCE(ended_at, last_event_at) - started_at)"},
    "revenues": {},
}
# Group columns with an index (project_id, column, time, currency, amount_nanos) covering a total. Grouped by
# one, the range is weighed as likely (wide): without ANALYZE the planner takes any two-sided range to be narrow
# and reads the time index, looking every row up for its group; the group's index reads the time and amount
# itself. On bench/revenue.py's 1,000,000 revenues by agent: 919 -> 395 ms over 40 days, 205 -> 120 ms over
# 7, 26 -> 54 ms over 1 (the one range where the time index wins). Not session_id: its index covers nothing.
COVERED: dict[Source, frozenset[str]] = {"revenues": frozenset({"agent_id", "goal_id", "customer_id", "source"})}
# An exact sum (EXACT_SUMS, INTEGER NOT NULL columns) adds the high and the low 32 bits of each value apart:
# neither half-sum can pass 2**63 below 2**31 rows, where SUM of the whole values overflows (SQLite raises
# rather than round). The Python side joins them (_joined); the metric's own column, a REAL, only orders.
HALF = 2**32
_PLAIN_KEY_BAD = {'"', "\\"}


def _posmod(expr: str, unit: int) -> str:
    return f"((({expr}) % {unit}) + {unit}) % {unit}"


def _bucket(bucket: str, ts: str) -> str:
    if bucket == "hour":
        return f"({ts} - {_posmod(ts, HOUR_MS)})"
    if bucket == "day":
        return f"({ts} - {_posmod(ts, DAY_MS)})"
    if bucket == "week":  # 1970-01-01 was a Thursday: Monday is 3 days before
        return f"({ts} - {_posmod(f'{ts} + {3 * DAY_MS}', WEEK_MS)})"
    if bucket == "month":
        seconds = f"(({ts} - {_posmod(ts, 1000)}) / 1000)"
        return f"(CAST(strftime('%s', {seconds}, 'unixepoch', 'start of month') AS INTEGER) * 1000)"
    if bucket == "hour_of_day":
        return f"({_posmod(ts, DAY_MS)} / {HOUR_MS})"
    if bucket == "day_of_week":  # 0 = Sunday; day 0 was a Thursday (4)
        return f"({_posmod(f'({ts} - {_posmod(ts, DAY_MS)}) / {DAY_MS} + 4', 7)})"
    raise ValueError(f"unknown bucket {bucket!r}")


# Order of a property's JSON text as MongoDB orders BSON values: null, numbers, strings, objects, arrays, booleans.
def _json_rank(g: str) -> str:
    return (
        f"CASE WHEN {g} IS NULL THEN 0 WHEN substr({g}, 1, 1) = '\"' THEN 2 WHEN substr({g}, 1, 1) = '{{' THEN 3"
        f" WHEN substr({g}, 1, 1) = '[' THEN 4 WHEN {g} IN ('true', 'false') THEN 5 ELSE 1 END"
    )


def _json_value(g: str) -> str:
    return (
        f"CASE WHEN substr({g}, 1, 1) IN ('{{', '[') THEN {g} WHEN {g} IN ('true', 'false') THEN {g} = 'true'"
        f" ELSE {g} ->> '$' END"
    )


def _decode(text: Any) -> Any:
    return None if text is None else orjson.loads(text)


@dataclass
class _Sql:
    """Named parameters collected while compiling."""

    args: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.args)}"
        self.args[name] = value
        return f":{name}"


class _Compiler:
    def __init__(self, source: Source) -> None:
        self.source: Source = source
        self.sql = _Sql()
        self._keys: dict[str, str] = {}

    # -- reading one ref ---------------------------------------------------

    def column(self, ref: Ref) -> str:
        return COLUMNS[self.source].get(ref.name, ref.name)

    def _key(self, name: str) -> tuple[bool, str]:
        """(as a path?, the bound path or key) for a property."""
        plain = not any(c in _PLAIN_KEY_BAD or ord(c) < 0x20 for c in name)
        value = f'$."{name}"' if plain else name
        if value not in self._keys:
            self._keys[value] = self.sql.bind(value)
        return plain, self._keys[value]

    def _prop(self, ref: Ref, what: str) -> str:
        """what: 'json' (JSON text or NULL), 'type' (json_type) or 'sql' (the SQL value, ->>)."""
        c = PROPERTIES[self.source]
        plain, key = self._key(ref.name)
        if plain:
            return {"json": f"({c} -> {key})", "type": f"json_type({c}, {key})", "sql": f"({c} ->> {key})"}[what]
        column = {
            "json": "CASE WHEN type = 'text' THEN json_quote(atom) WHEN type IN ('object', 'array') THEN value"
            " WHEN type IN ('true', 'false', 'null') THEN type ELSE CAST(value AS TEXT) END",
            "type": "type",
            "sql": "CASE WHEN type IN ('object', 'array') THEN value ELSE atom END",
        }[what]
        return f"(SELECT {column} FROM json_each({c}) WHERE key = {key})"

    def group_value(self, ref: Ref) -> str:
        """A group key: the column, or a property's JSON text (NULL for null or missing)."""
        if ref.kind == "field":
            return self.column(ref)
        return f"NULLIF({self._prop(ref, 'json')}, 'null')"

    def number(self, ref: Ref) -> str:
        """The ref's number, NULL for anything else."""
        if ref.kind == "field":
            return self.column(ref) if is_number_ref(self.source, ref) else "NULL"
        return f"(CASE WHEN {self._prop(ref, 'type')} IN ('integer', 'real') THEN {self._prop(ref, 'sql')} END)"

    def string(self, ref: Ref) -> str:
        if ref.kind == "field":
            return "NULL" if is_number_ref(self.source, ref) else self.column(ref)
        return f"(CASE WHEN {self._prop(ref, 'type')} = 'text' THEN {self._prop(ref, 'sql')} END)"

    def is_null(self, ref: Ref) -> str:
        if ref.kind == "field":
            return f"({self.column(ref)} IS NULL)"
        return f"({self._prop(ref, 'sql')} IS NULL)"

    # -- filters: each is 1 or 0, never NULL --------------------------------

    def _eq(self, ref: Ref, value: Any) -> str:
        if value is None:
            return self.is_null(ref)
        if isinstance(value, bool):
            if ref.kind == "field":
                return "0"
            return f"COALESCE({self._prop(ref, 'type')} = {self.sql.bind('true' if value else 'false')}, 0)"
        if isinstance(value, int | float):
            return f"COALESCE({self.number(ref)} = {self.sql.bind(value)}, 0)"
        return f"COALESCE({self.string(ref)} = {self.sql.bind(value)}, 0)"

    def condition(self, f: Filter) -> str:
        value: Any = to_ms(f.value) if isinstance(f.value, datetime) else f.value
        if f.op == "eq":
            return self._eq(f.ref, value)
        if f.op == "neq":
            return f"(NOT {self._eq(f.ref, value)})"
        if f.op == "in":
            return "(" + " OR ".join(self._eq(f.ref, v) for v in value) + ")" if value else "0"
        if f.op == "exists":
            return f"(NOT {self.is_null(f.ref)})" if value else self.is_null(f.ref)
        if f.op == "contains":
            return f"COALESCE(instr({self.string(f.ref)}, {self.sql.bind(value)}) > 0, 0)"
        op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[f.op]
        read = self.string(f.ref) if isinstance(value, str) else self.number(f.ref)
        return f"COALESCE({read} {op} {self.sql.bind(value)}, 0)"

    def all_of(self, filters: tuple[Filter, ...]) -> str:
        return " AND ".join(self.condition(f) for f in filters) if filters else "1"

    def where(
        self, project_id: str, start: datetime, end: datetime, filters: tuple[Filter, ...], likely: bool = False
    ) -> str:
        time = TIME[self.source]
        since, until = f"{time} >= {self.sql.bind(to_ms(start))}", f"{time} < {self.sql.bind(to_ms(end))}"
        if likely:  # the planner may still read the range from an index; it only weighs it as wide
            since, until = f"likelihood({since}, 0.9)", f"likelihood({until}, 0.9)"
        parts = [
            f"project_id = {self.sql.bind(project_id)}",
            since,
            until,
            *(self.plain(f) or self.condition(f) for f in filters),
        ]
        return " AND ".join(parts)

    def plain(self, f: Filter) -> str | None:
        """A top-level filter an index can serve, where NULL and false mean the same: a field compared with a
        value of its own type (a string with a text column, a number with a number column)."""
        if f.ref.kind != "field" or f.op not in ("eq", "in", "gt", "gte", "lt", "lte"):
            return None
        number = is_number_ref(self.source, f.ref)
        values = f.value if f.op == "in" else (f.value,)
        values = tuple(to_ms(v) if isinstance(v, datetime) else v for v in values)
        if not values or not all(
            isinstance(v, int | float) and not isinstance(v, bool) if number else isinstance(v, str) for v in values
        ):
            return None
        column = self.column(f.ref)
        if f.op == "in":
            return f"{column} IN ({', '.join(self.sql.bind(v) for v in values)})"
        op = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[f.op]
        return f"{column} {op} {self.sql.bind(values[0])}"


def _rank(p: str, n: str) -> str:
    """percentile_rank(p, n) in SQL."""
    x = f"({p} * {n} - {RANK_EPSILON!r})"
    return f"MAX(1, CAST({x} AS INTEGER) + ({x} > CAST({x} AS INTEGER)))"


def compile_aggregate(query: AnalyticsQuery) -> tuple[str, dict[str, Any]]:
    check_query(query)
    c = _Compiler(query.source)
    time = TIME[query.source]
    inner: list[str] = []
    groups: list[str] = []
    for i, g in enumerate(query.group_by):
        expr = c.group_value(g.ref) if g.ref is not None else _bucket(g.bucket or "", time)
        inner.append(f"{expr} AS g{i}")
        groups.append(f"g{i}")
    windows: list[str] = []
    outer: list[str] = []
    percentiles: dict[Ref, int] = {}
    for j, m in enumerate(query.metrics):
        outer.append(_metric(c, m, j, inner, windows, groups, percentiles))
    first = query.group_by[0].ref if query.group_by else None
    likely = first is not None and first.kind == "field" and first.name in COVERED.get(query.source, ())
    source = f"SELECT {', '.join(inner) or '1'} FROM {TABLE[query.source]} WHERE " + c.where(
        query.project_id, query.start, query.end, query.filters, likely
    )
    if windows:
        source = f"SELECT *, {', '.join(windows)} FROM ({source})"
    # the exact halves of each exact sum, after the metrics (so ORDER BY's positions stay the metrics')
    halves = [f"SUM(v{j} >> 32), SUM(v{j} & {HALF - 1})" for j in _exact(query)]
    select = [*groups, *outer, *halves]
    sql = f"SELECT {', '.join(select)} FROM ({source})"
    if groups:
        sql += f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(_order(query))}"
    sql += f" LIMIT {c.sql.bind(query.limit)}"
    return sql, c.sql.args


def _metric(
    c: _Compiler,
    m: Metric,
    j: int,
    inner: list[str],
    windows: list[str],
    groups: list[str],
    percentiles: dict[Ref, int],
) -> str:
    if m.kind == "count":
        return "COUNT(*)"
    if m.kind == "unique_users":
        inner.append(f"user_id AS v{j}")
        return f"COUNT(DISTINCT v{j})"
    if m.kind == "unique_sessions":
        inner.append(f"{'id' if c.source == 'sessions' else 'session_id'} AS v{j}")
        return f"COUNT(DISTINCT v{j})"
    if m.kind == "rate":
        inner.append(f"({c.all_of(m.where)}) AS v{j}")
        return f"CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(SUM(v{j}) AS REAL) / COUNT(*) END"
    assert m.ref is not None
    if m.kind == "sum" and is_exact_sum(c.source, m.ref):
        inner.append(f"{c.number(m.ref)} AS v{j}")
        return f"(SUM(v{j} >> 32) * {float(HALF)!r} + SUM(v{j} & {HALF - 1}))"
    if m.kind in ("sum", "avg", "min", "max"):
        inner.append(f"{c.number(m.ref)} AS v{j}")
        return f"{m.kind.upper()}(v{j})"
    # percentile: number the group's values in order, then take the nearest rank; percentiles of one ref share
    # their input and windows
    first = percentiles.setdefault(m.ref, j)
    if first == j:
        inner.append(f"{c.number(m.ref)} AS v{j}")
        partition = ", ".join(groups)
        by_group = f"PARTITION BY {partition}" if partition else ""
        ahead = partition + ", " if partition else ""
        windows.append(f"ROW_NUMBER() OVER (PARTITION BY {ahead}v{j} IS NULL ORDER BY v{j}) AS r{j}")
        windows.append(f"COUNT(v{j}) OVER ({by_group}) AS n{j}")
    k = first
    return f"MAX(CASE WHEN v{k} IS NOT NULL AND r{k} = {_rank(c.sql.bind(float(m.p or 0)), f'n{k}')} THEN v{k} END)"


def _exact(query: AnalyticsQuery) -> list[int]:
    """The metrics summed exactly, in order."""
    return [j for j, m in enumerate(query.metrics)
            if m.kind == "sum" and m.ref is not None and is_exact_sum(query.source, m.ref)]


def _joined(width: int, exact: Sequence[int], values: Sequence[Any]) -> tuple[Any, ...]:
    """A row's `width` metric values with each exact sum (metric indexes `exact`) made of its halves (None
    over no values), and every other value rounded as both backends return it."""
    metrics = [v if type(v) is int else rounded(v) for v in values[:width]]
    for n, j in enumerate(exact):
        high, low = values[width + 2 * n], values[width + 2 * n + 1]
        metrics[j] = None if high is None else high * HALF + low
    return tuple(metrics)


def _order(query: AnalyticsQuery) -> list[str]:
    def group_terms(i: int, direction: str) -> list[str]:
        g = query.group_by[i]
        if g.ref is not None and g.ref.kind == "property":
            # type rank, value, then the text itself (1 before 1.0, as MongoDB's int before double)
            return [f"{_json_rank(f'g{i}')} {direction}", f"{_json_value(f'g{i}')} {direction}", f"g{i} {direction}"]
        return [f"g{i} {direction}"]

    terms: list[str] = []
    for o in query.order_by:
        direction = "DESC" if o.descending else "ASC"
        if o.metric is not None:
            terms.append(f"{o.metric + len(query.group_by) + 1} {direction}")
        elif o.group is not None:
            terms.extend(group_terms(o.group, direction))
    for i in range(len(query.group_by)):
        terms.extend(group_terms(i, "ASC"))
    return terms


def compile_steps(query: StepQuery) -> tuple[str, dict[str, Any]]:
    check_steps(query)
    c = _Compiler("events")
    cases = " ".join(f"WHEN {c.all_of(step)} THEN {i}" for i, step in enumerate(query.steps))
    any_step = " OR ".join(f"({c.all_of(step)})" for step in query.steps)
    breakdown = c.group_value(query.breakdown) if query.breakdown is not None else "NULL"
    where = c.where(query.project_id, query.start, query.end, query.filters)
    sql = (
        f"SELECT {query.actor}, CASE {cases} END, ts, {breakdown} FROM events"
        f" WHERE {where} AND {query.actor} IS NOT NULL AND ({any_step})"
        f" ORDER BY {query.actor}, ts, rowid LIMIT {c.sql.bind(query.limit)}"
    )
    return sql, c.sql.args


def compile_first_steps(query: StepQuery) -> tuple[str, dict[str, Any]]:
    """first_step_groups in one statement and one pass over the matching rows, grouped by actor.

    A row's place in (time, rowid) order is the text printf('%015d%020d', ts - start, rowid): both parts
    are non-negative in the window, so the texts sort as the rows do. Per actor, MIN over the step-0 rows
    with a string breakdown of place || breakdown is the first exposure and its group (SQLite cannot take
    the other column of a MIN when a query holds two aggregates), MAX over step-1 rows the last goal: a goal
    follows the first exposure exactly when the last one does. No row leaves SQLite.
    """
    check_steps(query)
    if len(query.steps) != 2 or query.breakdown is None:
        raise ValueError("first_step_conversions takes two steps and a breakdown")
    c = _Compiler("events")
    exposure, goal = (f"({c.all_of(step)})" for step in query.steps)
    value = c.group_value(query.breakdown)
    # A string: a property's value is JSON text, a field's the column itself.
    is_string = "json_type(v) = 'text'" if query.breakdown.kind == "property" else "typeof(v) = 'text'"
    where = c.where(query.project_id, query.start, query.end, query.filters)
    start = c.sql.bind(to_ms(query.start))
    place = "printf('%015d%020d', t, r)"
    # Each row's step and breakdown are computed once, in the inner select; LIMIT -1 keeps SQLite from
    # flattening it into the aggregate, which would evaluate those expressions again per use (300 vs 360 ms
    # on bench/experiments.py's data). A row matching both steps is step 0 (the first matching step), as in steps().
    sql = (
        f"SELECT substr(e, 36), COUNT(*), TOTAL(g IS NOT NULL AND g > substr(e, 1, 35)) FROM ("
        f"SELECT MIN(CASE WHEN s = 0 AND {is_string} THEN {place} || v END) AS e,"
        f" MAX(CASE WHEN s = 1 THEN {place} END) AS g FROM ("
        f"SELECT {query.actor} AS a, ts - {start} AS t, rowid AS r, CASE WHEN {exposure} THEN 0 WHEN {goal} THEN 1 END"
        f" AS s, {value} AS v FROM events WHERE {where} AND {query.actor} IS NOT NULL AND ({exposure} OR {goal})"
        f" LIMIT -1) GROUP BY a) WHERE e IS NOT NULL GROUP BY substr(e, 36)"
    )
    return sql, c.sql.args


def compile_exposure_conversions(query: StepQuery, experiment: str) -> tuple[str, dict[str, Any]]:
    """compile_first_steps for an experiment's results_query, read from the experiment_exposures index (V7).

    Exposed users per variant: a user's first exposure in the window is their least (ts, event rowid) index
    row. The GROUP BY user walks the primary key, which holds each user's rows in that order, and with a single
    MIN SQLite takes the bare column (variant) from the first row reaching the minimum, so the earliest of a
    tie at one millisecond; test_experiment_exposures plants such ties and holds this to the reference walk.
    A window function would not rely on it but costs three times as much (91 vs 34 ms over 125,000 rows).

    Converted users per variant: only users with a goal event can convert, so for each of them (goal events
    are grouped twice so that their last (ts, rowid) is exact whatever order the sorter leaves) the first
    exposure is one primary-key seek, ORDER BY ts, event_rowid LIMIT 1, exact by construction. Seeking from
    the few goal users instead of joining every exposed user to them cuts the statement from ~145 to ~115 ms
    on bench/experiments.py's data; LIMIT -1 keeps SQLite from flattening that subquery, which would run the
    seek a third time for the WHERE. A row that is both an exposure and a goal is an exposure (step 0), as in
    steps().
    """
    c = _Compiler("events")
    exposure, goal = (f"({c.all_of(step)})" for step in query.steps)
    where = c.where(query.project_id, query.start, query.end, query.filters)
    project, start, end = (c.sql.bind(v) for v in (query.project_id, to_ms(query.start), to_ms(query.end)))
    name = c.sql.bind(experiment)
    window = f"project_id = {project} AND experiment = {name} AND ts >= {start} AND ts < {end}"
    first = f"FROM experiment_exposures WHERE {window} AND user_id = g.u ORDER BY ts, event_rowid LIMIT 1"
    goals = (
        "SELECT u, MAX(t) AS t, r FROM ("
        f"SELECT user_id AS u, ts AS t, MAX(rowid) AS r FROM events WHERE {where} AND user_id IS NOT NULL"
        f" AND {goal} AND NOT {exposure} GROUP BY user_id, ts) GROUP BY u"
    )
    sql = (
        "SELECT v, SUM(a), SUM(c) FROM ("
        f"SELECT v, COUNT(*) AS a, 0 AS c FROM (SELECT user_id, MIN(ts), variant AS v FROM experiment_exposures"
        f" WHERE {window} GROUP BY user_id) GROUP BY v"
        " UNION ALL "
        f"SELECT v, 0, COUNT(*) FROM (SELECT (SELECT variant {first}) AS v,"
        f" (g.t, g.r) > (SELECT ts, event_rowid {first}) AS converted FROM ({goals}) AS g LIMIT -1)"
        " WHERE converted GROUP BY v"
        ") GROUP BY v"
    )
    return sql, c.sql.args


class SQLiteAnalytics:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def aggregate(self, query: AnalyticsQuery) -> list[Row]:
        sql, args = compile_aggregate(query)
        rows = await self.db.fetch(sql, args)
        width = len(query.group_by)
        decoders = [
            _decode if g.ref is not None and g.ref.kind == "property" else None for g in query.group_by
        ]
        # Once per query, not per row: revenue by customer reads some 60,000 groups.
        exact, n_metrics, decoded = _exact(query), len(query.metrics), any(decoders)
        out = []
        for row in rows:
            keys = tuple(d(v) if d else v for d, v in zip(decoders, row[:width], strict=True)) if decoded \
                else tuple(row[:width])
            out.append(Row(keys=keys, values=_joined(n_metrics, exact, row[width:])))
        return out

    async def steps(self, query: StepQuery) -> list[StepRow]:
        if not query.steps:
            return []
        sql, args = compile_steps(query)
        rows = await self.db.fetch(sql, args)
        decode = query.breakdown is not None and query.breakdown.kind == "property"
        return [
            StepRow(actor=actor, step=step, at_ms=at, breakdown=_decode(b) if decode else b)
            for actor, step, at, b in rows
        ]

    async def first_step_conversions(self, query: StepQuery) -> list[FirstStepGroup]:
        experiment = exposed_experiment(query)
        if experiment is not None:  # the index holds each variant as text, not JSON
            sql, args = compile_exposure_conversions(query, experiment)
            decode: Callable[[Any], Any] = str
        else:
            sql, args = compile_first_steps(query)
            decode = _decode if query.breakdown is not None and query.breakdown.kind == "property" else str
        groups = [FirstStepGroup(decode(b), actors, int(converted)) for b, actors, converted in
                  await self.db.fetch(sql, args)]
        return sorted(groups, key=lambda g: g.value)
