"""Scheduled reports: a daily and a weekly summary per project, from the same engine queries the rules use.

A report covers a whole period in UTC (a day; a week from Monday) and compares it with the period before:
the key metrics of both worlds (visits, conversions, conversion and bounce rates; agent runs, error rate,
cost, tokens, p95 latency, tool errors), the anomalies detected in the period, and the agents that cost the
most and failed the most. Its id comes from the project, kind and period (ids.report_id), so a pass that runs
twice, in one process or two, stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from resolvers.analytics import engine
from resolvers.anomalies import metrics
from resolvers.anomalies.detector import change_percentage
from resolvers.anomalies.ids import report_id
from resolvers.core.services import Services
from storage.contract import AnomalyQuery, Page
from storage.models import Project
from storage.models.analytics import AGENT, AnalyticsQuery, Filter, GroupBy, Metric, Ref
from storage.models.anomalies import Report, RuleMetric

Kind = Literal["daily", "weekly"]
KINDS: tuple[Kind, ...] = ("daily", "weekly")
TOP_AGENTS = 5
ANOMALIES_LISTED = 20
# (key in the summary, the rule metric it is, its unit): the metrics every report carries.
KEY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("visits", "sessions", "count"), ("conversion_rate", "conversion_rate", "ratio"),
    ("bounce_rate", "bounce_rate", "ratio"), ("agent_error_rate", "error_rate", "ratio"),
    ("agent_cost_usd", "cost", "usd"), ("agent_tokens", "tokens", "count"),
    ("agent_latency_p95_ms", "latency_p95", "ms"), ("agent_tool_error_rate", "tool_error_rate", "ratio"),
)
CONVERSIONS = RuleMetric(type="unique_sessions", event=metrics.CONVERSION)


@dataclass(frozen=True)
class Period:
    kind: Kind
    start: datetime
    end: datetime

    @property
    def previous(self) -> Period:
        return Period(self.kind, self.start - (self.end - self.start), self.start)


def last_complete(kind: Kind, now: datetime) -> Period:
    """The latest whole day (or week, from Monday) in UTC that has ended by `now`."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "daily":
        return Period(kind, midnight - timedelta(days=1), midnight)
    monday = midnight - timedelta(days=midnight.weekday())
    return Period(kind, monday - timedelta(days=7), monday)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


async def _key_metric(services: Services, project_id: str, metric: RuleMetric, period: Period) -> dict[str, Any]:
    found = metrics.plan(project_id, metric)
    current = await metrics.measure(services, found, period.start, period.end)
    previous = await metrics.measure(services, found, period.previous.start, period.previous.end)
    if found.denominator is None and metric.type in ("sessions", "count", "unique_sessions", "tokens", "cost"):
        current, previous = current or 0.0, previous or 0.0  # a count over nothing is zero, a rate is undefined
    return {"current": _rounded(current), "previous": _rounded(previous),
            "change_percentage": change_percentage(current, previous)}


async def _agent_runs(services: Services, project_id: str, period: Period) -> dict[str, Any]:
    runs = []
    for p in (period, period.previous):
        (n,) = await engine.total(services, AnalyticsQuery(project_id, p.start, p.end, "sessions", (AGENT,),
                                                           metrics=(Metric("count"),)))
        runs.append(float(n or 0))
    now, before = runs
    return {"current": now, "previous": before, "change_percentage": change_percentage(now, before)}


