"""Anomaly detection (seed 001, the LENS API): rules, the anomalies they raise, reports, and question usage.

A rule says what to measure (a metric the analytics engine computes), against what (the comparison), and
when to alert (threshold and severity). System rules are defined in code (resolvers/anomalies/rules.py);
the store holds custom rules and the project's changes to system rules, so a new system rule reaches
every project without a migration.

An anomaly's id is derived from its project, rule and evaluated window (resolvers/anomalies/ids.py):
writing the same detection twice (a detector retrying after a crash) finds the first and adds nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AnomalyStatus(str, Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    RESOLVED = "resolved"  # the detector saw the metric return to normal (anomaly.resolved)


class DismissReason(str, Enum):
    EXPECTED_CHANGE = "expected_change"
    FALSE_POSITIVE = "false_positive"
    NOT_ACTIONABLE = "not_actionable"
    OTHER = "other"


# -- rules -------------------------------------------------------------------------------------------------


class RuleFilter(BaseModel):
    """field op value, in the engine's terms (resolvers/anomalies/metrics.py maps the seed's operator names)."""

    field: str  # an event/session field, else a top-level payload (metadata) property
    op: str
    value: Any = None


class RuleMetric(BaseModel):
    """What a rule measures. `type` is an aggregation (count, sum, rate...) or a named metric (conversion_rate,
    sessions, bounce_rate, error_rate, cost, latency_p95, tokens, tool_error_rate)."""

    type: str
    event: str | None = None  # only rows of this event type
    source: Literal["events", "sessions"] = "events"
    field: str | None = None  # the number that sum/avg/min/max/percentile aggregate
    percentile: float | None = None
    filters: list[RuleFilter] = Field(default_factory=list)
    hits: list[RuleFilter] = Field(default_factory=list)  # rate: the rows counted as hits


class Comparison(BaseModel):
    type: str = "vs_previous_period"
    window_hours: int = 24  # the current window's length


class Threshold(BaseModel):
    direction: Literal["increase", "decrease", "any"]
    percentage: float  # the change, in percent of the baseline, that raises an anomaly
    min_volume: int = 0  # fewer rows than this in the window raise nothing (small numbers page no one)


class Alert(BaseModel):
    severity: Severity = Severity.MEDIUM
    cooldown_hours: int = 0
    channels: list[str] = Field(default_factory=list)


class AnomalyRule(BaseModel):
    project_id: str
    id: str
    name: str
    description: str | None = None
    category: str
    type: Literal["system", "custom"]
    enabled: bool = True
    metric: RuleMetric
    comparison: Comparison = Field(default_factory=Comparison)
    threshold: Threshold
    alert: Alert = Field(default_factory=Alert)
    created_at: datetime
    updated_at: datetime


# -- anomalies ---------------------------------------------------------------------------------------------


class SeriesPoint(BaseModel):
    date: str  # YYYY-MM-DD (UTC), or an ISO instant for hourly windows
    value: float | None


class AnomalyMetric(BaseModel):
    name: str
    current_value: float | None
    baseline_value: float | None
    change_percentage: float | None
    time_series: list[SeriesPoint] = Field(default_factory=list)


class SegmentChange(BaseModel):
    current: float | None
    baseline: float | None
    change: float | None  # percent


class Anomaly(BaseModel):
    project_id: str
    id: str
    rule_id: str
    rule_name: str
    severity: Severity
    status: AnomalyStatus = AnomalyStatus.OPEN
    window_start: datetime  # the evaluated window [start, end): with the rule, what makes the id
    window_end: datetime
    detected_at: datetime
    updated_at: datetime
    metric: AnomalyMetric
    # dimension -> segment value -> change, e.g. {"device": {"mobile": {...}}}
    segments: dict[str, dict[str, SegmentChange]] = Field(default_factory=dict)
    ai_analysis: str | None = None
    recommended_actions: list[str] = Field(default_factory=list)
    # What the anomaly concerns, where it concerns one (GraphQL links them).
    agent_id: str | None = None
    session_id: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_note: str | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismiss_reason: DismissReason | None = None
    dismiss_note: str | None = None
    resolved_at: datetime | None = None


# -- reports and usage -------------------------------------------------------------------------------------


class Report(BaseModel):
    project_id: str
    id: str  # deterministic per project, kind and period, as anomaly ids are
    kind: Literal["daily", "weekly"]
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    title: str
    summary: dict[str, Any] = Field(default_factory=dict)


class UsageRow(BaseModel):
    """Questions one user asked the assistant in a project on one UTC day."""

    day: str  # YYYY-MM-DD
    user: str
    count: int
