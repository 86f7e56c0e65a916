"""Revenue's queries and mutations: the same functions as seed 000's REST routes (resolvers/revenue),
Idempotency-Key included (the header on the GraphQL request makes a create happen once)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.schema.analytics.money import MoneyTotal
from graph.schema.context import Context
from graph.schema.errors import bad_input
from graph.schema.revenue.types import Customer, Goal, GoalType, Outcome, Revenue, RevenuePage
from resolvers.core.idempotency import HEADER, fingerprint
from resolvers.revenue import attribution, service
from resolvers.revenue.service import Keyed
from storage import models
from storage.contract import Page, RecordQuery
from storage.models.revenue import RevenueRecord

From = Annotated[datetime | None, strawberry.argument(name="from")]


def _page(info: Info[Context, None], first: int, offset: int) -> Page:
    if not 0 <= first <= info.context.max_page:
        raise bad_input("first", f"must be between 0 and {info.context.max_page}")
    if offset < 0:
        raise bad_input("offset", "must be 0 or more")
    return Page(limit=first, offset=offset)


async def revenue_page(info: Info[Context, None], where: dict[str, Any], first: int, offset: int,
                       since: datetime | None = None, until: datetime | None = None) -> RevenuePage:
    found = await service.find(info.context.services, info.context.project_id, models.Revenue,
                               RecordQuery(where, since, until), _page(info, first, offset))
    return RevenuePage(nodes=[Revenue(doc=r) for r in found.items], total_count=found.total,
                       has_next_page=found.has_more)


async def customer_revenue_page(info: Info[Context, None], customer_id: str, first: int, offset: int) -> RevenuePage:
    """revenue_page for one customer, through a DataLoader: customers asking for the same page shape share one
    store call."""
    page = _page(info, first, offset)
    found = await info.context.loaders.customer_revenues.load((customer_id, page.limit, page.offset))
    return RevenuePage(nodes=[Revenue(doc=r) for r in found.items], total_count=found.total,
                       has_next_page=found.has_more)


def _given(data: Any) -> dict[str, Any]:
    """An input's fields the client set (null included), snake_case: what a create or change sets."""
    return {name: value for name, value in vars(data).items() if value is not strawberry.UNSET}


@strawberry.input
class RevenueInput:
    amount: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    agent_id: str | None = strawberry.UNSET
    customer_id: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    event_id: str | None = strawberry.UNSET
    goal_id: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    key: str | None = strawberry.UNSET
    recorded_at: datetime | None = strawberry.UNSET


@strawberry.input
class OutcomeInput:
    name: str | None = strawberry.UNSET
    value: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    agent_id: str | None = strawberry.UNSET
    customer_id: str | None = strawberry.UNSET
    event_id: str | None = strawberry.UNSET
    goal_id: str | None = strawberry.UNSET
    key: str | None = strawberry.UNSET
    recorded_at: datetime | None = strawberry.UNSET


@strawberry.input
class CustomerInput:
    key: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class GoalTypeInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class GoalInput:
    name: str | None = strawberry.UNSET
    goal_type_id: str | None = strawberry.UNSET
    agent_id: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


async def _create(info: Info[Context, None], kind: type[RevenueRecord], operation: str, data: Any) -> Any:
    """The record created, once per Idempotency-Key: a repeat reads the first one's record back."""
    ctx, fields = info.context, _given(data)
    key = ctx.request.headers.get(HEADER) if ctx.request is not None else None
    keyed = None
    if key is not None:
        request = orjson.dumps(fields, default=str, option=orjson.OPT_SORT_KEYS)
        keyed = Keyed(key, fingerprint(operation.encode(), request),
                      lambda record: (200, orjson.dumps({"id": record.id}), "application/json"))
    created = await service.create(ctx.services, ctx.project_id, kind, fields, keyed)
    if created.record is not None:
        return created.record
    assert created.response is not None
    return await service.get(ctx.services, ctx.project_id, kind, orjson.loads(created.response.body)["id"])


