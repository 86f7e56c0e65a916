"""The anomaly detector: every enabled rule of every project, its current window against its baseline.

One pass (detect) measures each rule's metric with the analytics engine over the current window, which
ends at the last whole hour and is `comparison.window_hours` long, and over the baseline the comparison
names (the window before; the same window a day or a week earlier; the mean of the 7 windows before; the
mean of the same window on the same weekday over the last 4 weeks). A rule fires when the change passes
its threshold in its direction, the volume behind it reaches `min_volume` (for a rate or a mean: rows in the
current window, since a rate over a handful of visits is noise; for a count or a sum: the larger of the two
windows, so a collapse to nothing still pages), and the rule raised nothing within its `cooldown_hours`.

An anomaly's id comes from the rule and the window (ids.anomaly_id), and the store writes an id once:
a pass that crashed half way and runs again, or two passes over the same window, store each anomaly once.
An open or acknowledged anomaly is resolved (compare-and-set) once its rule's metric is back within the
threshold of the baseline the anomaly was raised against. Each write carries its webhook deliveries
(notify.py), which the store keeps only with it: a crash stores both or neither, and a resolution that loses
its compare-and-set to an acknowledgement announces nothing.

Drill-down breaks the metric down by the segments events carry (device, referrer domain and country for
product metrics; agent and model for agent metrics), over events: the sessions source has no segments, so a
sessions-based metric is drilled into through its events-based equivalent (visits are sessions with a
tracked event). Each segment value gets its own change in percent; the biggest movers come first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from resolvers.analytics import engine
from resolvers.anomalies import metrics, notify
from resolvers.anomalies.ids import anomaly_id
from resolvers.anomalies.metrics import Plan
from resolvers.anomalies.service import effective_rules
from resolvers.core.errors import InputError
from resolvers.core.services import Services
from storage.contract import AnomalyQuery, Page
from storage.models import Project
from storage.models.analytics import AGENT, TRACKED, AnalyticsQuery, Filter, GroupBy, Metric, Ref
from storage.models.anomalies import (
    Anomaly,
    AnomalyMetric,
    AnomalyRule,
    AnomalyStatus,
    SegmentChange,
    SeriesPoint,
    Threshold,
)
from storage.timeutil import now_ms

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
SERIES_POINTS = 7  # windows in an anomaly's time series, the current one last
TOP_SEGMENTS = 5  # segment values kept per dimension, the biggest movers
SEGMENT_ROWS = 200  # segment values read per dimension and window
SEGMENT_MIN_VOLUME = 10  # a segment value with fewer rows than this (in both windows) is not named
OPEN = (AnomalyStatus.OPEN.value, AnomalyStatus.ACKNOWLEDGED.value)
PRODUCT_DIMENSIONS = ("device", "referrer_domain", "country")
AGENT_DIMENSIONS = ("agent_id", "model")
EXTENSIVE = frozenset({"count", "unique_users", "unique_sessions", "sum"})  # kinds that add up over rows
UNITS = {"conversion_rate": "percent", "bounce_rate": "percent", "error_rate": "percent",
         "tool_error_rate": "percent", "cost": "usd", "latency_p95": "ms"}


# -- windows ---------------------------------------------------------------------------------------------------


def current_window(rule: AnomalyRule, now: datetime) -> tuple[datetime, datetime]:
    """The window_hours ending at the last whole hour: every pass within an hour sees the same window."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=rule.comparison.window_hours), end


