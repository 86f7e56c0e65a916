"""Period over period: the last N whole UTC days (today included) against the N days before.

Unlike the seed system, whose two periods share a day, these never overlap.
change_pct is a whole percentage of the previous value, and None when the
previous value is zero (a change from nothing has no percentage).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from resolvers.analytics.engine import total
from resolvers.core.services import Services
from storage.models.analytics import TRACKED, AnalyticsQuery, Filter, Metric, Ref

PERIODS = ("1d", "7d", "14d", "30d", "90d")
TRACKED_ONLY = (TRACKED,)
BOUNCED = (Filter(Ref("event_count"), "eq", 1),)


@dataclass(frozen=True)
class Delta:
    current: float
    previous: float
    change: float
    change_pct: int | None


@dataclass(frozen=True)
class Insights:
    current: tuple[datetime, datetime]  # first and last day, inclusive
    previous: tuple[datetime, datetime]
    metrics: dict[str, Delta]
    trend: str  # growing, declining, stable


def delta(current: float, previous: float) -> Delta:
    change = current - previous
    if isinstance(change, float):
        change = round(change, 3)
    pct = round(change / previous * 100) if previous else None
    return Delta(current, previous, change, pct)


def trend(d: Delta) -> str:
    if d.change_pct is None:
        return "growing" if d.current > 0 else "stable"
    return "growing" if d.change_pct > 10 else "declining" if d.change_pct < -10 else "stable"


async def _measure(
    services: Services, project_id: str, start: datetime, end: datetime, filters: tuple[Filter, ...]
) -> dict[str, float]:
    events, sessions = await asyncio.gather(
        total(services, AnalyticsQuery(project_id, start, end, filters=filters,
                                       metrics=(Metric("count"), Metric("unique_users")))),
        total(services, AnalyticsQuery(project_id, start, end, source="sessions", filters=filters,
                                       metrics=(Metric("count"), Metric("rate", where=BOUNCED),
                                                Metric("avg", Ref("duration_ms"))))),
    )
    return {
        "total_events": events[0],
        "unique_users": events[1],
        "total_sessions": sessions[0],
        "bounce_rate": round(sessions[1] or 0, 3),
        "avg_duration": round(sessions[2] or 0),
    }


async def compare_periods(
    services: Services, project_id: str, days: int, now: datetime, filters: tuple[Filter, ...] = TRACKED_ONLY
) -> Insights:
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    current_start = today - timedelta(days=days - 1)
    previous_start = current_start - timedelta(days=days)
    end = today + timedelta(days=1)
    current, previous = await asyncio.gather(
        _measure(services, project_id, current_start, end, filters),
        _measure(services, project_id, previous_start, current_start, filters),
    )
    metrics = {key: delta(current[key], previous[key]) for key in current}
    return Insights(
        current=(current_start, today),
        previous=(previous_start, current_start - timedelta(days=1)),
        metrics=metrics,
        trend=trend(metrics["total_events"]),
    )
