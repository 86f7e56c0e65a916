"""The analytics engine: validated AnalyticsQuery runs, funnels and retention, on either store.

Every surface (seed 003's routes, seed 002's /analytics, GraphQL, and the
anomaly, experiment and revenue domains) asks through here, so caps and
semantics are the same everywhere:

- a query spans at most MAX_RANGE (and ends after it starts);
- it returns at most MAX_ROWS groups (funnel and retention scan at most
  MAX_SCAN rows; past that they answer 400 asking for a narrower range);
- at most 3 group-bys, 10 metrics, 20 filters.

The store compiles the query (storage/models/analytics.py says what each part
means); the engine rounds floats to 9 decimal places so both stores agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from storage.models.analytics import (
    FIELDS,
    AnalyticsQuery,
    Filter,
    GroupBy,
    Metric,
    Ref,
    Row,
    StepQuery,
)
from storage.timeutil import from_ms, to_ms

MAX_RANGE = timedelta(days=400)
MAX_ROWS = 10_000
MAX_SCAN = 2_000_000
MAX_GROUPS, MAX_METRICS, MAX_FILTERS, MAX_STEPS = 3, 10, 20, 10
NUMERIC_METRICS = ("sum", "avg", "min", "max", "percentile")
ACTORS = ("user_id", "anonymous_id", "session_id")


def check_range(start: datetime, end: datetime, where: str = "since") -> None:
    if end <= start:
        raise InputError(Problem(where, "the range must end after it starts"))
    if end - start > MAX_RANGE:
        raise InputError(Problem(where, f"a range spans at most {MAX_RANGE.days} days"))


def check_ref(ref: Ref, source: str, where: str) -> None:
    if ref.kind == "field" and ref.name not in FIELDS[source]:
        raise InputError(Problem(where, f"unknown field {ref.name!r}; fields: {', '.join(FIELDS[source])}"))
    if ref.kind == "property" and not (0 < len(ref.name) <= 128):
        raise InputError(Problem(where, "a property name has 1 to 128 characters"))


SCALARS = (str, int, float, bool, type(None))
INT64 = 2**63


def _scalar(value: Any) -> bool:
    """A value both stores can compare: a string, a 64-bit integer, a finite number, a boolean or null."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -INT64 <= value < INT64
    return isinstance(value, float) and value == value and abs(value) != float("inf")


def check_filters(filters: Sequence[Filter], source: str, where: str = "filters") -> None:
    if len(filters) > MAX_FILTERS:
        raise InputError(Problem(where, f"at most {MAX_FILTERS} filters"))
    for i, f in enumerate(filters):
        check_ref(f.ref, source, f"{where}[{i}]")
        if f.op in ("eq", "neq") and not _scalar(f.value):
            raise InputError(Problem(f"{where}[{i}].value", "a string, a number, a boolean or null"))
        if f.op in ("gt", "gte", "lt", "lte") and (isinstance(f.value, bool) or f.value is None
                                                   or not _scalar(f.value)):
            raise InputError(Problem(f"{where}[{i}].value", "a number or a string to compare with"))
        if f.op == "in" and isinstance(f.value, tuple) and not all(_scalar(v) for v in f.value):
            raise InputError(Problem(f"{where}[{i}].value", "a list of strings, numbers, booleans or nulls"))
        if f.op == "in" and (not isinstance(f.value, tuple) or not f.value or len(f.value) > 100):
            raise InputError(Problem(f"{where}[{i}].value", "in takes a list of 1 to 100 values"))
        if f.op == "exists" and not isinstance(f.value, bool):
            raise InputError(Problem(f"{where}[{i}].value", "exists takes true or false"))
        if f.op == "contains" and not isinstance(f.value, str):
            raise InputError(Problem(f"{where}[{i}].value", "contains takes a string"))


