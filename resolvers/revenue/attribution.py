"""Revenue attribution: totals by agent, goal, goal type, customer, source, session and period, and what
each agent (or session) earns against what its traces cost.

Every total comes from the analytics engine (source "revenues"), as the rest of analytics does. Sums are
exact integers from end to end: the engine's sums of amount_nanos are ints on both stores (past 2**63 too),
roll-ups here add Python ints, and ROI is a Decimal. Amounts in different currencies are never added
together: every total carries its currency, and net and ROI compare USD revenue with the LLM cost, in USD.

An agent's cost is the cost of its traces (sessions) started in the range, through the analytics engine;
a session's is its own cost_nanos. Each function costs a constant number of store calls however many
agents or sessions it is asked about (the GraphQL DataLoaders rely on it): one engine query per 100 ids
(its "in" limit) and per range of engine.MAX_RANGE (an all-time report first asks the store which days its
revenue spans); every group in one query (engine.aggregate_all).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from resolvers.analytics import engine
from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from resolvers.revenue.service import check_references
from storage.contract import RecordQuery
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, Ref
from storage.models.revenue import Goal
from storage.timeutil import EPOCH, now_ms

USD = "USD"
# What a report may group by (the wire's names) and the engine's group for each. Weeks and months are rolled
# up here from days, and goal types from goals: SQLite's month bucket (strftime on every row) took 613 ms on
# bench/revenue.py's data where days took 400.
GROUPS = {
    "agent": GroupBy(Ref("agent_id")), "goal": GroupBy(Ref("goal_id")), "customer": GroupBy(Ref("customer_id")),
    "source": GroupBy(Ref("source")), "session": GroupBy(Ref("session_id")), "currency": GroupBy(Ref("currency")),
    "day": GroupBy(bucket="day"), "week": GroupBy(bucket="day"), "month": GroupBy(bucket="day"),
    "goalType": GroupBy(Ref("goal_id")),
}
CURRENCY = GroupBy(Ref("currency"))
AMOUNT = (Metric("count"), Metric("sum", Ref("amount_nanos")))  # the sum is an exact int on both stores
IN_LIMIT = 100  # values per engine "in" filter
ROI_PLACES = Decimal("0.000001")
MS = timedelta(milliseconds=1)
Key = str | int | None


@dataclass(frozen=True, slots=True)
class Total:
    key: str | None  # the group's id or name; a period's first day as YYYY-MM-DD
    currency: str
    count: int
    amount_nanos: int


@dataclass(frozen=True, slots=True)
class Earnings:
    """USD revenue against LLM cost, in nanos; roi is net / cost (None without cost)."""

    revenue_nanos: int
    cost_nanos: int

    @property
    def net_nanos(self) -> int:
        return self.revenue_nanos - self.cost_nanos

    @property
    def roi(self) -> Decimal | None:
        if not self.cost_nanos:
            return None
        return (Decimal(self.net_nanos) / Decimal(self.cost_nanos)).quantize(ROI_PLACES)


def default_range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The engine's widest range ending now (tomorrow, so today's traces count) unless one is given."""
    end = until or now_ms() + timedelta(days=1)
    start = since or end - engine.MAX_RANGE
    engine.check_range(start, end, "from")
    return start, end


def _order(keys: tuple[Any, ...]) -> tuple[Any, ...]:
    """Group keys as the engine orders them: None first (one group's keys are all strings or all ints)."""
    return tuple(x for k in keys for x in (k is not None, k if k is not None else ""))


def _filters(where: Mapping[str, str | tuple[str, ...] | None]) -> list[tuple[Filter, ...]]:
    """A RecordQuery's equalities as engine filters: one set per IN_LIMIT values of each list (none for an
    empty list, which matches nothing)."""
    fixed: list[Filter] = []
    chunked: list[list[Filter]] = []
    for name, value in where.items():
        if not isinstance(value, tuple):
            fixed.append(Filter(Ref(name), "eq", value))
            continue
        values = tuple(dict.fromkeys(value))
        if not values:
            return []
        chunked.append([Filter(Ref(name), "in", values[i : i + IN_LIMIT]) for i in range(0, len(values), IN_LIMIT)])
    return [(*fixed, *chunks) for chunks in itertools.product(*chunked)]


async def _windows(
    services: Services, project_id: str, since: datetime | None, until: datetime | None
) -> list[tuple[datetime, datetime]]:
    """[since, until) in ranges the engine takes (engine.MAX_RANGE at most). An open or longer range is first
    cut to the revenue on record (one store call), so an all-time report asks for as few ranges as it needs."""
    if since is not None and until is not None and until - since <= engine.MAX_RANGE:
        return [(since, until)] if since < until else []
    span = await services.store.revenue.revenue_span(project_id)
    if span is None:
        return []
    start = span[0] if since is None else max(since, span[0])
    end = span[1] + MS if until is None else min(until, span[1] + MS)
    out = []
    while start < end:
        out.append((start, min(start + engine.MAX_RANGE, end)))
        start += engine.MAX_RANGE
    return out


