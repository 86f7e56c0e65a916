"""Seed 003's analytics answers as types (see wire.py for why TypedDicts).

Field names and shapes follow the seed system's own open-source core
(agent-analytics-core's base adapter) and its CLI, which read them.
"""

from __future__ import annotations

from typing import Any, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from graph.rest.agent_analytics.wire import CLOSED


@with_config(CLOSED)
class RawEventOut(TypedDict):
    id: str
    project_id: str
    event: str
    properties: dict[str, Any]
    user_id: str | None
    session_id: str
    timestamp: int  # epoch milliseconds
    date: str  # YYYY-MM-DD (UTC)
    country: str | None


@with_config(CLOSED)
class EventsOut(TypedDict):
    project: str
    events: list[RawEventOut]


# "from" is a keyword: declared through the functional syntax.
StatsPeriodOut = TypedDict("StatsPeriodOut", {"from": str, "to": str, "groupBy": str})
RangeOut = TypedDict("RangeOut", {"from": str, "to": str})
StatsPeriodOut.__pydantic_config__ = RangeOut.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]


@with_config(CLOSED)
class TotalsOut(TypedDict):
    unique_users: int
    total_events: int


@with_config(CLOSED)
class BucketOut(TypedDict):
    bucket: str
    unique_users: int
    total_events: int


@with_config(CLOSED)
class EventCountOut(TypedDict):
    event: str
    count: int
    unique_users: int


@with_config(CLOSED)
class SessionStatsOut(TypedDict):
    total_sessions: int
    bounce_rate: float
    avg_duration: int
    pages_per_session: float
    sessions_per_user: float


@with_config(CLOSED)
class StatsOut(TypedDict):
    project: str
    period: StatsPeriodOut
    totals: TotalsOut
    timeSeries: list[BucketOut]
    events: list[EventCountOut]
    sessions: SessionStatsOut


@with_config(CLOSED)
class QueryOut(TypedDict):
    project: str
    period: RangeOut
    metrics: list[str]
    group_by: list[str]
    rows: list[dict[str, Any]]
    count: int


@with_config(CLOSED)
class EventSummaryOut(TypedDict):
    event: str
    count: int
    unique_users: int
    first_seen: str
    last_seen: str


@with_config(CLOSED)
class PropertiesOut(TypedDict):
    project: str
    events: list[EventSummaryOut]
    property_keys: list[str]


@with_config(CLOSED)
class KeyEventOut(TypedDict):
    key: str
    event: str


@with_config(CLOSED)
class PropertiesReceivedOut(TypedDict):
    project: str
    sample_size: int
    since: str
    properties: list[KeyEventOut]


@with_config(CLOSED)
class SessionOut(TypedDict):
    session_id: str
    user_id: str | None
    project_id: str
    start_time: int
    end_time: int
    duration: int
    entry_page: str | None
    exit_page: str | None
    event_count: int
    is_bounce: int
    date: str


@with_config(CLOSED)
class SessionsOut(TypedDict):
    project: str
    sessions: list[SessionOut]


@with_config(CLOSED)
class DurationBucketOut(TypedDict):
    bucket: str
    sessions: int
    bounces: int
    avg_events: float
    pct: float


@with_config(CLOSED)
class DistributionOut(TypedDict):
    project: str
    distribution: list[DurationBucketOut]
    median_bucket: str | None
    engaged_pct: float


@with_config(CLOSED)
class ValueCountOut(TypedDict):
    value: Any
    count: int
    unique_users: int


@with_config(CLOSED)
class BreakdownOut(TypedDict):
    project: str
    property: str
    event: str | None
    values: list[ValueCountOut]
    total_events: int
    total_with_property: int


@with_config(CLOSED)
class DeltaOut(TypedDict):
    current: float
    previous: float
    change: float
    change_pct: int | None


@with_config(CLOSED)
class InsightMetricsOut(TypedDict):
    total_events: DeltaOut
    unique_users: DeltaOut
    total_sessions: DeltaOut
    bounce_rate: DeltaOut
    avg_duration: DeltaOut


@with_config(CLOSED)
class InsightsOut(TypedDict):
    project: str
    current_period: RangeOut
    previous_period: RangeOut
    metrics: InsightMetricsOut
    trend: str


@with_config(CLOSED)
class PageOut(TypedDict):
    page: str
    sessions: int
    bounces: int
    bounce_rate: float
    avg_duration: int
    avg_events: float


@with_config(CLOSED)
class PagesOut(TypedDict):
    project: str
    entry_pages: NotRequired[list[PageOut]]
    exit_pages: NotRequired[list[PageOut]]


@with_config(CLOSED)
class HeatCellOut(TypedDict):
    day: int
    hour: int
    events: int
    users: int
    day_name: str


@with_config(CLOSED)
class PeakOut(TypedDict):
    day: int
    day_name: str
    hour: int
    events: int
    users: int


@with_config(CLOSED)
class HeatmapOut(TypedDict):
    project: str
    heatmap: list[HeatCellOut]
    peak: PeakOut | None
    busiest_day: str | None
    busiest_hour: int | None


@with_config(CLOSED)
class FunnelStepOut(TypedDict):
    step: int
    event: str
    label: str
    users: int
    conversion_rate: float
    conversion_from_previous: float
    overall_rate: float
    drop_off: int
    avg_time_to_convert_ms: int | None


@with_config(CLOSED)
class FunnelBreakdownOut(TypedDict):
    value: str
    steps: list[FunnelStepOut]
    overall_conversion_rate: float


@with_config(CLOSED)
class FunnelOut(TypedDict):
    project: str
    period: RangeOut
    identity_basis: str
    conversion_window_hours: float
    steps: list[FunnelStepOut]
    overall_conversion_rate: float
    breakdown: str | None
    breakdowns: list[FunnelBreakdownOut]


@with_config(CLOSED)
class CohortOut(TypedDict):
    date: str
    users: int
    retained: list[int]
    rates: list[float]


@with_config(CLOSED)
class RetentionOut(TypedDict):
    project: str
    period: str
    cohorts: list[CohortOut]
    average_rates: list[float]
    users_analyzed: int


@with_config(CLOSED)
class LivePageOut(TypedDict):
    path: str
    visitors: int


@with_config(CLOSED)
class LiveEventOut(TypedDict):
    event: str
    count: int


@with_config(CLOSED)
class LiveOut(TypedDict):
    project: str
    window: int
    active_visitors: int
    active_sessions: int
    events_per_minute: float
    top_pages: list[LivePageOut]
    top_events: list[LiveEventOut]
    recent_events: list[RawEventOut]
