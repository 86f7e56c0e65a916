"""Detection rules: the system rules every project has, and the validation of custom rules and changes.

System rules live here, not in the store: a project's stored copy exists only once it changed one (enabled,
threshold, alert), so a new system rule reaches every project at once. Rules and changes arrive as the seed's
JSON (REST) or GraphQL inputs turned into the same dicts; each is checked in full before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resolvers.anomalies import metrics
from resolvers.core.errors import InputError, Problem, from_pydantic
from storage.models.anomalies import Alert, AnomalyRule, Comparison, RuleFilter, RuleMetric, Severity, Threshold

# current window against: the window before it; the same window a day, a week earlier; the mean of the
# 7 windows before it (the seed's example); the same weekday over the last 4 weeks.
COMPARISONS = ("vs_previous_period", "vs_previous_day", "vs_previous_7_days", "vs_same_day_last_week",
               "vs_same_weekday_4_weeks")
CHANNELS = ("email", "slack", "webhook")
CATEGORIES = ("conversions", "traffic", "engagement", "agents", "custom")
MAX_PERCENT, MAX_COOLDOWN_HOURS, MAX_WINDOW_HOURS = 1000, 720, 168
MAX_NAME, MAX_DESCRIPTION, MAX_FILTERS = 120, 2000, 20


@dataclass(frozen=True)
class SystemRule:
    id: str
    name: str
    category: str
    metric: str  # a named metric (metrics.NAMED)
    direction: Literal["increase", "decrease"]
    percentage: float
    min_volume: int
    severity: Severity
    description: str


SYSTEM_RULES: tuple[SystemRule, ...] = (
    SystemRule("conversion_rate_drop", "Conversion Rate Drop", "conversions", "conversion_rate", "decrease", 20, 100,
               Severity.CRITICAL, "Share of visits with a conversion event fell against the baseline"),
    SystemRule("traffic_drop", "Traffic Drop", "traffic", "sessions", "decrease", 30, 100, Severity.HIGH,
               "Tracked visits fell against the baseline"),
    SystemRule("bounce_rate_spike", "Bounce Rate Spike", "engagement", "bounce_rate", "increase", 25, 100,
               Severity.MEDIUM, "Share of single-event visits rose against the baseline"),
    SystemRule("error_rate_spike", "Agent Error Rate Spike", "agents", "error_rate", "increase", 50, 20,
               Severity.HIGH, "Share of agent sessions with an error rose against the baseline"),
    SystemRule("cost_spike", "Agent Cost Spike", "agents", "cost", "increase", 50, 20, Severity.HIGH,
               "LLM cost (USD) of agent steps rose against the baseline"),
    SystemRule("latency_spike", "Agent Latency Spike", "agents", "latency_p95", "increase", 50, 20,
               Severity.MEDIUM, "95th percentile duration of LLM and tool responses rose against the baseline"),
    SystemRule("token_usage_spike", "Token Usage Spike", "agents", "tokens", "increase", 50, 20, Severity.MEDIUM,
               "Tokens in and out of agent steps rose against the baseline"),
    SystemRule("tool_error_spike", "Tool Error Spike", "agents", "tool_error_rate", "increase", 50, 20,
               Severity.HIGH, "Share of tool calls ending in tool_error rose against the baseline"),
)
SYSTEM_IDS = frozenset(r.id for r in SYSTEM_RULES)


def system_rules(project_id: str, since: datetime) -> list[AnomalyRule]:
    """The project's system rules as defined (since: when the project got them, its creation)."""
    return [
        AnomalyRule(
            project_id=project_id, id=r.id, name=r.name, description=r.description, category=r.category,
            type="system", metric=RuleMetric(type=r.metric),
            threshold=Threshold(direction=r.direction, percentage=r.percentage, min_volume=r.min_volume),
            alert=Alert(severity=r.severity, cooldown_hours=6, channels=["email"]), created_at=since, updated_at=since,
        )
        for r in SYSTEM_RULES
    ]


# -- the wire's input, shared by REST and GraphQL ------------------------------------------------------------


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FilterIn(StrictIn):
    field: str = Field(min_length=1, max_length=128)
    operator: str
    value: Any = None


class MetricIn(StrictIn):
    type: str
    event: str | None = Field(default=None, min_length=1, max_length=200)
    source: Literal["events", "sessions"] = "events"
    field: str | None = Field(default=None, min_length=1, max_length=128)
    percentile: float | None = None
    filters: list[FilterIn] = Field(default_factory=list, max_length=MAX_FILTERS)
    hits: list[FilterIn] = Field(default_factory=list, max_length=MAX_FILTERS)


class ComparisonIn(StrictIn):
    type: str | None = None
    window_hours: int | None = None


class ThresholdIn(StrictIn):
    direction: str | None = None
    percentage: float | None = None
    min_volume: int | None = None


class AlertIn(StrictIn):
    severity: str | None = None
    cooldown_hours: int | None = None
    channels: list[str] | None = None


