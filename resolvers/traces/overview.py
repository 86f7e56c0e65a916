"""Aggregate statistics across a project's agent sessions: seed 002's GET /analytics.

The sections and their rules are the reference backend's (routes/analytics.js of the
AgentLens backend), computed on the analytics engine rather than in SQL:

- Only agent data counts (kind "agent"): a product event tracked through seed 003's
  /agent-analytics/track, and the visit it opens, are never an agent's session or step.
- The reference never stores session_start/session_end as events (they only write the
  session row), so every event section leaves the lifecycle records out here: total_events,
  event_types, model_usage and hourly_activity count what the agent did.
- "All time" is bounded, as the engine requires: sessions started, and events timestamped,
  in the WINDOW_DAYS (the engine's cap) UTC days up to the end of tomorrow (a day of clock skew
  is kept). sessions_over_time is the seed's last SERIES_DAYS UTC days (today and the 89 before),
  empty days left out; the reference takes the last 90 days that have sessions instead, which
  the seed documents as "last 90 days".
- Rounding is JavaScript's Math.round (resolvers/traces/jsfmt), where the reference rounds.
- Ties the reference leaves to SQLite (equal token totals, equal counts) break on the name,
  ascending, so answers are stable on both stores.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from resolvers.analytics.engine import MAX_RANGE, MAX_ROWS, aggregate, total
from resolvers.core.services import Services
from resolvers.traces.jsfmt import js_round, round2
from resolvers.traces.reads import LIFECYCLE_TYPES
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, OrderBy, Ref, Source
from storage.timeutil import from_ms

WINDOW_DAYS = MAX_RANGE.days
SERIES_DAYS = 90
TOP_AGENTS = 10
AGENT_DATA = (Filter(Ref("kind"), "eq", "agent"),)
# Events an agent did: no start or end records, which the session row stands for.
STEPS = (*AGENT_DATA, *(Filter(Ref("type"), "neq", t) for t in sorted(LIFECYCLE_TYPES)))


@dataclass(frozen=True)
class Totals:
    total_sessions: int
    active_sessions: int
    completed_sessions: int
    error_sessions: int
    error_rate: float  # percent of sessions in error, to two places
    total_events: int
    total_tokens: int
    total_tokens_in: int
    total_tokens_out: int
    avg_tokens_per_session: int
    earliest_session: datetime | None
    latest_session: datetime | None


@dataclass(frozen=True)
class Durations:
    """Wall-clock length of ended sessions (ended_at - started_at), 0 with none."""

    avg_ms: int
    min_ms: int
    max_ms: int


@dataclass(frozen=True)
class AgentTokens:
    agent_name: str | None
    session_count: int
    total_tokens: int
    avg_tokens: int


@dataclass(frozen=True)
class ModelUsage:
    model: str
    call_count: int
    total_tokens: int
    total_tokens_in: int
    total_tokens_out: int
    avg_duration_ms: float  # over the calls that reported a duration, to two places


@dataclass(frozen=True)
class Day:
    day: datetime  # midnight UTC
    session_count: int
    total_tokens: int


@dataclass(frozen=True)
class Overview:
    overview: Totals
    duration: Durations
    top_agents: list[AgentTokens]
    model_usage: list[ModelUsage]
    event_types: list[tuple[str, int]]  # count descending
    sessions_over_time: list[Day]  # oldest first
    hourly_activity: list[tuple[int, int]]  # (hour of day UTC, events), hours ascending


def window(now: datetime) -> tuple[datetime, datetime]:
    """The "all time" range: WINDOW_DAYS whole UTC days, ending at the end of tomorrow."""
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=2)
    return end - timedelta(days=WINDOW_DAYS), end


def _int(value: Any) -> int:
    return int(value or 0)


def _ms(value: Any) -> int:
    return js_round(value) if value is not None else 0


async def overview(services: Services, project_id: str, now: datetime) -> Overview:
    start, end = window(now)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    series_start = today - timedelta(days=SERIES_DAYS - 1)

    def query(source: Source, filters: tuple[Filter, ...], metrics: tuple[Metric, ...],
              group_by: tuple[GroupBy, ...] = (), *, since: datetime = start, **kw: Any) -> AnalyticsQuery:
        return AnalyticsQuery(project_id, since, end, source=source, filters=filters, group_by=group_by,
                              metrics=metrics, limit=MAX_ROWS, **kw)

    tokens = (Metric("sum", Ref("tokens_in")), Metric("sum", Ref("tokens_out")))
    by_status, ended, agents, models, types, days, hours = await asyncio.gather(
        aggregate(services, query(
            "sessions", AGENT_DATA,
            (Metric("count"), *tokens, Metric("min", Ref("started_at")), Metric("max", Ref("started_at"))),
            (GroupBy(Ref("status")),),
        )),
        total(services, query(
            "sessions", (*AGENT_DATA, Filter(Ref("ended_at"), "exists", True)),
            (Metric("avg", Ref("duration_ms")), Metric("min", Ref("duration_ms")), Metric("max", Ref("duration_ms"))),
        )),
        aggregate(services, query("sessions", AGENT_DATA, (Metric("count"), *tokens), (GroupBy(Ref("agent_name")),))),
        aggregate(services, query(
            "events", (*STEPS, Filter(Ref("model"), "exists", True), Filter(Ref("model"), "neq", "")),
            (Metric("count"), *tokens, Metric("avg", Ref("duration_ms"))), (GroupBy(Ref("model")),),
        )),
        aggregate(services, query("events", STEPS, (Metric("count"),), (GroupBy(Ref("type")),),
                                  order_by=(OrderBy(metric=0),))),
        aggregate(services, query("sessions", AGENT_DATA, (Metric("count"), *tokens), (GroupBy(bucket="day"),),
                                  since=series_start)),
        aggregate(services, query("events", STEPS, (Metric("count"),), (GroupBy(bucket="hour_of_day"),))),
    )

    counts = {r.keys[0]: _int(r.values[0]) for r in by_status}
    sessions = sum(counts.values())
    tokens_in = sum(_int(r.values[1]) for r in by_status)
    tokens_out = sum(_int(r.values[2]) for r in by_status)
    firsts = [r.values[3] for r in by_status if r.values[3] is not None]
    lasts = [r.values[4] for r in by_status if r.values[4] is not None]
    errors = counts.get("error", 0)
    totals = Totals(
        total_sessions=sessions,
        active_sessions=counts.get("active", 0),
        completed_sessions=counts.get("completed", 0),
        error_sessions=errors,
        error_rate=js_round(errors / sessions * 10000) / 100 if sessions else 0,
        total_events=sum(_int(r.values[0]) for r in types),
        total_tokens=tokens_in + tokens_out,
        total_tokens_in=tokens_in,
        total_tokens_out=tokens_out,
        avg_tokens_per_session=js_round((tokens_in + tokens_out) / sessions) if sessions else 0,
        earliest_session=from_ms(int(min(firsts))) if firsts else None,
        latest_session=from_ms(int(max(lasts))) if lasts else None,
    )

    top = sorted(
        (AgentTokens(r.keys[0], _int(r.values[0]), _int(r.values[1]) + _int(r.values[2]),
                     js_round((_int(r.values[1]) + _int(r.values[2])) / _int(r.values[0])))
         for r in agents if r.values[0]),
        key=lambda a: (-a.total_tokens, a.agent_name is not None, a.agent_name or ""),
    )[:TOP_AGENTS]
    usage = sorted(
        (ModelUsage(r.keys[0], _int(r.values[0]), _int(r.values[1]) + _int(r.values[2]), _int(r.values[1]),
                    _int(r.values[2]), round2(r.values[3] or 0))
         for r in models),
        key=lambda m: (-m.total_tokens, m.model),
    )
    return Overview(
        overview=totals,
        duration=Durations(_ms(ended[0]), _ms(ended[1]), _ms(ended[2])),
        top_agents=top,
        model_usage=usage,
        event_types=[(r.keys[0], _int(r.values[0])) for r in types],
        sessions_over_time=[Day(from_ms(int(r.keys[0])), _int(r.values[0]), _int(r.values[1]) + _int(r.values[2]))
                            for r in days],
        hourly_activity=[(int(r.keys[0]), _int(r.values[0])) for r in hours],
    )
