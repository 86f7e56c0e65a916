"""Analytics queries as both stores take them: one plain description, compiled per backend.

The engine (resolvers/analytics) validates what a caller asks for and builds these;
SQLite compiles them to SQL and MongoDB to an aggregation pipeline, and both must
answer identically (tests/storage/test_analytics_parity.py holds them to it). Every
query carries its project_id: no backend reads across projects.

Semantics both backends keep:
- Time ranges are half-open, [start, end), on the row's time (events: timestamp;
  sessions: started_at; revenues: recorded_at), in UTC.
- A property is a top-level key of the event's payload (or a session's metadata); revenues
  have no properties, and unique_users does not apply to them (they name no user).
  A missing property is None; group keys keep JSON types (1, "1" and true are three keys).
- Buckets are UTC. hour/day/week/month keys are the bucket's start in epoch
  milliseconds (weeks start on Monday); hour_of_day is 0-23; day_of_week is 0-6
  with 0 = Sunday (as JavaScript's getDay and SQLite's %w).
- count counts rows; unique_users counts distinct non-null user_id; unique_sessions
  distinct session_id (on sessions: distinct id). sum/avg/min/max skip nulls and
  non-numbers and are None over no values; percentile is nearest-rank over the
  group's non-null numbers. rate is the share of the group's rows matching `where`
  (None over no rows).

Choices where the above left room (both backends keep them; the parity suite checks them):
- A query without group_by answers exactly one row, zeros and Nones over no rows; with group_by,
  no rows. A limit of 0 answers no rows.
- An integer and a float are two group keys (1 and 1.0), as their JSON texts are; filters compare
  numbers by value (eq 1 matches 1 and 1.0, never true or "1"). A JSON null and a missing key are
  the same key (None). Object and array values may be group keys, but their order among each
  other is backend-defined (JSON text on SQLite, BSON order on MongoDB); every other key sorts in
  MongoDB's order: None, numbers, strings (by UTF-8 bytes), objects, arrays, false, true.
- Filters: eq/neq/in take scalars, and eq None matches null or missing; neq is "not eq", so it
  matches rows where the ref is missing. exists True means "present and not null". contains and
  the string comparisons match strings only, the number comparisons numbers only (never booleans).
  Time fields compare as epoch milliseconds; a datetime value is taken as its epoch milliseconds.
- rate with an empty where is 1.0 over any rows.
- Floats: every float in Row.values is rounded to FLOAT_DIGITS (10) significant digits on both
  backends (rounded()), as they add in different orders; integers (counts, sums of integers) are
  exact. Ordering by a metric happens before that rounding, so two groups whose values differ only
  past the 10th digit may tie-break differently.
- Percentile: nearest rank is ceil(p * n - 1e-9) (percentile_rank()), so p = 0.3 of 10 values is the 3rd.
- Steps: the step is the first matching step; rows matching none are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Source = Literal["events", "sessions", "revenues"]
Op = Literal["eq", "neq", "in", "contains", "gt", "gte", "lt", "lte", "exists"]
Bucket = Literal["hour", "day", "week", "month", "hour_of_day", "day_of_week"]
MetricKind = Literal[
    "count", "unique_users", "unique_sessions", "sum", "avg", "min", "max", "percentile", "rate"
]

# Fields (columns) a query may name, per source, and which hold numbers.
EVENT_TEXT_FIELDS = (
    "type", "session_id", "agent_id", "severity", "model", "call_id", "kind", "user_id", "anonymous_id",
    "url", "path", "referrer", "referrer_domain", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "device", "browser", "os", "country",
)
EVENT_NUMBER_FIELDS = ("tokens_in", "tokens_out", "duration_ms", "cost_nanos", "timestamp")
SESSION_TEXT_FIELDS = ("id", "agent_id", "agent_name", "status", "kind", "user_id", "entry_path", "exit_path")
SESSION_NUMBER_FIELDS = (
    "event_count", "error_count", "tool_call_count", "llm_call_count", "tokens_in", "tokens_out", "cost_nanos",
    "processing_ms", "started_at", "ended_at", "last_event_at", "duration_ms",
)
REVENUE_TEXT_FIELDS = (
    "id", "agent_id", "customer_id", "goal_id", "event_id", "session_id", "source", "currency", "description",
)
REVENUE_NUMBER_FIELDS = ("amount_nanos", "recorded_at", "created_at")
FIELDS: dict[str, tuple[str, ...]] = {
    "events": EVENT_TEXT_FIELDS + EVENT_NUMBER_FIELDS,
    "sessions": SESSION_TEXT_FIELDS + SESSION_NUMBER_FIELDS,
    "revenues": REVENUE_TEXT_FIELDS + REVENUE_NUMBER_FIELDS,
}
# Times read as epoch milliseconds in filters, groups and metrics; duration_ms on a session is
# (ended_at, else last_event_at) - started_at: a tracked visit never ends explicitly, so its length
# is up to its last event, as the seed-003 system measures it.
TIME_FIELDS = ("timestamp", "started_at", "ended_at", "last_event_at", "recorded_at", "created_at")
# Bucket widths in epoch milliseconds, and where each source keeps its properties: both compilers use them.
HOUR_MS, DAY_MS, WEEK_MS = 3_600_000, 86_400_000, 604_800_000
PROPERTIES = {"events": "payload", "sessions": "metadata"}  # revenues have none
# Integer fields whose sums must stay exact past 64 bits (money, in nanos), and the sources with a user_id.
EXACT_SUMS = {"revenues": frozenset({"amount_nanos"})}
HAS_USERS = ("events", "sessions")


@dataclass(frozen=True)
class Ref:
    """A column (kind="field") or a top-level payload/metadata key (kind="property")."""

    name: str
    kind: Literal["field", "property"] = "field"


@dataclass(frozen=True)
class Filter:
    """ref op value. in takes a tuple; exists takes True/False; contains is a case-sensitive substring
    of a string value; gt/gte/lt/lte compare numbers with numbers and strings with strings."""

    ref: Ref
    op: Op
    value: Any = None


@dataclass(frozen=True)
class GroupBy:
    """Exactly one of ref (group by a value) or bucket (group by the row's time)."""

    ref: Ref | None = None
    bucket: Bucket | None = None


@dataclass(frozen=True)
class Metric:
    kind: MetricKind
    ref: Ref | None = None  # the number for sum/avg/min/max/percentile
    p: float | None = None  # percentile, 0 < p <= 1
    where: tuple[Filter, ...] = ()  # rate: the rows counted as hits


@dataclass(frozen=True)
class OrderBy:
    """Sort rows by a metric (index into metrics) or a group key (index into group_by)."""

    metric: int | None = None
    group: int | None = None
    descending: bool = True


@dataclass(frozen=True)
class AnalyticsQuery:
    project_id: str
    start: datetime
    end: datetime
    source: Source = "events"
    filters: tuple[Filter, ...] = ()
    group_by: tuple[GroupBy, ...] = ()
    metrics: tuple[Metric, ...] = (Metric("count"),)
    # Default order: group keys ascending. Ties always break on the group keys ascending.
    order_by: tuple[OrderBy, ...] = ()
    limit: int = 1000


@dataclass(frozen=True)
class Row:
    """One group: its keys in group_by order, its values in metrics order."""

    keys: tuple[Any, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class StepQuery:
    """The rows a funnel walks: for each actor, every event matching one of the steps, in time order.

    actor is the field identifying who converts (user_id, anonymous_id, session_id); rows
    without one are left out. breakdown, when set, is read from each row as well.
    """

    project_id: str
    start: datetime
    end: datetime
    steps: tuple[tuple[Filter, ...], ...]
    actor: str = "user_id"
    filters: tuple[Filter, ...] = ()
    breakdown: Ref | None = None
    limit: int = 2_000_000


@dataclass(frozen=True)
class StepRow:
    actor: str
    step: int  # index of the first step this event matches
    at_ms: int
    breakdown: Any = None


@dataclass(frozen=True)
class FirstStepGroup:
    """first_step_conversions' answer for one breakdown value: the actors whose first step-0 event names it,
    and how many of them have a step-1 event after that event."""

    value: str
    actors: int
    converted: int


def first_step_groups(rows: Iterable[StepRow]) -> list[FirstStepGroup]:
    """The reference walk over a two-step query's rows (by actor, then time, then commit position): an actor's
    group is the breakdown of their first step-0 row whose breakdown is a string; they convert when a step-1 row
    comes after that row. Groups in order of value."""
    exposed: dict[str, tuple[str, int]] = {}  # actor -> (value, first exposure time)
    converted: set[str] = set()
    for row in rows:
        if row.step == 0:
            if row.actor not in exposed and isinstance(row.breakdown, str):
                exposed[row.actor] = (row.breakdown, row.at_ms)
        elif row.step == 1 and row.actor in exposed and row.at_ms >= exposed[row.actor][1]:
            converted.add(row.actor)
    actors: dict[str, int] = {}
    conversions: dict[str, int] = {}
    for actor, (value, _) in exposed.items():
        actors[value] = actors.get(value, 0) + 1
        conversions[value] = conversions.get(value, 0) + (actor in converted)
    return [FirstStepGroup(v, actors[v], conversions[v]) for v in sorted(actors)]


# -- what both backends share: validation, the percentile rank, the float rule ------------------------------

# Every float in Row.values is rounded to this many significant digits by both backends: SQLite and MongoDB
# add floats in different orders, so sums and averages may differ in their last bits. Integers are exact and
# left alone; group keys are stored values and never rounded.
FLOAT_DIGITS = 10
# Nearest rank: the ceil(p * n)-th smallest value, p * n taken less this much first, so that p = 0.3 over
# 10 values is the 3rd (0.3 * 10 is 3.0000000000000004 in floating point), not the 4th.
RANK_EPSILON = 1e-9
NUMBER_FIELDS = {
    "events": frozenset(EVENT_NUMBER_FIELDS), "sessions": frozenset(SESSION_NUMBER_FIELDS),
    "revenues": frozenset(REVENUE_NUMBER_FIELDS),
}
STEP_ACTORS = ("user_id", "anonymous_id", "session_id")


def rounded(value: Any) -> Any:
    """A metric value as both backends return it: floats to FLOAT_DIGITS significant digits."""
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return float(f"{value:.{FLOAT_DIGITS}g}")
    return value


def percentile_rank(p: float, n: int) -> int:
    """The 1-based nearest rank of the p-th percentile among n values (n > 0); the backends compute the same."""
    x = p * n - RANK_EPSILON
    return max(1, int(x) + (1 if x > int(x) else 0))


def is_number_ref(source: Source, ref: Ref) -> bool:
    return ref.kind == "field" and ref.name in NUMBER_FIELDS[source]


def is_exact_sum(source: Source, ref: Ref) -> bool:
    return ref.kind == "field" and ref.name in EXACT_SUMS.get(source, ())


def check_ref(source: Source, ref: Ref) -> None:
    if ref.kind == "field":
        if ref.name not in FIELDS[source]:
            raise ValueError(f"unknown {source} field {ref.name!r}")
    elif ref.kind != "property" or not isinstance(ref.name, str):
        raise ValueError(f"bad reference {ref!r}")
    elif source not in PROPERTIES:
        raise ValueError(f"{source} have no properties")


def check_filter(source: Source, f: Filter) -> None:
    check_ref(source, f.ref)
    scalar = (str, int, float, bool, type(None))
    if f.op in ("eq", "neq"):
        ok = isinstance(f.value, scalar)
    elif f.op == "in":
        ok = isinstance(f.value, tuple | list) and all(isinstance(v, scalar) for v in f.value)
    elif f.op == "contains":
        ok = isinstance(f.value, str)
    elif f.op in ("gt", "gte", "lt", "lte"):
        ok = isinstance(f.value, str | int | float | datetime) and not isinstance(f.value, bool)
    elif f.op == "exists":
        ok = isinstance(f.value, bool)
    else:
        raise ValueError(f"unknown operator {f.op!r}")
    if not ok:
        raise ValueError(f"{f.op} cannot take {f.value!r}")


def check_query(query: AnalyticsQuery) -> None:
    """What both compilers refuse alike (ValueError): unknown fields, operators, buckets or metrics."""
    if query.source not in FIELDS:
        raise ValueError(f"unknown source {query.source!r}")
    for f in query.filters:
        check_filter(query.source, f)
    for g in query.group_by:
        if (g.ref is None) == (g.bucket is None):
            raise ValueError("a group is by exactly one of ref or bucket")
        if g.ref is not None:
            check_ref(query.source, g.ref)
        elif g.bucket not in ("hour", "day", "week", "month", "hour_of_day", "day_of_week"):
            raise ValueError(f"unknown bucket {g.bucket!r}")
    for m in query.metrics:
        if m.kind in ("sum", "avg", "min", "max", "percentile"):
            if m.ref is None:
                raise ValueError(f"{m.kind} needs a ref")
            check_ref(query.source, m.ref)
        elif m.kind == "rate":
            for f in m.where:
                check_filter(query.source, f)
        elif m.kind == "unique_users" and query.source not in HAS_USERS:
            raise ValueError(f"{query.source} have no user_id")
        elif m.kind not in ("count", "unique_users", "unique_sessions"):
            raise ValueError(f"unknown metric {m.kind!r}")
        if m.kind == "percentile" and not (m.p is not None and 0 < m.p <= 1):
            raise ValueError("percentile needs 0 < p <= 1")
    for o in query.order_by:
        if (o.metric is None) == (o.group is None):
            raise ValueError("an order is by exactly one of metric or group")
        if o.metric is not None and not 0 <= o.metric < len(query.metrics):
            raise ValueError(f"no metric {o.metric}")
        if o.group is not None and not 0 <= o.group < len(query.group_by):
            raise ValueError(f"no group {o.group}")
    if query.limit < 0:
        raise ValueError("limit must not be negative")


def check_steps(query: StepQuery) -> None:
    if query.actor not in STEP_ACTORS:
        raise ValueError(f"actor must be one of {', '.join(STEP_ACTORS)}")
    for f in (*query.filters, *(f for step in query.steps for f in step)):
        check_filter("events", f)
    if query.breakdown is not None:
        check_ref("events", query.breakdown)
    if query.limit < 0:
        raise ValueError("limit must not be negative")


# Product events, as every product report filters them (agent steps have kind "agent").
TRACKED = Filter(Ref("kind"), "eq", "tracker")
AGENT = Filter(Ref("kind"), "eq", "agent")
