"""Cohort retention: actors grouped by the period of their first activity, and the share active later."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from resolvers.analytics.engine import ACTORS, MAX_SCAN, check_filters, check_range
from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, Ref
from storage.timeutil import from_ms, to_ms

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
