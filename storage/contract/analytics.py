"""Analytics: aggregate queries and the step rows funnels walk, per project, on either backend."""

from __future__ import annotations

from typing import Protocol

from storage.models.analytics import AnalyticsQuery, FirstStepGroup, Row, StepQuery, StepRow


class AnalyticsStore(Protocol):
    async def aggregate(self, query: AnalyticsQuery) -> list[Row]:
        """Groups and metrics as storage/models/analytics.py defines them; at most query.limit rows,
        in query.order_by order. Raises ValueError for a query the backend cannot compile
        (the engine validates first, so that is a bug, not bad input)."""
        ...

    async def steps(self, query: StepQuery) -> list[StepRow]:
        """Events matching any step, ordered by actor then time then commit position."""
        ...

    async def first_step_conversions(self, query: StepQuery) -> list[FirstStepGroup]:
        """A two-step query (an experiment's exposure, then its goal) counted without returning its rows:
        exactly storage.models.analytics.first_step_groups over steps(query), whatever query.limit."""
        ...