class RuleIn(StrictIn):
    """POST /rules. account_id picks the project (the REST shim reads it); category defaults to custom."""

    account_id: str | None = None
    name: str
    description: str | None = None
    category: str | None = None
    enabled: bool = True
    metric: MetricIn
    comparison: ComparisonIn | None = None
    threshold: ThresholdIn
    alert: AlertIn | None = None


class RulePatch(StrictIn):
    """PATCH /rules/{id}: any of these; threshold, alert and comparison change only the fields they name."""

    account_id: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    enabled: bool | None = None
    metric: MetricIn | None = None
    comparison: ComparisonIn | None = None
    threshold: ThresholdIn | None = None
    alert: AlertIn | None = None


def parse(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def text(value: str | None, where: str, most: int) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > most:
        raise InputError(Problem(where, f"a non-empty string of at most {most} characters"))
    return value.strip()


def _filters(raw: list[FilterIn], where: str) -> list[RuleFilter]:
    out = []
    for i, f in enumerate(raw):
        if f.operator not in metrics.OPERATORS:
            raise InputError(Problem(f"{where}[{i}].operator", f"unknown operator {f.operator!r}; one of "
                                                                f"{', '.join(metrics.OPERATORS)}"))
        out.append(RuleFilter(field=f.field, op=metrics.OPERATORS[f.operator], value=f.value))
    return out


def build_metric(raw: MetricIn) -> RuleMetric:
    if raw.type not in metrics.METRIC_TYPES:
        known = ", ".join(metrics.METRIC_TYPES)
        raise InputError(Problem("metric.type", f"unknown metric {raw.type!r}; one of {known}"))
    if raw.percentile is not None and not 0 < raw.percentile <= 1:
        raise InputError(Problem("metric.percentile", "between 0 (exclusive) and 1, e.g. 0.95"))
    if raw.type == "percentile" and raw.percentile is None:
        raise InputError(Problem("metric.percentile", "a percentile metric needs it, e.g. 0.95"))
    return RuleMetric(type=raw.type, event=raw.event, source=raw.source, field=raw.field, percentile=raw.percentile,
                      filters=_filters(raw.filters, "metric.filters"), hits=_filters(raw.hits, "metric.hits"))


def build_threshold(raw: ThresholdIn, base: Threshold | None) -> Threshold:
    direction = raw.direction if raw.direction is not None else (base.direction if base else None)
    percentage = raw.percentage if raw.percentage is not None else (base.percentage if base else None)
    volume = raw.min_volume if raw.min_volume is not None else (base.min_volume if base else 0)
    if direction not in ("increase", "decrease", "any"):
        raise InputError(Problem("threshold.direction", "increase, decrease or any"))
    if percentage is None or not 0 < percentage <= MAX_PERCENT:
        raise InputError(Problem("threshold.percentage", f"a change in percent, more than 0 and at most {MAX_PERCENT}"))
    if direction == "decrease" and percentage > 100:
        raise InputError(Problem("threshold.percentage", "a decrease is at most 100 percent"))
    if not 0 <= volume <= 1_000_000_000:
        raise InputError(Problem("threshold.min_volume", "between 0 and 1000000000"))
    return Threshold(direction=direction, percentage=percentage, min_volume=volume)


def build_alert(raw: AlertIn | None, base: Alert) -> Alert:
    if raw is None:
        return base
    severity = base.severity
    if raw.severity is not None:
        if raw.severity not in {s.value for s in Severity}:
            raise InputError(Problem("alert.severity", "critical, high, medium or low"))
        severity = Severity(raw.severity)
    cooldown = raw.cooldown_hours if raw.cooldown_hours is not None else base.cooldown_hours
    if not 0 <= cooldown <= MAX_COOLDOWN_HOURS:
        raise InputError(Problem("alert.cooldown_hours", f"between 0 and {MAX_COOLDOWN_HOURS}"))
    channels = raw.channels if raw.channels is not None else base.channels
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise InputError(Problem("alert.channels", f"unknown channel {bad[0]!r}; one of {', '.join(CHANNELS)}"))
    return Alert(severity=severity, cooldown_hours=cooldown, channels=list(dict.fromkeys(channels)))


def build_comparison(raw: ComparisonIn | None, base: Comparison) -> Comparison:
    if raw is None:
        return base
    kind = raw.type if raw.type is not None else base.type
    if kind not in COMPARISONS:
        raise InputError(Problem("comparison.type", f"unknown comparison {kind!r}; one of {', '.join(COMPARISONS)}"))
    hours = raw.window_hours if raw.window_hours is not None else base.window_hours
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise InputError(Problem("comparison.window_hours", f"between 1 and {MAX_WINDOW_HOURS}"))
    return Comparison(type=kind, window_hours=hours)


def check_category(value: str | None, default: str) -> str:
    if value is None:
        return default
    if value not in CATEGORIES:
        raise InputError(Problem("category", f"one of {', '.join(CATEGORIES)}"))
    return value
