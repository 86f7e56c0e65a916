"""Exact money aggregates the domains share: revenue totals per currency, and earnings against cost.

Here, beneath the domains, because traces (Agent.revenue, Agent.roi, Session.revenue) and revenue both
answer with them, and GraphQL domains may share only traces' types and analytics'.
"""

from __future__ import annotations

import strawberry

from resolvers.revenue.attribution import Earnings as EarningsDoc
from resolvers.revenue.attribution import Total
from resolvers.revenue.money import format_amount


@strawberry.type(description="Revenue in one currency: an exact decimal amount and how many records made it.")
class MoneyTotal:
    key: str | None = strawberry.field(description="The group (an id, a source, a period's first day); "
                                                   "null for revenue without one.")
    currency: str
    amount: str = strawberry.field(description="Exact decimal string.")
    count: int

    @classmethod
    def of(cls, t: Total) -> MoneyTotal:
        return cls(key=t.key, currency=t.currency, amount=format_amount(t.amount_nanos), count=t.count)


@strawberry.type(description="USD revenue against the LLM cost of the agent's traces: decimal strings.")
class Earnings:
    currency: str
    revenue: str
    cost: str
    net: str
    roi: str | None = strawberry.field(description="net / cost; null without cost.")

    @classmethod
    def of(cls, e: EarningsDoc) -> Earnings:
        roi = e.roi
        return cls(currency="USD", revenue=format_amount(e.revenue_nanos), cost=format_amount(e.cost_nanos),
                   net=format_amount(e.net_nanos), roi=None if roi is None else str(roi.normalize() if roi else 0))