def validate(query: AnalyticsQuery) -> None:
    check_range(query.start, query.end, "from")
    check_filters(query.filters, query.source)
    if len(query.group_by) > MAX_GROUPS:
        raise InputError(Problem("group_by", f"at most {MAX_GROUPS} group-bys"))
    for i, g in enumerate(query.group_by):
        if (g.ref is None) == (g.bucket is None):
            raise InputError(Problem(f"group_by[{i}]", "group by a field, a property or a time bucket"))
        if g.ref is not None:
            check_ref(g.ref, query.source, f"group_by[{i}]")
    if not query.metrics or len(query.metrics) > MAX_METRICS:
        raise InputError(Problem("metrics", f"1 to {MAX_METRICS} metrics"))
    for i, m in enumerate(query.metrics):
        if m.kind in NUMERIC_METRICS:
            if m.ref is None:
                raise InputError(Problem(f"metrics[{i}]", f"{m.kind} needs a numeric field or property"))
            check_ref(m.ref, query.source, f"metrics[{i}]")
        if m.kind == "percentile" and not (m.p is not None and 0 < m.p <= 1):
            raise InputError(Problem(f"metrics[{i}].p", "a percentile is between 0 (exclusive) and 1"))
        if m.kind == "rate":
            if not m.where:
                raise InputError(Problem(f"metrics[{i}]", "a rate needs the filters its hits match"))
            check_filters(m.where, query.source, f"metrics[{i}].where")
    if not (1 <= query.limit <= MAX_ROWS):
        raise InputError(Problem("limit", f"between 1 and {MAX_ROWS}"))


def _rounded(value: Any) -> Any:
    return round(value, 9) if isinstance(value, float) else value


async def aggregate(services: Services, query: AnalyticsQuery) -> list[Row]:
    validate(query)
    rows = await services.store.analytics.aggregate(query)
    return [Row(r.keys, tuple(_rounded(v) for v in r.values)) for r in rows]


async def total(services: Services, query: AnalyticsQuery) -> tuple[Any, ...]:
    """The metrics over the whole range (no groups): one value per metric."""
    rows = await aggregate(services, replace(query, group_by=(), order_by=(), limit=1))
    if rows:
        return rows[0].values
    return tuple(0 if m.kind in ("count", "unique_users", "unique_sessions") else None for m in query.metrics)


# -- funnels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    event: str
    filters: tuple[Filter, ...] = ()
    label: str | None = None


@dataclass
class FunnelStepResult:
    step: int
    event: str
    label: str
    actors: int
    conversion_rate: float  # of the previous step (1.0 for the first)
    overall_rate: float  # of the first step
    dropped: int  # left between the previous step and this one
    avg_time_to_convert_ms: int | None  # from the previous step, over actors who reached this one


@dataclass
class FunnelResult:
    steps: list[FunnelStepResult]
    overall_conversion_rate: float
    breakdown: dict[str, list[FunnelStepResult]] = field(default_factory=dict)


def _walk(times: list[tuple[int, int, Any]], n_steps: int, window_ms: int) -> tuple[int, list[int], Any]:
    """Deepest path of one actor: (steps reached, time of each step, breakdown of the entering event).

    Steps must happen in order, each at or after the previous, all within window_ms of
    the first. Every first-step occurrence is tried; the deepest (then earliest) wins.
    """
    best: tuple[int, list[int], Any] = (0, [], None)
    for i, (step, at, value) in enumerate(times):
        if step != 0:
            continue
        reached, path = 1, [at]
        for later_step, later_at, _ in times[i + 1:]:
            if later_at - at > window_ms:
                break
            if later_step == reached:
                reached += 1
                path.append(later_at)
                if reached == n_steps:
                    break
        if reached > best[0]:
            best = (reached, path, value)
            if reached == n_steps:
                break
    return best


def _steps_result(
    steps: Sequence[FunnelStep], paths: list[tuple[int, list[int]]], entered: int | None = None
) -> list[FunnelStepResult]:
    """entered: how many actors did the first step, when paths hold only those who did the second."""
    out: list[FunnelStepResult] = []
    first = sum(1 for reached, _ in paths if reached >= 1) if entered is None else entered
    previous = first
    for k, step in enumerate(steps):
        reaching = [path for reached, path in paths if reached > k]
        count = first if k == 0 else len(reaching)
        waits = [path[k] - path[k - 1] for path in reaching] if k else []
        out.append(
            FunnelStepResult(
                step=k + 1,
                event=step.event,
                label=step.label or step.event,
                actors=count,
                conversion_rate=round(count / previous, 4) if k and previous else (1.0 if count else 0.0),
                overall_rate=round(count / first, 4) if first else 0.0,
                dropped=previous - count if k else 0,
                avg_time_to_convert_ms=round(sum(waits) / len(waits)) if waits else None,
            )
        )
        previous = count
    return out