async def _sums(
    services: Services, project_id: str, group: GroupBy, query: RecordQuery
) -> list[tuple[Key, str, int, int]]:
    """(key, currency, count, exact sum) per group and currency through the analytics engine, in key then
    currency order (None first): one engine query per range, per IN_LIMIT values of a list, per MAX_ROWS groups."""
    groups = (group,) if group == CURRENCY else (group, CURRENCY)
    sums: dict[tuple[Key, str], list[int]] = defaultdict(lambda: [0, 0])
    for start, end in await _windows(services, project_id, query.since, query.until):
        for filters in _filters(query.where):
            found = await engine.aggregate_all(services, AnalyticsQuery(
                project_id, start, end, source="revenues", filters=filters, group_by=groups, metrics=AMOUNT))
            for r in found:
                acc = sums[(r.keys[0], r.keys[-1])]
                acc[0] += r.values[0]
                acc[1] += r.values[1] or 0
    ordered = sorted(sums.items(), key=lambda kv: (*_order(kv[0][:1]), kv[0][1]))
    return [(k, c, n, amount) for (k, c), (n, amount) in ordered]


def _rolled(rows: Sequence[tuple[str | None, str, int, int]]) -> list[Total]:
    sums: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, currency, count, amount in rows:
        acc = sums[(key, currency)]
        acc[0] += count
        acc[1] += amount
    ordered = sorted(sums.items(), key=lambda kv: (kv[0][0] is not None, kv[0][0] or "", kv[0][1]))
    return [Total(k, c, n, amount) for (k, c), (n, amount) in ordered]


def _period(day_ms: Key, by: str) -> str:
    """A day bucket (its start in epoch ms) as the report's key: the first day of its day, week or month."""
    date = (EPOCH + timedelta(milliseconds=int(day_ms or 0))).date()
    if by == "week":  # weeks start on Monday, as the analytics engine's
        date -= timedelta(days=date.weekday())
    elif by == "month":
        date = date.replace(day=1)
    return date.isoformat()


async def totals(
    services: Services, project_id: str, by: str, query: RecordQuery | None = None
) -> list[Total]:
    if by not in GROUPS:
        raise InputError(Problem("groupBy", f"one of {', '.join(GROUPS)}"))
    if query is not None:
        check_references(query)
    rows = await _sums(services, project_id, GROUPS[by], query or RecordQuery())
    if by in ("day", "week", "month"):
        return _rolled([(_period(k, by), c, n, amount) for k, c, n, amount in rows])
    if by == "goalType":
        goal_ids = [str(k) for k, *_ in rows if k is not None]
        goals = await services.store.revenue.records_by_ids(Goal, project_id, goal_ids) if goal_ids else []
        type_of = {g.id: g.goal_type_id for g in goals}
        return _rolled([(type_of.get(str(k)) if k is not None else None, c, n, a) for k, c, n, a in rows])
    return [Total(None if k is None else str(k), c, n, amount) for k, c, n, amount in rows]


async def revenue_of(
    services: Services, project_id: str, field: str, ids: Sequence[str]
) -> dict[str, list[Total]]:
    """All-time revenue by currency of each agent, customer or session (field: agent_id, customer_id,
    session_id): a constant number of store calls however many ids (the DataLoaders' batches)."""
    group = GroupBy(Ref(field))
    rows = await _sums(services, project_id, group, RecordQuery({field: tuple(dict.fromkeys(ids))}))
    out: dict[str, list[Total]] = defaultdict(list)
    for k, c, n, amount in rows:
        out[str(k)].append(Total(str(k), c, n, amount))
    return out


async def agent_costs(
    services: Services, project_id: str, agent_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, int]:
    """LLM cost (nanos) of each agent's traces started in [start, end): one engine query per 100 agents."""
    out: dict[str, int] = {}
    wanted = list(dict.fromkeys(agent_ids))
    for first in range(0, len(wanted), IN_LIMIT):
        chunk = tuple(wanted[first : first + IN_LIMIT])
        rows = await engine.aggregate(services, AnalyticsQuery(
            project_id, start, end, source="sessions", filters=(Filter(Ref("agent_id"), "in", chunk),),
            group_by=(GroupBy(Ref("agent_id")),), metrics=(Metric("sum", Ref("cost_nanos")),), limit=IN_LIMIT,
        ))
        out.update((str(r.keys[0]), int(r.values[0] or 0)) for r in rows)
    return out


async def agent_earnings(
    services: Services, project_id: str, agent_ids: Sequence[str], since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Earnings]:
    start, end = default_range(since, until)
    wanted = tuple(dict.fromkeys(agent_ids))
    revenue = await _sums(services, project_id, GROUPS["agent"], RecordQuery({"agent_id": wanted, "currency": USD},
                                                                            start, end))
    earned = {str(k): amount for k, _, _, amount in revenue}
    costs = await agent_costs(services, project_id, wanted, start, end)
    return {a: Earnings(earned.get(a, 0), costs.get(a, 0)) for a in wanted}


async def session_revenue(services: Services, project_id: str, session_ids: Sequence[str]) -> dict[str, list[Total]]:
    """Each session's revenue by currency, all time."""
    return await revenue_of(services, project_id, "session_id", session_ids)


def usd(found: Sequence[Total]) -> int:
    return sum(t.amount_nanos for t in found if t.currency == USD)


__all__ = [
    "Earnings", "Total", "agent_costs", "agent_earnings", "default_range", "revenue_of", "session_revenue", "totals",
]
