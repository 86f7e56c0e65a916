"""Funnels: ordered steps within a conversion window, walked per actor over the store's step rows.

The walk is Python, so both stores share one algorithm; the store only returns, per actor, the
events matching any step in time order (StepQuery).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from resolvers.analytics.engine import (
    ACTORS,
    MAX_RANGE,
    MAX_SCAN,
    MAX_STEPS,
    check_filters,
    check_range,
    check_ref,
    total,
)
from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from storage.models.analytics import AnalyticsQuery, Filter, Metric, Ref, StepQuery


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
