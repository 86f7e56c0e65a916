"""A rule's metric as analytics-engine queries: what the detector measures, and what a rule may name.

A metric is one query (its metrics' values added: tokens in + tokens out), or a ratio of two (conversion rate:
converting sessions over sessions), times a scale (cost in USD from nanos). Either the `type` is one of the
engine's aggregations over the rule's event and filters, or it names a metric defined here; both run on any
store the engine runs on, so a rule is valid exactly when its queries pass the engine's validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from resolvers.analytics import engine
from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from resolvers.traces.event_types import EVENT_TYPES
from storage.models.analytics import (
    AGENT,
    FIELDS,
    NUMBER_FIELDS,
    TRACKED,
    AnalyticsQuery,
    Filter,
    GroupBy,
    Metric,
    Ref,
    Source,
)
from storage.models.anomalies import RuleFilter, RuleMetric

# The seed's operator names (greater_than) and the engine's own (gt) alike.
OPERATORS = {
    "equals": "eq", "eq": "eq", "not_equals": "neq", "neq": "neq", "greater_than": "gt", "gt": "gt",
    "greater_than_or_equal": "gte", "gte": "gte", "less_than": "lt", "lt": "lt", "less_than_or_equal": "lte",
    "lte": "lte", "contains": "contains", "in": "in", "exists": "exists",
}
AGGREGATIONS = ("count", "unique_users", "unique_sessions", "sum", "avg", "min", "max", "percentile", "rate")
NUMERIC = ("sum", "avg", "min", "max", "percentile")
CONVERSION = "conversion"  # the product event a conversion rate counts, unless a rule names another
# Product events every project may name before its first one arrives (the system rules use them).
PRODUCT_EVENTS = ("pageview", CONVERSION)
USD_PER_NANO = 1e-9


@dataclass(frozen=True)
class Plan:
    numerator: AnalyticsQuery  # the value is the sum of its metrics' values
    denominator: AnalyticsQuery | None = None  # then the value is numerator / denominator
    scale: float = 1.0


def ref(source: Source, name: str) -> Ref:
    """A field of the source, else a top-level property of the payload (metadata on sessions)."""
    return Ref(name) if name in FIELDS[source] else Ref(name, "property")


def engine_filter(source: Source, f: RuleFilter) -> Filter:
    value = tuple(f.value) if isinstance(f.value, list) else f.value
    # f.op is one of OPERATORS' values: rules.py maps every operator it accepts.
    return Filter(ref(source, f.field), f.op, value)  # type: ignore[arg-type]


def _query(project_id: str, source: Source, filters: tuple[Filter, ...], *metrics: Metric) -> AnalyticsQuery:
    # The range is set per window by plan(); a day is a placeholder the engine accepts.
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return AnalyticsQuery(project_id, start, start + timedelta(days=1), source, filters, metrics=metrics)


def _extra(metric: RuleMetric, source: Source) -> tuple[Filter, ...]:
    return tuple(engine_filter(source, f) for f in metric.filters)


def _conversion_rate(project_id: str, m: RuleMetric) -> Plan:
    converting = (TRACKED, Filter(Ref("type"), "eq", m.event or CONVERSION), *_extra(m, "events"))
    return Plan(_query(project_id, "events", converting, Metric("unique_sessions")),
                _query(project_id, "sessions", (TRACKED,), Metric("count")))


def _sessions(project_id: str, m: RuleMetric) -> Plan:
    return Plan(_query(project_id, "sessions", (TRACKED, *_extra(m, "sessions")), Metric("count")))


def _bounce_rate(project_id: str, m: RuleMetric) -> Plan:
    bounced = (Filter(Ref("event_count"), "eq", 1),)  # as the seed-003 insights count a bounce
    return Plan(_query(project_id, "sessions", (TRACKED, *_extra(m, "sessions")), Metric("rate", where=bounced)))


def _error_rate(project_id: str, m: RuleMetric) -> Plan:
    failed = (Filter(Ref("error_count"), "gt", 0),)
    return Plan(_query(project_id, "sessions", (AGENT, *_extra(m, "sessions")), Metric("rate", where=failed)))


def _cost(project_id: str, m: RuleMetric) -> Plan:
    return Plan(_query(project_id, "events", (AGENT, *_extra(m, "events")), Metric("sum", Ref("cost_nanos"))),
                scale=USD_PER_NANO)


def _latency_p95(project_id: str, m: RuleMetric) -> Plan:
    responses = Filter(Ref("type"), "in", ("llm_response", "tool_response"))
    return Plan(_query(project_id, "events", (AGENT, responses, *_extra(m, "events")),
                       Metric("percentile", Ref("duration_ms"), p=0.95)))


def _tokens(project_id: str, m: RuleMetric) -> Plan:
    return Plan(_query(project_id, "events", (AGENT, *_extra(m, "events")), Metric("sum", Ref("tokens_in")),
                       Metric("sum", Ref("tokens_out"))))


def _tool_error_rate(project_id: str, m: RuleMetric) -> Plan:
    tool_results = Filter(Ref("type"), "in", ("tool_response", "tool_error"))
    return Plan(_query(project_id, "events", (AGENT, tool_results, *_extra(m, "events")),
                       Metric("rate", where=(Filter(Ref("type"), "eq", "tool_error"),))))


# Named metrics: what the system rules measure, and what custom rules may name as their type.
NAMED: dict[str, Callable[[str, RuleMetric], Plan]] = {
    "conversion_rate": _conversion_rate, "sessions": _sessions, "bounce_rate": _bounce_rate,
    "error_rate": _error_rate, "cost": _cost, "latency_p95": _latency_p95, "tokens": _tokens,
    "tool_error_rate": _tool_error_rate,
}
METRIC_TYPES = (*AGGREGATIONS, *NAMED)


def _aggregation(project_id: str, m: RuleMetric) -> Plan:
    source: Source = m.source
    filters = (*((Filter(Ref("type"), "eq", m.event),) if m.event else ()), *_extra(m, source))
    if m.type in NUMERIC:
        if not m.field:
            raise InputError(Problem("metric.field", f"{m.type} needs the number it aggregates (a field or property)"))
        if m.field in FIELDS[source] and m.field not in NUMBER_FIELDS[source]:
            raise InputError(Problem("metric.field", f"{m.field!r} is not a number; numeric {source} fields: "
                                                     f"{', '.join(sorted(NUMBER_FIELDS[source]))}"))
        p = m.percentile if m.type == "percentile" else None
        return Plan(_query(project_id, source, filters, Metric(m.type, ref(source, m.field), p=p)))  # type: ignore[arg-type]
    if m.type == "rate":
        if not m.hits:
            raise InputError(Problem("metric.hits", "a rate needs the filters its hits match"))
        hits = tuple(engine_filter(source, f) for f in m.hits)
        return Plan(_query(project_id, source, filters, Metric("rate", where=hits)))
    return Plan(_query(project_id, source, filters, Metric(m.type)))  # type: ignore[arg-type]


def plan(project_id: str, metric: RuleMetric) -> Plan:
    if metric.type in NAMED:
        return NAMED[metric.type](project_id, metric)
    if metric.type in AGGREGATIONS:
        return _aggregation(project_id, metric)
    raise InputError(Problem("metric.type", f"unknown metric {metric.type!r}; one of {', '.join(METRIC_TYPES)}"))


def check(project_id: str, metric: RuleMetric) -> Plan:
    """The metric's plan, its queries validated by the engine as the detector will run them: InputError
    naming metric.* otherwise."""
    found = plan(project_id, metric)
    for query in (found.numerator, found.denominator):
        if query is None:
            continue
        try:
            engine.validate(query)
        except InputError as exc:
            raise InputError([Problem(f"metric.{p.path}", p.message) for p in exc.problems]) from None
    return found


def _value(values: tuple[Any, ...]) -> float | None:
    numbers = [v for v in values if v is not None]
    return float(sum(numbers)) if numbers else None


async def measure(services: Services, found: Plan, start: datetime, end: datetime) -> float | None:
    """The metric over [start, end): None where it is undefined (a rate or ratio over nothing)."""
    top = await engine.total(services, replace(found.numerator, start=start, end=end))
    value = _value(top)
    if found.denominator is not None:
        (below,) = await engine.total(services, replace(found.denominator, start=start, end=end))
        value = None if not below else (value or 0.0) / float(below)
    return None if value is None else value * found.scale


async def known_events(services: Services, project_id: str, now: datetime) -> set[str]:
    """Event types a rule may name: the agent vocabulary, the conventional product events, and every type the
    project recorded within the engine's longest range."""
    seen = await engine.aggregate(services, AnalyticsQuery(
        project_id, now - engine.MAX_RANGE, now, group_by=(GroupBy(Ref("type")),), limit=engine.MAX_ROWS))
    return {*EVENT_TYPES, *PRODUCT_EVENTS, *(r.keys[0] for r in seen if isinstance(r.keys[0], str))}
