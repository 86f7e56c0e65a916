"""Analytics queries as both stores take them: one plain description, compiled per backend.

The engine (resolvers/analytics) validates what a caller asks for and builds these;
SQLite compiles them to SQL and MongoDB to an aggregation pipeline, and both must
answer identically (tests/storage/test_analytics_parity.py holds them to it). Every
query carries its project_id: no backend reads across projects.

Semantics both backends keep:
- Time ranges are half-open, [start, end), on the row's time (events: timestamp;
  sessions: started_at), in UTC.
- A property is a top-level key of the event's payload (or a session's metadata).
  A missing property is None; group keys keep JSON types (1, "1" and true are three keys).
- Buckets are UTC. hour/day/week/month keys are the bucket's start in epoch
  milliseconds (weeks start on Monday); hour_of_day is 0-23; day_of_week is 0-6
  with 0 = Sunday (as JavaScript's getDay and SQLite's %w).
- count counts rows; unique_users counts distinct non-null user_id; unique_sessions
  distinct session_id (on sessions: distinct id). sum/avg/min/max skip nulls and
  non-numbers and are None over no values; percentile is nearest-rank over the
  group's non-null numbers. rate is the share of the group's rows matching `where`
  (None over no rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Source = Literal["events", "sessions"]
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
FIELDS: dict[str, tuple[str, ...]] = {
    "events": EVENT_TEXT_FIELDS + EVENT_NUMBER_FIELDS,
    "sessions": SESSION_TEXT_FIELDS + SESSION_NUMBER_FIELDS,
}
# Times read as epoch milliseconds in filters, groups and metrics; duration_ms on a session is
# ended_at - started_at (None while it runs).
TIME_FIELDS = ("timestamp", "started_at", "ended_at", "last_event_at")


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
