"""What the assistant measures: each metric it knows as analytics-engine queries over events, so that any
segment an event carries (device, country, referrer for product metrics; agent and model for agent metrics)
narrows it, and any of those fields breaks it down.

A metric is a query whose metrics' values add up (tokens in + tokens out), over a second one for a ratio
(conversion rate: converting sessions over sessions), times a scale (USD from nanos). Bounce rate needs a
session's event count, which only the sessions source has: it takes no event segment.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from resolvers.analytics import engine
from resolvers.assistant.questions import AGENT_METRICS, Unanswerable
from resolvers.core.services import Services
from storage.models.analytics import AGENT, TRACKED, AnalyticsQuery, Filter, GroupBy, Metric, OrderBy, Ref

# What a product "conversion" is: the event the anomaly rules' conversion rate counts, and a signup or purchase.
CONVERSION_EVENTS = ("conversion", "signup", "purchase")
PAGE_EVENTS = ("page_view", "pageview")
PRODUCT_SEGMENTS = frozenset({"device", "country", "referrer_domain", "utm_source", "utm_campaign", "path",
                              "browser", "os"})
AGENT_SEGMENTS = frozenset({"agent_id", "model"})
TOP = 5


@dataclass(frozen=True)
class Plan:
    numerator: AnalyticsQuery
    denominator: AnalyticsQuery | None = None
    scale: float = 1.0
    unit: str = "count"  # count, percent, usd, ms


def _q(source: str, filters: tuple[Filter, ...], *metrics: Metric) -> AnalyticsQuery:
    return AnalyticsQuery("", datetime.min, datetime.min, source, filters, metrics=metrics)  # type: ignore[arg-type]


def _type(*names: str) -> Filter:
    return Filter(Ref("type"), "in", names)


PLANS: dict[str, Plan] = {
    "conversions": Plan(_q("events", (TRACKED, _type(*CONVERSION_EVENTS)), Metric("count"))),
    "conversion_rate": Plan(_q("events", (TRACKED, _type(*CONVERSION_EVENTS)), Metric("unique_sessions")),
                            _q("events", (TRACKED,), Metric("unique_sessions")), 100.0, "percent"),
    "sessions": Plan(_q("events", (TRACKED,), Metric("unique_sessions"))),
    "visitors": Plan(_q("events", (TRACKED,), Metric("unique_users"))),
    "pageviews": Plan(_q("events", (TRACKED, _type(*PAGE_EVENTS)), Metric("count"))),
    "bounce_rate": Plan(_q("sessions", (TRACKED,), Metric("rate", where=(Filter(Ref("event_count"), "eq", 1),))),
                        scale=100.0, unit="percent"),
    "cost": Plan(_q("events", (AGENT,), Metric("sum", Ref("cost_nanos"))), scale=1e-9, unit="usd"),
    "tokens": Plan(_q("events", (AGENT,), Metric("sum", Ref("tokens_in")), Metric("sum", Ref("tokens_out")))),
    "latency": Plan(_q("events", (AGENT, _type("llm_response", "tool_response")),
                       Metric("percentile", Ref("duration_ms"), p=0.95)), unit="ms"),
    "error_rate": Plan(_q("events", (AGENT,), Metric("rate", where=(
        Filter(Ref("severity"), "in", ("error", "critical")),))), scale=100.0, unit="percent"),
    "tool_error_rate": Plan(_q("events", (AGENT, _type("tool_response", "tool_error")), Metric("rate", where=(
        Filter(Ref("type"), "eq", "tool_error"),))), scale=100.0, unit="percent"),
    "llm_calls": Plan(_q("events", (AGENT, _type("llm_call")), Metric("count"))),
    "traces": Plan(_q("events", (AGENT,), Metric("unique_sessions"))),
}


def segment_filter(field: str, value: str) -> Filter:
    # a referrer named in words ("from google") matches google.com, www.google.de...
    return Filter(Ref(field), "contains", value) if field == "referrer_domain" else Filter(Ref(field), "eq", value)


def check_segments(metric: str, fields: set[str]) -> None:
    allowed = AGENT_SEGMENTS if metric in AGENT_METRICS else PRODUCT_SEGMENTS
    if metric == "bounce_rate":
        allowed = frozenset()
    wrong = sorted(fields - allowed)
    if wrong:
        can = ", ".join(sorted(allowed)) or "none"
        raise Unanswerable(
            f"{metric.replace('_', ' ')} cannot be split by {', '.join(wrong)} (it can by: {can})",
            (f"Ask about {metric.replace('_', ' ')} without the {wrong[0].replace('_', ' ')}",
             "Ask about a metric of the same kind (product or agent) as the segment"))


def narrowed(plan: Plan, project_id: str, start: datetime, end: datetime,
             segments: tuple[tuple[str, str], ...]) -> Plan:
    extra = tuple(segment_filter(f, v) for f, v in segments)

    def one(q: AnalyticsQuery) -> AnalyticsQuery:
        return replace(q, project_id=project_id, start=start, end=end, filters=(*q.filters, *extra))

    return replace(plan, numerator=one(plan.numerator),
                   denominator=one(plan.denominator) if plan.denominator else None)


def _sum(values: tuple[object, ...]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return sum(numbers) if numbers else None


def _ratio(top: float | None, below: object, plan: Plan) -> float | None:
    if plan.denominator is None:
        return None if top is None else top * plan.scale
    if not isinstance(below, int | float) or not below:
        return None
    return (top or 0.0) / float(below) * plan.scale


async def value(services: Services, plan: Plan) -> tuple[float | None, int]:
    """The metric, and the volume behind it (the denominator, else the rows a count counts)."""
    if plan.denominator is None:
        top = await engine.total(services, plan.numerator)
        volume_query = replace(plan.numerator, metrics=(Metric("count"),))
        (volume,) = await engine.total(services, volume_query)
        return _ratio(_sum(top), None, plan), int(volume or 0)
    top, below = await asyncio.gather(engine.total(services, plan.numerator), engine.total(services, plan.denominator))
    return _ratio(_sum(top), below[0], plan), int(below[0] or 0)


async def by_group(services: Services, plan: Plan, field: str, limit: int = TOP) -> dict[object, float | None]:
    """The metric per value of field, the largest first (by the numerator for a ratio)."""
    group = (GroupBy(Ref(field)),)
    order = (OrderBy(metric=0),)
    top = await engine.aggregate(services, replace(plan.numerator, group_by=group, order_by=order, limit=limit))
    if plan.denominator is None:
        return {r.keys[0]: _ratio(_sum(r.values), None, plan) for r in top}
    keys = tuple(r.keys[0] for r in top if isinstance(r.keys[0], str))
    below_rows = await engine.aggregate(services, replace(
        plan.denominator, filters=(*plan.denominator.filters, Filter(Ref(field), "in", keys)), group_by=group,
        limit=max(len(keys), 1))) if keys else []
    below = {r.keys[0]: r.values[0] for r in below_rows}
    return {r.keys[0]: _ratio(_sum(r.values), below.get(r.keys[0]), plan) for r in top}


__all__ = ["PLANS", "Plan", "by_group", "check_segments", "narrowed", "value"]
