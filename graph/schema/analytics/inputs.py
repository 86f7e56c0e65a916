"""Analytics inputs: an AnalyticsQueryInput is the engine's AnalyticsQuery, spelled for GraphQL."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from graph.schema.errors import bad_input
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, OrderBy, Ref


@strawberry.enum(description="What a query counts: events, or sessions (one row per session).")
class AnalyticsSource(Enum):
    EVENTS = "events"
    SESSIONS = "sessions"


@strawberry.enum
class FilterOp(Enum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    CONTAINS = "contains"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"


@strawberry.enum(description="UTC time buckets; HOUR..MONTH keys are bucket starts, HOUR_OF_DAY 0-23, "
                             "DAY_OF_WEEK 0-6 from Sunday.")
class TimeBucket(Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    HOUR_OF_DAY = "hour_of_day"
    DAY_OF_WEEK = "day_of_week"


@strawberry.enum
class MetricKind(Enum):
    COUNT = "count"
    UNIQUE_USERS = "unique_users"
    UNIQUE_SESSIONS = "unique_sessions"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    PERCENTILE = "percentile"
    RATE = "rate"


@strawberry.enum(description="Who converts or returns.")
class Actor(Enum):
    USER = "user_id"
    ANONYMOUS = "anonymous_id"
    SESSION = "session_id"


def _ref(field: str | None, prop: str | None, where: str) -> Ref:
    if (field is None) == (prop is None):
        raise bad_input(where, "give exactly one of field or property")
    return Ref(field) if field is not None else Ref(prop or "", "property")


@strawberry.input(description="field (a column such as type, path, country, tokensIn as tokens_in) or property "
                              "(a payload key), an operator, and a value (a list for IN, a boolean for EXISTS).")
class FilterInput:
    field: str | None = None
    property: str | None = None
    op: FilterOp = FilterOp.EQ
    value: JSON | None = None

    def to_filter(self, where: str) -> Filter:
        value: Any = self.value
        if self.op is FilterOp.IN:
            if not isinstance(value, list):
                raise bad_input(f"{where}.value", "IN takes a list")
            value = tuple(value)
        return Filter(_ref(self.field, self.property, where), self.op.value, value)


@strawberry.input(description="Exactly one of field, property or bucket.")
class GroupByInput:
    field: str | None = None
    property: str | None = None
    bucket: TimeBucket | None = None

    def to_group(self, where: str) -> GroupBy:
        if self.bucket is not None:
            if self.field is not None or self.property is not None:
                raise bad_input(where, "give exactly one of field, property or bucket")
            return GroupBy(bucket=self.bucket.value)
        return GroupBy(ref=_ref(self.field, self.property, where))


@strawberry.input(description="SUM/AVG/MIN/MAX/PERCENTILE read a number (field or property); PERCENTILE takes p "
                              "in (0, 1]; RATE is the share of rows matching `where`.")
class MetricInput:
    kind: MetricKind
    field: str | None = None
    property: str | None = None
    p: float | None = None
    where: list[FilterInput] | None = None

    def to_metric(self, where: str) -> Metric:
        ref = None if self.field is None and self.property is None else _ref(self.field, self.property, where)
        hits = tuple(f.to_filter(f"{where}.where[{i}]") for i, f in enumerate(self.where or ()))
        return Metric(self.kind.value, ref, self.p, hits)


@strawberry.input(description="Sort by a metric's or a group's position in the query.")
class OrderByInput:
    metric: int | None = None
    group: int | None = None
    descending: bool = True


@strawberry.input
class AnalyticsQueryInput:
    from_: datetime = strawberry.field(name="from", description="Start, inclusive.")
    to: datetime = strawberry.field(description="End, exclusive.")
    source: AnalyticsSource = AnalyticsSource.EVENTS
    filters: list[FilterInput] | None = None
    group_by: list[GroupByInput] | None = None
    metrics: list[MetricInput] | None = strawberry.field(default=None, description="Default: COUNT.")
    order_by: list[OrderByInput] | None = None
    limit: int = 100

    def to_query(self, project_id: str) -> AnalyticsQuery:
        return AnalyticsQuery(
            project_id,
            self.from_,
            self.to,
            source=self.source.value,
            filters=tuple(f.to_filter(f"query.filters[{i}]") for i, f in enumerate(self.filters or ())),
            group_by=tuple(g.to_group(f"query.groupBy[{i}]") for i, g in enumerate(self.group_by or ())),
            metrics=tuple(m.to_metric(f"query.metrics[{i}]") for i, m in enumerate(self.metrics or ()))
            or (Metric("count"),),
            order_by=tuple(OrderBy(o.metric, o.group, o.descending) for o in self.order_by or ()),
            limit=self.limit,
        )


@strawberry.input
class FunnelStepInput:
    event: str
    filters: list[FilterInput] | None = None
    label: str | None = None