async def funnel(
    services: Services,
    project_id: str,
    steps: Sequence[FunnelStep],
    start: datetime,
    end: datetime,
    window: timedelta,
    *,
    actor: str = "user_id",
    filters: tuple[Filter, ...] = (),
    breakdown: Ref | None = None,
    breakdown_limit: int = 10,
) -> FunnelResult:
    if not (2 <= len(steps) <= MAX_STEPS):
        raise InputError(Problem("steps", f"a funnel has 2 to {MAX_STEPS} steps"))
    check_range(start, end)
    if actor not in ACTORS:
        raise InputError(Problem("actor", f"one of {', '.join(ACTORS)}"))
    if not (timedelta(0) < window <= MAX_RANGE):
        raise InputError(Problem("conversion_window_hours", f"between 1 hour and {MAX_RANGE.days} days"))
    check_filters(filters, "events")
    if breakdown is not None:
        check_ref(breakdown, "events", "breakdown")
    step_filters = tuple((Filter(Ref("type"), "eq", s.event), *s.filters) for s in steps)
    for i, s in enumerate(steps):
        check_filters(s.filters, "events", f"steps[{i}].filters")
    narrowed = None if breakdown is not None else await _second_steppers(
        services, project_id, start, end, step_filters, actor, filters
    )
    if narrowed is None:
        entered, scope = None, filters
    else:
        entered, actors = narrowed
        scope = (*filters, Filter(Ref(actor), "in", actors))
    rows = [] if narrowed is not None and not narrowed[1] else await services.store.analytics.steps(
        StepQuery(project_id, start, end, step_filters, actor, scope, breakdown, MAX_SCAN + 1)
    )
    if len(rows) > MAX_SCAN:
        raise InputError(Problem("since", f"more than {MAX_SCAN} matching events; narrow the range"))
    by_actor: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)
    for r in rows:
        by_actor[r.actor].append((r.step, r.at_ms, r.breakdown))
    window_ms = int(window.total_seconds() * 1000)
    walked = [_walk(times, len(steps), window_ms) for times in by_actor.values()]
    paths = [(reached, path) for reached, path, _ in walked if reached]
    result = _steps_result(steps, paths, entered)
    last = result[-1].actors
    first = result[0].actors
    out = FunnelResult(result, round(last / first, 4) if first else 0.0)
    if breakdown is not None:
        groups: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
        for reached, path, value in walked:
            if reached:
                groups["(none)" if value is None else str(value)].append((reached, path))
        ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:breakdown_limit]
        out.breakdown = {key: _steps_result(steps, group) for key, group in ranked}
    return out


UNIQUE_ACTORS = {"user_id": "unique_users", "session_id": "unique_sessions"}
NARROW_ROWS, NARROW_ACTORS = 500_000, 20_000


async def _second_steppers(
    services: Services,
    project_id: str,
    start: datetime,
    end: datetime,
    step_filters: tuple[tuple[Filter, ...], ...],
    actor: str,
    filters: tuple[Filter, ...],
) -> tuple[int, tuple[Any, ...]] | None:
    """(how many actors did the first step, who did the second step at all), or None to walk everyone.

    Only actors with a second-step event can get past the first step, and the first step's
    count is one distinct count on an index: so the walk reads those actors' events alone,
    not every first-step event of the range (most visitors never convert).
    """
    if actor not in UNIQUE_ACTORS:
        return None
    seconds = await services.store.analytics.steps(
        StepQuery(project_id, start, end, (step_filters[1],), actor, filters, None, NARROW_ROWS + 1)
    )
    actors = tuple(sorted({r.actor for r in seconds}))
    if len(seconds) > NARROW_ROWS or len(actors) > NARROW_ACTORS:
        return None
    (entered,) = await total(services, AnalyticsQuery(
        project_id, start, end, filters=(*filters, *step_filters[0], Filter(Ref(actor), "exists", True)),
        metrics=(Metric(UNIQUE_ACTORS[actor]),),  # type: ignore[arg-type]
    ))
    return int(entered or 0), actors