def baseline_windows(kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    width = end - start
    if kind == "vs_previous_day":
        shifts = [timedelta(days=1)]
    elif kind == "vs_previous_7_days":
        shifts = [width * i for i in range(1, 8)]
    elif kind == "vs_same_day_last_week":
        shifts = [timedelta(days=7)]
    elif kind == "vs_same_weekday_4_weeks":
        shifts = [timedelta(days=7 * i) for i in range(1, 5)]
    else:  # vs_previous_period
        shifts = [width]
    return [(start - s, end - s) for s in shifts]


def describe_baseline(kind: str, hours: int) -> str:
    span = f"{hours} hours" if hours != 1 else "hour"
    return {
        "vs_previous_day": f"the same {span} a day earlier",
        "vs_previous_7_days": f"the mean of the 7 previous windows of {span}",
        "vs_same_day_last_week": f"the same {span} a week earlier",
        "vs_same_weekday_4_weeks": f"the mean of the same {span} on the same weekday over the last 4 weeks",
    }.get(kind, f"the previous {span}")


# -- measuring -------------------------------------------------------------------------------------------------


def _sum(values: tuple[object, ...]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return sum(numbers) if numbers else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def change_percentage(current: float | None, baseline: float | None) -> float | None:
    if current is None or baseline is None or baseline == 0:
        return None
    return round((current - baseline) / abs(baseline) * 100, 1)


def breaches(threshold: Threshold, change: float | None) -> bool:
    if change is None:
        return False
    if threshold.direction == "increase":
        return change >= threshold.percentage
    if threshold.direction == "decrease":
        return change <= -threshold.percentage
    return abs(change) >= threshold.percentage


def extensive(found: Plan) -> bool:
    """A count or a sum (adds up over rows), not a rate, a ratio or a mean."""
    return found.denominator is None and all(m.kind in EXTENSIVE for m in found.numerator.metrics)


async def volume(services: Services, found: Plan, start: datetime, end: datetime) -> int:
    """The rows behind the metric: the denominator of a ratio, else the rows the numerator reads."""
    query = found.denominator or replace(found.numerator, metrics=(Metric("count"),))
    (rows,) = await engine.total(services, replace(query, start=start, end=end))
    return int(rows or 0)


@dataclass
class Evaluation:
    rule: AnomalyRule
    plan: Plan
    start: datetime
    end: datetime
    current: float | None
    baseline: float | None
    change: float | None
    current_volume: int
    baseline_volume: float
    baselines: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def enough(self) -> bool:
        seen = self.current_volume if not extensive(self.plan) else max(self.current_volume, self.baseline_volume)
        return seen >= self.rule.threshold.min_volume

    @property
    def fires(self) -> bool:
        return self.enough and breaches(self.rule.threshold, self.change)


async def evaluate(services: Services, project_id: str, rule: AnomalyRule, now: datetime) -> Evaluation:
    found = metrics.plan(project_id, rule.metric)
    start, end = current_window(rule, now)
    windows = baseline_windows(rule.comparison.type, start, end)
    current = await metrics.measure(services, found, start, end)
    current_volume = await volume(services, found, start, end)
    past = [await metrics.measure(services, found, s, e) for s, e in windows]
    past_volumes = [await volume(services, found, s, e) for s, e in windows]
    baseline = _mean(past)
    return Evaluation(rule, found, start, end, current, baseline, change_percentage(current, baseline),
                      current_volume, sum(past_volumes) / len(past_volumes), windows)


# -- drill-down ------------------------------------------------------------------------------------------------


def _events(filters: tuple[Filter, ...], metric: Metric) -> AnalyticsQuery:
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return AnalyticsQuery("", start, start + timedelta(days=1), "events", filters, metrics=(metric,))


def drill_plan(project_id: str, rule: AnomalyRule, found: Plan) -> tuple[Plan, tuple[str, ...]] | None:
    """The metric over events (where segments are), and the dimensions to break it down by; None when the
    metric has no events-based equivalent (bounce rate needs a visit's event count)."""
    m = rule.metric
    if m.type == "conversion_rate":
        visits = _events((TRACKED,), Metric("unique_sessions"))
        return replace(found, denominator=replace(visits, project_id=project_id)), PRODUCT_DIMENSIONS
    if m.type == "sessions" and not m.filters:
        visits = _events((TRACKED,), Metric("unique_sessions"))
        return Plan(replace(visits, project_id=project_id)), PRODUCT_DIMENSIONS
    if m.type == "error_rate" and not m.filters:
        failing = _events((AGENT, Filter(Ref("severity"), "in", ("error", "critical"))), Metric("unique_sessions"))
        runs = _events((AGENT,), Metric("unique_sessions"))
        return (Plan(replace(failing, project_id=project_id), replace(runs, project_id=project_id)),
                AGENT_DIMENSIONS)
    queries = [q for q in (found.numerator, found.denominator) if q is not None]
    if any(q.source != "events" for q in queries):
        return None
    filters = found.numerator.filters
    if AGENT in filters:
        return found, AGENT_DIMENSIONS
    if TRACKED in filters:
        return found, PRODUCT_DIMENSIONS
    return found, PRODUCT_DIMENSIONS + AGENT_DIMENSIONS


async def _grouped(services: Services, found: Plan, dimension: str, start: datetime,
                   end: datetime) -> dict[str, tuple[float | None, int]]:
    """Per segment value: the metric and its volume over [start, end)."""
    group = (GroupBy(Ref(dimension)),)

    async def rows(query: AnalyticsQuery, *extra: Metric) -> dict[str, tuple[object, ...]]:
        q = replace(query, start=start, end=end, group_by=group, metrics=(*query.metrics, *extra),
                    limit=SEGMENT_ROWS)
        return {str(r.keys[0]): r.values for r in await engine.aggregate(services, q) if r.keys[0] not in (None, "")}

    if found.denominator is None:
        out: dict[str, tuple[float | None, int]] = {}
        for key, values in (await rows(found.numerator, Metric("count"))).items():
            value = _sum(values[:-1])
            out[key] = (None if value is None else value * found.scale, int(_sum(values[-1:]) or 0))
        return out
    top, below = await rows(found.numerator), await rows(found.denominator)
    out = {}
    for key, values in below.items():
        base = _sum(values[:1]) or 0.0
        value = (_sum(top.get(key, ())) or 0.0) / base * found.scale if base else None
        out[key] = (value, int(base))
    return out


async def drill_down(services: Services, project_id: str, ev: Evaluation) -> dict[str, dict[str, SegmentChange]]:
    """dimension -> segment value -> change, the biggest movers (by the size of their change) first."""
    drill = drill_plan(project_id, ev.rule, ev.plan)
    if drill is None:
        return {}
    found, dimensions = drill
    adds_up = extensive(found)
    least = max(1, min(SEGMENT_MIN_VOLUME, ev.rule.threshold.min_volume))
    out: dict[str, dict[str, SegmentChange]] = {}
    for dimension in dimensions:
        now = await _grouped(services, found, dimension, ev.start, ev.end)
        before = [await _grouped(services, found, dimension, s, e) for s, e in ev.baselines]
        changes = []
        for key in sorted({*now, *(k for b in before for k in b)}):
            empty = (0.0 if adds_up else None, 0)
            current, current_rows = now.get(key, empty)
            past = [b.get(key, empty) for b in before]
            baseline = _mean([p[0] for p in past])
            if max(current_rows, max(p[1] for p in past)) < least:
                continue
            change = change_percentage(current, baseline)
            if change is None:
                continue
            changes.append((key, SegmentChange(current=_round(current), baseline=_round(baseline), change=change)))
        changes.sort(key=lambda kv: (-abs(kv[1].change or 0.0), kv[0]))
        if changes:
            out[dimension] = dict(changes[:TOP_SEGMENTS])
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# -- the anomaly -----------------------------------------------------------------------------------------------


def unit(rule: AnomalyRule) -> str:
    if rule.metric.type in UNITS:
        return UNITS[rule.metric.type]
    return "percent" if rule.metric.type == "rate" else "number"


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "no value"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "usd":
        return f"${value:,.2f}"
    if kind == "ms":
        return f"{value:,.0f} ms"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _signed(change: float | None) -> str:
    return "n/a" if change is None else f"{change:+g}%"


def analysis(ev: Evaluation, segments: dict[str, dict[str, SegmentChange]]) -> str:
    rule, kind = ev.rule, unit(ev.rule)
    label = rule.metric.type.replace("_", " ")
    moved = "rose" if (ev.change or 0) > 0 else "fell"
    text = (f"{label.capitalize()} {moved} {abs(ev.change or 0):g}% to {fmt(ev.current, kind)} in the "
            f"{rule.comparison.window_hours} hours to {ev.end:%Y-%m-%d %H:%M} UTC, against {fmt(ev.baseline, kind)} "
            f"over {describe_baseline(rule.comparison.type, rule.comparison.window_hours)} "
            f"(the rule alerts on a {rule.threshold.direction} of {rule.threshold.percentage:g}% or more; "
            f"{ev.current_volume:,} rows in the window).")
    leaders = _leaders(segments)
    if leaders:
        dimension, key, s = leaders[0]
        text += (f" The biggest mover is {dimension.replace('_', ' ')} {key}: {fmt(s.baseline, kind)} → "
                 f"{fmt(s.current, kind)} ({_signed(s.change)}).")
        others = [f"{d.replace('_', ' ')} {k} ({_signed(c.change)})" for d, k, c in leaders[1:4]]
        if others:
            text += f" Then {', '.join(others)}."
    return text


def _leaders(segments: dict[str, dict[str, SegmentChange]]) -> list[tuple[str, str, SegmentChange]]:
    every = [(d, k, s) for d, values in segments.items() for k, s in values.items()]
    return sorted(every, key=lambda t: (-abs(t[2].change or 0.0), t[0], t[1]))


ACTIONS = {
    "conversions": ["Walk through the signup and checkout flow{on} and check for errors or broken steps",
                    "Compare deploys and experiment launches around {since} with the start of the drop",
                    "Check whether the traffic mix changed (sources, campaigns) or only conversion did"],
    "traffic": ["Check tracking is installed and firing{on} (a missing snippet looks like lost traffic)",
                "Review referrers and campaigns for a source that stopped sending visits",
                "Check uptime and response times around {since}"],
    "engagement": ["Open the entry pages{on} and check that they load and render correctly",
                   "Check whether a new traffic source brings less engaged visits"],
    "agents": ["Inspect recent sessions{on} for the failing steps, prompts or tool calls",
               "Compare model, prompt and tool changes deployed around {since}",
               "Set a budget or rate limit on the agent until the cause is known"],
}


def recommended_actions(ev: Evaluation, segments: dict[str, dict[str, SegmentChange]]) -> list[str]:
    leaders = _leaders(segments)
    on = f" for {leaders[0][0].replace('_', ' ')} {leaders[0][1]}" if leaders else ""
    since = f"{ev.start:%Y-%m-%d %H:%M} UTC"
    found = ACTIONS.get(ev.rule.category, ["Review what changed in {since}{on}",
                                           "Adjust the rule's threshold if this change is expected"])
    return [a.format(on=on, since=since) for a in found]


async def time_series(services: Services, ev: Evaluation) -> list[SeriesPoint]:
    width = ev.end - ev.start
    daily = width % timedelta(days=1) == timedelta(0) and ev.end.hour == 0
    out = []
    for i in range(SERIES_POINTS - 1, -1, -1):
        s, e = ev.start - width * i, ev.end - width * i
        value = await metrics.measure(services, ev.plan, s, e)
        out.append(SeriesPoint(date=s.date().isoformat() if daily else s.isoformat(), value=_round(value)))
    return out


async def build_anomaly(services: Services, project_id: str, ev: Evaluation, now: datetime) -> Anomaly:
    segments = await drill_down(services, project_id, ev)
    agents = segments.get("agent_id", {})
    return Anomaly(
        project_id=project_id, id=anomaly_id(project_id, ev.rule.id, ev.start, ev.end), rule_id=ev.rule.id,
        rule_name=ev.rule.name, severity=ev.rule.alert.severity, window_start=ev.start, window_end=ev.end,
        detected_at=now, updated_at=now,
        metric=AnomalyMetric(name=ev.rule.metric.type, current_value=_round(ev.current),
                             baseline_value=_round(ev.baseline), change_percentage=ev.change,
                             time_series=await time_series(services, ev)),
        segments=segments, ai_analysis=analysis(ev, segments), recommended_actions=recommended_actions(ev, segments),
        agent_id=next(iter(agents), None),
    )


# -- a pass ----------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    detected: list[Anomaly] = field(default_factory=list)  # newly stored
    resolved: list[Anomaly] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # rule ids that could not be evaluated


async def _resolve(services: Services, project_id: str, ev: Evaluation, now: datetime) -> list[Anomaly]:
    if ev.current is None or not ev.enough:
        return []
    found = await services.store.anomalies.find_anomalies(
        project_id, AnomalyQuery(statuses=OPEN, rule_id=ev.rule.id), Page(limit=100, offset=0))
    out = []
    for a in found.items:
        if breaches(ev.rule.threshold, change_percentage(ev.current, a.metric.baseline_value)):
            continue
        done = a.model_copy(update={"status": AnomalyStatus.RESOLVED, "resolved_at": now, "updated_at": now})
        announce = await notify.resolved(services, done, now)
        if await services.store.anomalies.update_anomaly(done, a.status, announce):  # else lost to an acknowledge
            out.append(done)
    return out


async def detect_project(services: Services, project: Project, now: datetime | None = None) -> Outcome:
    now = now or now_ms()
    outcome = Outcome()
    rules = [r for r in await effective_rules(services, project) if r.enabled]
    longest = max((r.alert.cooldown_hours for r in rules), default=0)
    last = {t.rule_id: t.last_detected for t in
            await services.store.anomalies.rule_triggers(project.id, now - timedelta(hours=longest + 1))}
    for rule in rules:
        try:
            ev = await evaluate(services, project.id, rule, now)
        except InputError as exc:  # a custom rule the engine no longer accepts: the others still run
            log.warning("rule %s of project %s not evaluated: %s", rule.id, project.id, exc)
            outcome.skipped.append(rule.id)
            continue
        outcome.resolved += await _resolve(services, project.id, ev, now)
        if not ev.fires:
            continue
        previous = last.get(rule.id)
        if previous is not None and now - previous < timedelta(hours=rule.alert.cooldown_hours):
            continue
        candidate = await build_anomaly(services, project.id, ev, now)
        announce = await notify.detected(services, candidate, now)  # stored only if the anomaly is new
        anomaly, new = await services.store.anomalies.insert_anomaly(candidate, announce)
        if new:
            outcome.detected.append(anomaly)
            services.bus.anomaly_detected(anomaly)  # this process's subscribers now; the others poll
    return outcome


__all__ = ["Evaluation", "Outcome", "breaches", "change_percentage", "detect_project", "evaluate"]