@strawberry.type
class RevenueQuery:
    @strawberry.field(description="A revenue of the caller's project.")
    async def revenue(self, info: Info[Context, None], id: strawberry.ID) -> Revenue:
        return Revenue(doc=await service.get(info.context.services, info.context.project_id, models.Revenue, id))

    @strawberry.field(description="Revenues, newest first, filtered by agent, goal, customer or session.")
    async def revenues(
        self, info: Info[Context, None], first: int = 50, offset: int = 0, agent_id: str | None = None,
        goal_id: str | None = None, customer_id: str | None = None, session_id: str | None = None,
        from_: From = None, to: datetime | None = None,
    ) -> RevenuePage:
        where = {k: v for k, v in (("agent_id", agent_id), ("goal_id", goal_id), ("customer_id", customer_id),
                                   ("session_id", session_id)) if v is not None}
        return await revenue_page(info, where, first, offset, from_, to)

    @strawberry.field(description="Revenue totals by agent, goal, goalType, customer, source, session, currency, "
                                  "day, week or month; one row per group and currency, amounts exact.")
    async def revenue_attribution(
        self, info: Info[Context, None], group_by: str = "agent", from_: From = None, to: datetime | None = None,
        currency: str | None = None,
    ) -> list[MoneyTotal]:
        where = {"currency": currency} if currency else {}
        rows = await attribution.totals(info.context.services, info.context.project_id, group_by,
                                        RecordQuery(where, from_, to))
        return [MoneyTotal.of(t) for t in rows]

    @strawberry.field
    async def customers(self, info: Info[Context, None], first: int = 50, offset: int = 0) -> list[Customer]:
        found = await service.find(info.context.services, info.context.project_id, models.Customer, RecordQuery(),
                                   _page(info, first, offset))
        return [Customer(doc=c) for c in found.items]

    @strawberry.field
    async def customer(self, info: Info[Context, None], id: strawberry.ID) -> Customer:
        return Customer(doc=await service.get(info.context.services, info.context.project_id, models.Customer, id))

    @strawberry.field
    async def goals(self, info: Info[Context, None], first: int = 50, offset: int = 0) -> list[Goal]:
        found = await service.find(info.context.services, info.context.project_id, models.Goal, RecordQuery(),
                                   _page(info, first, offset))
        return [Goal(doc=g) for g in found.items]

    @strawberry.field
    async def goal_types(self, info: Info[Context, None], first: int = 50, offset: int = 0) -> list[GoalType]:
        found = await service.find(info.context.services, info.context.project_id, models.GoalType, RecordQuery(),
                                   _page(info, first, offset))
        return [GoalType(doc=t) for t in found.items]

    @strawberry.field
    async def outcomes(self, info: Info[Context, None], first: int = 50, offset: int = 0) -> list[Outcome]:
        found = await service.find(info.context.services, info.context.project_id, models.Outcome, RecordQuery(),
                                   _page(info, first, offset))
        return [Outcome(doc=o) for o in found.items]


@strawberry.type
class RevenueMutation:
    @strawberry.mutation(description="Record revenue (as POST /v1/revenues; Idempotency-Key makes it happen once).")
    async def create_revenue(self, info: Info[Context, None], input: RevenueInput) -> Revenue:
        return Revenue(doc=await _create(info, models.Revenue, "createRevenue", input))

    @strawberry.mutation(description="Change the fields given (as PATCH /v1/revenues/{id}).")
    async def update_revenue(self, info: Info[Context, None], id: strawberry.ID, input: RevenueInput) -> Revenue:
        ctx = info.context
        return Revenue(doc=await service.update(ctx.services, ctx.project_id, models.Revenue, id, _given(input)))

    @strawberry.mutation
    async def delete_revenue(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        await service.delete(info.context.services, info.context.project_id, models.Revenue, id)
        return True

    @strawberry.mutation
    async def create_outcome(self, info: Info[Context, None], input: OutcomeInput) -> Outcome:
        return Outcome(doc=await _create(info, models.Outcome, "createOutcome", input))

    @strawberry.mutation
    async def create_customer(self, info: Info[Context, None], input: CustomerInput) -> Customer:
        return Customer(doc=await _create(info, models.Customer, "createCustomer", input))

    @strawberry.mutation
    async def create_goal_type(self, info: Info[Context, None], input: GoalTypeInput) -> GoalType:
        return GoalType(doc=await _create(info, models.GoalType, "createGoalType", input))

    @strawberry.mutation
    async def create_goal(self, info: Info[Context, None], input: GoalInput) -> Goal:
        return Goal(doc=await _create(info, models.Goal, "createGoal", input))
