"""Analytics query fields, and the aggregates Project, Agent and Session reach through the same engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.schema.analytics.inputs import Actor, AnalyticsQueryInput, FilterInput, FunnelStepInput
from graph.schema.context import Context
from graph.schema.errors import bad_input
from resolvers.analytics import engine, funnels, insights, retention
from resolvers.analytics.funnels import FunnelStep
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, OrderBy, Ref
from storage.models.money import nanos_to_usd
from storage.timeutil import from_ms, now_ms


@strawberry.type(description="One group: its keys in groupBy order (bucket starts as ISO times), its values in "
                             "metrics order (null where a metric has no values).")
class AnalyticsRow:
    keys: list[JSON | None]
    values: list[float | None]


@strawberry.type
class AnalyticsResult:
    group_by: list[str] = strawberry.field(description="What each key is, e.g. field:type, property:plan, bucket:day.")
    metrics: list[str] = strawberry.field(description="What each value is, e.g. count, percentile:duration_ms@0.95.")
    rows: list[AnalyticsRow]


def _label_ref(ref: Ref | None) -> str:
    return "" if ref is None else f"{ref.kind}:{ref.name}"


def _result(query: AnalyticsQuery, rows: list) -> AnalyticsResult:
    buckets = {i for i, g in enumerate(query.group_by) if g.bucket in ("hour", "day", "week", "month")}
    return AnalyticsResult(
        group_by=[f"bucket:{g.bucket}" if g.bucket else _label_ref(g.ref) for g in query.group_by],
        metrics=[
            m.kind + (f":{m.ref.name}" if m.ref else "") + (f"@{m.p}" if m.p is not None else "")
            for m in query.metrics
        ],
        rows=[
            AnalyticsRow(
                keys=[from_ms(k).isoformat().replace("+00:00", "Z") if i in buckets and k is not None else k
                      for i, k in enumerate(r.keys)],
                values=[None if v is None else float(v) for v in r.values],
            )
            for r in rows
        ],
    )


async def run_query(ctx: Context, project_id: str, query: AnalyticsQueryInput) -> AnalyticsResult:
    built = query.to_query(project_id)
    return _result(built, await engine.aggregate(ctx.services, built))


@strawberry.type
class FunnelStepResult:
    step: int
    event: str
    label: str
    actors: int
    conversion_rate: float = strawberry.field(description="Of the previous step, 0-1 (1 for the first).")
    overall_rate: float = strawberry.field(description="Of the first step, 0-1.")
    dropped: int
    avg_time_to_convert_ms: int | None


@strawberry.type
class FunnelBreakdown:
    value: str
    steps: list[FunnelStepResult]


@strawberry.type
class Funnel:
    steps: list[FunnelStepResult]
    overall_conversion_rate: float
    breakdown: list[FunnelBreakdown]


@strawberry.type
class Cohort:
    start: datetime
    size: int
    retained: list[int]
    rates: list[float]


@strawberry.type
class Retention:
    period: str
    cohorts: list[Cohort]
    average_rates: list[float] = strawberry.field(description="Weighted by cohort size; index 0 is 1.0.")


@strawberry.type
class InsightMetric:
    name: str
    current: float
    previous: float
    change: float
    change_pct: int | None = strawberry.field(description="Whole percent; null when previous is zero.")


@strawberry.type
class Insights:
    current_from: datetime
    current_to: datetime
    previous_from: datetime
    previous_to: datetime
    trend: str
    metrics: list[InsightMetric]


def _steps(found: list[funnels.FunnelStepResult]) -> list[FunnelStepResult]:
    return [
        FunnelStepResult(
            step=s.step, event=s.event, label=s.label, actors=s.actors, conversion_rate=s.conversion_rate,
            overall_rate=s.overall_rate, dropped=s.dropped, avg_time_to_convert_ms=s.avg_time_to_convert_ms,
        )
        for s in found
    ]


def _filters(items: list[FilterInput] | None, where: str) -> tuple[Filter, ...]:
    return tuple(f.to_filter(f"{where}[{i}]") for i, f in enumerate(items or ()))


async def run_funnel(
    ctx: Context, project_id: str, steps: list[FunnelStepInput], from_: datetime, to: datetime, window_hours: float,
    actor: Actor, filters: list[FilterInput] | None, breakdown_property: str | None,
) -> Funnel:
    found = await funnels.funnel(
        ctx.services, project_id,
        [FunnelStep(s.event, _filters(s.filters, f"steps[{i}].filters"), s.label) for i, s in enumerate(steps)],
        from_, to, timedelta(hours=window_hours), actor=actor.value, filters=_filters(filters, "filters"),
        breakdown=Ref(breakdown_property, "property") if breakdown_property else None,
    )
    return Funnel(
        steps=_steps(found.steps),
        overall_conversion_rate=found.overall_conversion_rate,
        breakdown=[FunnelBreakdown(value=v, steps=_steps(g)) for v, g in found.breakdown.items()],
    )


async def run_retention(
    ctx: Context, project_id: str, from_: datetime, to: datetime, period: str, periods: int, actor: Actor,
    cohort_event: str | None, return_event: str | None, filters: list[FilterInput] | None,
) -> Retention:
    if period not in ("day", "week", "month"):
        raise bad_input("period", "day, week or month")
    found = await retention.retention(
        ctx.services, project_id, from_, to, period=period, periods=periods, actor=actor.value,  # type: ignore[arg-type]
        filters=_filters(filters, "filters"), cohort_event=cohort_event, return_event=return_event,
    )
    return Retention(
        period=found.period,
        cohorts=[Cohort(start=c.start, size=c.size, retained=c.retained, rates=c.rates) for c in found.cohorts],
        average_rates=found.average_rates,
    )


async def run_insights(ctx: Context, project_id: str, days: int, kind: str) -> Insights:
    if days not in (1, 7, 14, 30, 90):
        raise bad_input("days", "1, 7, 14, 30 or 90")
    found = await insights.compare_periods(
        ctx.services, project_id, days, now_ms(), (Filter(Ref("kind"), "eq", kind),)
    )
    return Insights(
        current_from=found.current[0], current_to=found.current[1], previous_from=found.previous[0],
        previous_to=found.previous[1], trend=found.trend,
        metrics=[InsightMetric(name=k, current=d.current, previous=d.previous, change=d.change, change_pct=d.change_pct)
                 for k, d in found.metrics.items()],
    )


@strawberry.type
class AnalyticsQueryFields:
    @strawberry.field(description="Any aggregate of the caller's project: filters, groups, metrics.")
    async def analytics(self, info: Info[Context, None], query: AnalyticsQueryInput) -> AnalyticsResult:
        return await run_query(info.context, info.context.project_id, query)

    @strawberry.field(description="Ordered steps within a conversion window, per actor.")
    async def funnel(
        self, info: Info[Context, None], steps: list[FunnelStepInput],
        from_: Annotated[datetime, strawberry.argument(name="from")], to: datetime,
        window_hours: float = 168, actor: Actor = Actor.USER, filters: list[FilterInput] | None = None,
        breakdown_property: str | None = None,
    ) -> Funnel:
        return await run_funnel(info.context, info.context.project_id, steps, from_, to, window_hours, actor, filters,
                                breakdown_property)

    @strawberry.field(description="Cohorts by first activity and the share active in each later period.")
    async def retention(
        self, info: Info[Context, None], from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime, period: str = "week", periods: int = 8, actor: Actor = Actor.USER,
        cohort_event: str | None = None, return_event: str | None = None, filters: list[FilterInput] | None = None,
    ) -> Retention:
        return await run_retention(info.context, info.context.project_id, from_, to, period, periods, actor,
                                   cohort_event, return_event, filters)

    @strawberry.field(description="The last `days` days against the days before (tracked events by default).")
    async def insights(self, info: Info[Context, None], days: int = 7, kind: str = "tracker") -> Insights:
        return await run_insights(info.context, info.context.project_id, days, kind)


# -- aggregates reachable from the trace types ----------------------------------------------


@strawberry.type(description="What an agent did in a time range, from its events.")
class AgentUsage:
    events: int
    sessions: int
    errors: int
    llm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: str = strawberry.field(description="Exact decimal string.")
    p50_duration_ms: float | None
    p95_duration_ms: float | None


async def agent_usage(ctx: Context, agent_id: str, from_: datetime | None, to: datetime | None) -> AgentUsage:
    end = to or now_ms() + timedelta(days=1)
    start = from_ or end - timedelta(days=30)
    errors = (Filter(Ref("severity"), "in", ("error", "critical")),)
    values = await engine.total(ctx.services, AnalyticsQuery(
        ctx.project_id, start, end, filters=(Filter(Ref("agent_id"), "eq", agent_id),),
        metrics=(Metric("count"), Metric("unique_sessions"), Metric("rate", where=errors),
                 Metric("rate", where=(Filter(Ref("type"), "eq", "llm_call"),)), Metric("sum", Ref("tokens_in")),
                 Metric("sum", Ref("tokens_out")), Metric("sum", Ref("cost_nanos")),
                 Metric("percentile", Ref("duration_ms"), 0.5), Metric("percentile", Ref("duration_ms"), 0.95)),
    ))
    count = values[0] or 0
    return AgentUsage(
        events=count, sessions=values[1] or 0, errors=round((values[2] or 0) * count),
        llm_calls=round((values[3] or 0) * count), tokens_in=int(values[4] or 0), tokens_out=int(values[5] or 0),
        cost_usd=str(nanos_to_usd(int(values[6] or 0))), p50_duration_ms=values[7], p95_duration_ms=values[8],
    )


@strawberry.type
class TypeCount:
    type: str
    count: int


async def session_event_types(
    ctx: Context, session_id: str, started: datetime, last: datetime | None
) -> list[TypeCount]:
    end = (last or started) + timedelta(milliseconds=1)
    rows = await engine.aggregate(ctx.services, AnalyticsQuery(
        ctx.project_id, started, max(end, started + timedelta(milliseconds=1)),
        filters=(Filter(Ref("session_id"), "eq", session_id),), group_by=(GroupBy(Ref("type")),),
        order_by=(OrderBy(metric=0),), limit=100,
    ))
    return [TypeCount(type=r.keys[0], count=r.values[0]) for r in rows]