# -- retention ----------------------------------------------------------------------------

Period = Literal["day", "week", "month"]
PERIOD_MS = {"day": 86_400_000, "week": 7 * 86_400_000}


@dataclass
class Cohort:
    start: datetime
    size: int
    retained: list[int]  # actors active in period offset 0, 1, ...
    rates: list[float]


@dataclass
class RetentionResult:
    period: Period
    cohorts: list[Cohort]
    average_rates: list[float]


def _offset(cohort_ms: int, active_ms: int, period: Period) -> int:
    if period == "month":
        a, b = from_ms(cohort_ms), from_ms(active_ms)
        return (b.year - a.year) * 12 + b.month - a.month
    return (active_ms - cohort_ms) // PERIOD_MS[period]


async def retention(
    services: Services,
    project_id: str,
    start: datetime,
    end: datetime,
    *,
    period: Period = "week",
    periods: int = 8,
    actor: str = "user_id",
    filters: tuple[Filter, ...] = (),
    cohort_event: str | None = None,
    return_event: str | None = None,
) -> RetentionResult:
    """Cohorts by the period of each actor's first event in the range; retention by later activity.

    With cohort_event, an actor's cohort is the period of their first cohort_event; with
    return_event, only that event counts as a return (else any event does). Rates are shares of
    the cohort (0-1); average_rates weighs each cohort by its size, over the cohorts old enough to
    have reached that offset, so index 0 is always 1.0 when any cohort exists.
    """
    check_range(start, end)
    if actor not in ACTORS:
        raise InputError(Problem("actor", f"one of {', '.join(ACTORS)}"))
    if not (1 <= periods <= 52):
        raise InputError(Problem("periods", "between 1 and 52"))
    check_filters(filters, "events")

    async def periods_of(event: str | None) -> dict[Any, list[int]]:
        scope = (Filter(Ref("type"), "eq", event),) if event else ()
        query = AnalyticsQuery(
            project_id,
            start,
            end,
            filters=(*filters, *scope, Filter(Ref(actor), "exists", True)),
            group_by=(GroupBy(ref=Ref(actor)), GroupBy(bucket=period)),
            metrics=(Metric("count"),),
            limit=MAX_SCAN + 1,
        )
        rows = await services.store.analytics.aggregate(query)
        if len(rows) > MAX_SCAN:
            raise InputError(Problem("since", "too many actors and periods; narrow the range"))
        out: dict[Any, list[int]] = defaultdict(list)
        for r in rows:
            out[r.keys[0]].append(r.keys[1])
        return out

    active = await periods_of(return_event)
    entered = await periods_of(cohort_event) if cohort_event != return_event else active
    cohorts: dict[int, list[int]] = {}
    for who, entry in entered.items():
        first = min(entry)
        counts = cohorts.setdefault(first, [0] * periods)
        counts[0] += 1
        for b in set(active.get(who, ())):
            if b == first:
                continue
            k = _offset(first, b, period)
            if 0 <= k < periods:
                counts[k] += 1
    end_ms = to_ms(end)
    out: list[Cohort] = []
    for cohort_ms in sorted(cohorts):
        counts = cohorts[cohort_ms]
        reachable = 1 + max(0, _offset(cohort_ms, end_ms - 1, period))  # offsets that have begun by the end
        counts = counts[: min(periods, reachable)]
        size = counts[0]
        out.append(Cohort(from_ms(cohort_ms), size, counts, [round(c / size, 4) for c in counts]))
    average: list[float] = []
    for k in range(periods):
        eligible = [c for c in out if len(c.retained) > k]
        base = sum(c.size for c in eligible)
        if not base:
            break
        average.append(round(sum(c.retained[k] for c in eligible) / base, 4))
    return RetentionResult(period, out, average)