async def _top_agents(services: Services, project_id: str, period: Period) -> dict[str, list[dict[str, Any]]]:
    """The agents that cost the most, and those with the most error events, in the period."""
    failing = Filter(Ref("severity"), "in", ("error", "critical"))
    grouped = AnalyticsQuery(
        project_id, period.start, period.end, "events", (AGENT,), group_by=(GroupBy(Ref("agent_id")),),
        metrics=(Metric("sum", Ref("cost_nanos")), Metric("rate", where=(failing,)), Metric("count")),
        limit=engine.MAX_ROWS)
    rows = [r for r in await engine.aggregate(services, grouped) if r.keys[0] not in (None, "")]

    def agent(r: Any) -> dict[str, Any]:
        cost, failing_share, events = r.values
        return {"agent_id": str(r.keys[0]), "cost_usd": round(float(cost or 0) * metrics.USD_PER_NANO, 6),
                "errors": round(float(failing_share or 0) * int(events or 0)), "events": int(events or 0)}

    every = [agent(r) for r in rows]
    by_cost = sorted((a for a in every if a["cost_usd"] > 0), key=lambda a: (-a["cost_usd"], a["agent_id"]))
    by_errors = sorted((a for a in every if a["errors"] > 0), key=lambda a: (-a["errors"], a["agent_id"]))
    return {"by_cost": by_cost[:TOP_AGENTS], "by_errors": by_errors[:TOP_AGENTS]}


async def _anomalies(services: Services, project_id: str, period: Period) -> dict[str, Any]:
    found = await services.store.anomalies.find_anomalies(
        project_id, AnomalyQuery(since=period.start, until=period.end), Page(limit=ANOMALIES_LISTED, offset=0))
    by_severity: dict[str, int] = {}
    for a in found.items:
        by_severity[a.severity.value] = by_severity.get(a.severity.value, 0) + 1
    return {"total": found.total, "by_severity": by_severity,
            "items": [{"id": a.id, "rule_id": a.rule_id, "rule_name": a.rule_name, "severity": a.severity.value,
                       "status": a.status.value, "change_percentage": a.metric.change_percentage}
                      for a in found.items]}


def _headline(period: Period, key: dict[str, dict[str, Any]], anomalies: dict[str, Any]) -> list[str]:
    """Plain sentences from the numbers above, biggest changes first."""
    moved = sorted(((name, m["change_percentage"]) for name, m in key.items() if m["change_percentage"]),
                   key=lambda t: -abs(t[1]))
    lines = [f"{name.replace('_', ' ').capitalize()} {'rose' if change > 0 else 'fell'} {abs(change):g}% "
             f"against the {('day' if period.kind == 'daily' else 'week')} before." for name, change in moved[:3]]
    count = anomalies["total"]
    lines.append(f"{count} anomal{'y' if count == 1 else 'ies'} detected." if count else "No anomalies detected.")
    return lines


async def build(services: Services, project: Project, period: Period, now: datetime) -> Report:
    key = {name: await _key_metric(services, project.id, RuleMetric(type=metric), period)
           for name, metric, _unit in KEY_METRICS}
    key["conversions"] = await _key_metric(services, project.id, CONVERSIONS, period)
    key["agent_runs"] = await _agent_runs(services, project.id, period)
    anomalies = await _anomalies(services, project.id, period)
    title = (f"Daily report, {period.start:%Y-%m-%d}" if period.kind == "daily"
             else f"Weekly report, {period.start:%Y-%m-%d} to {period.end - timedelta(days=1):%Y-%m-%d}")
    return Report(
        project_id=project.id, id=report_id(project.id, period.kind, period.start), kind=period.kind,
        period_start=period.start, period_end=period.end, generated_at=now, title=title,
        summary={"headline": _headline(period, key, anomalies), "metrics": key, "anomalies": anomalies,
                 "top_agents": await _top_agents(services, project.id, period),
                 "previous_period": {"start": period.previous.start.isoformat(),
                                     "end": period.previous.end.isoformat()}},
    )


async def due(services: Services, project: Project, now: datetime) -> list[Period]:
    """The periods whose report is not stored yet: the last complete day and week, once the project existed."""
    out = []
    for kind in KINDS:
        period = last_complete(kind, now)
        if period.end <= project.created_at:
            continue
        if await services.store.anomalies.report_by_id(project.id, report_id(project.id, kind, period.start)) is None:
            out.append(period)
    return out


__all__ = ["KINDS", "Period", "build", "due", "last_complete"]
