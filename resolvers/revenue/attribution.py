"""Revenue attribution: totals by agent, goal, goal type, customer, source, session and period, and what
each agent (or session) earns against what its traces cost.

Sums are exact integers from end to end: the stores add integer nanos, roll-ups here add Python ints, and
ROI is a Decimal. Amounts in different currencies are never added together: every total carries its
currency, and net and ROI compare USD revenue with the LLM cost, which is in USD.

An agent's cost is the cost of its traces (sessions) started in the range, through the analytics engine;
a session's is its own cost_nanos. Each function costs a constant number of store calls however many
agents or sessions it is asked about (the GraphQL DataLoaders rely on it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from resolvers.analytics import engine
from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from storage.contract import RecordQuery, RevenueTotal
from storage.models.analytics import AnalyticsQuery, Filter, GroupBy, Metric, Ref
from storage.models.revenue import DAY_MS, Goal
from storage.timeutil import EPOCH, now_ms

USD = "USD"
# What a report may group by (the wire's names) and the store's group for each; week, month and goal
# type are rolled up here from days and goals.
GROUPS = {
    "agent": "agent_id", "goal": "goal_id", "customer": "customer_id", "source": "source",
    "session": "session_id", "currency": "currency", "day": "day", "week": "day", "month": "day",
    "goalType": "goal_id",
}
IN_LIMIT = 100  # values per engine "in" filter
ROI_PLACES = Decimal("0.000001")


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


def _period(day: int, by: str) -> str:
    date = (EPOCH + timedelta(milliseconds=day * DAY_MS)).date()
    if by == "week":  # weeks start on Monday, as the analytics engine's
        date -= timedelta(days=date.weekday())
    elif by == "month":
        date = date.replace(day=1)
    return date.isoformat()


def _rolled(rows: Sequence[tuple[str | None, RevenueTotal]]) -> list[Total]:
    sums: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, row in rows:
        acc = sums[(key, row.currency)]
        acc[0] += row.count
        acc[1] += row.amount_nanos
    ordered = sorted(sums.items(), key=lambda kv: (kv[0][0] is not None, kv[0][0] or "", kv[0][1]))
    return [Total(k, c, n, amount) for (k, c), (n, amount) in ordered]


async def totals(
    services: Services, project_id: str, by: str, query: RecordQuery | None = None
) -> list[Total]:
    if by not in GROUPS:
        raise InputError(Problem("groupBy", f"one of {', '.join(GROUPS)}"))
    rows = await services.store.revenue.revenue_totals(project_id, GROUPS[by], query or RecordQuery())
    if by in ("day", "week", "month"):
        return _rolled([(_period(int(r.key or 0), by), r) for r in rows])
    if by == "goalType":
        goal_ids = [str(r.key) for r in rows if r.key is not None]
        goals = await services.store.revenue.records_by_ids(Goal, project_id, goal_ids) if goal_ids else []
        type_of = {g.id: g.goal_type_id for g in goals}
        return _rolled([(type_of.get(str(r.key)) if r.key is not None else None, r) for r in rows])
    return [Total(None if r.key is None else str(r.key), r.currency, r.count, r.amount_nanos) for r in rows]


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
    revenue = await services.store.revenue.revenue_totals(
        project_id, "agent_id", RecordQuery({"agent_id": wanted, "currency": USD}, start, end))
    earned = {str(r.key): r.amount_nanos for r in revenue}
    costs = await agent_costs(services, project_id, wanted, start, end)
    return {a: Earnings(earned.get(a, 0), costs.get(a, 0)) for a in wanted}


async def session_revenue(services: Services, project_id: str, session_ids: Sequence[str]) -> dict[str, list[Total]]:
    """Each session's revenue by currency, all time: one store call."""
    rows = await services.store.revenue.revenue_totals(
        project_id, "session_id", RecordQuery({"session_id": tuple(dict.fromkeys(session_ids))}))
    out: dict[str, list[Total]] = defaultdict(list)
    for r in rows:
        out[str(r.key)].append(Total(str(r.key), r.currency, r.count, r.amount_nanos))
    return out


def usd(found: Sequence[Total]) -> int:
    return sum(t.amount_nanos for t in found if t.currency == USD)


__all__ = ["Earnings", "Total", "agent_costs", "agent_earnings", "default_range", "session_revenue", "totals"]
