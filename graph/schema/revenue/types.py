"""Revenue's GraphQL types: Revenue, Customer, Goal, GoalType, Outcome, exact money totals and earnings.

Amounts are decimal strings (exact; nanos in the store). Every nested field goes through a DataLoader
(graph/schema/loaders.py). Agent and Session live in the traces domain; they are named lazily here,
as traces names these types to add Agent.revenue, Agent.roi and Session.revenue.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.schema.analytics.money import MoneyTotal
from graph.schema.context import Context
from resolvers.revenue.money import format_amount
from storage import models

if TYPE_CHECKING:
    from graph.schema.traces.types import Agent, Session

TRACES = "graph.schema.traces.types"


async def _agent(info: Info[Context, None], agent_id: str | None) -> Any:
    if agent_id is None:
        return None
    from graph.schema.traces.types import Agent as AgentType  # lazy: traces imports this module

    doc = await info.context.loaders.agent.load(agent_id)
    return None if doc is None else AgentType(doc=doc)


@strawberry.type(description="Money attributed to an agent, a goal, a customer and an event (and its session).")
class Revenue:
    doc: strawberry.Private[models.Revenue]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def key(self) -> str:
        return self.doc.key

    @strawberry.field(description="Exact decimal string.")
    def amount(self) -> str:
        return format_amount(self.doc.amount_nanos)

    @strawberry.field(description="ISO 4217.")
    def currency(self) -> str:
        return self.doc.currency

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description

    @strawberry.field
    def source(self) -> str:
        return self.doc.source

    @strawberry.field
    def recorded_at(self) -> datetime:
        return self.doc.recorded_at

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.doc.updated_at

    @strawberry.field
    def agent_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.agent_id) if self.doc.agent_id else None

    @strawberry.field
    def event_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.doc.event_id) if self.doc.event_id else None

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Annotated[Agent, strawberry.lazy(TRACES)] | None:
        return cast("Agent | None", await _agent(info, self.doc.agent_id))

    @strawberry.field(description="The session (trace) of the revenue's event.")
    async def session(self, info: Info[Context, None]) -> Annotated[Session, strawberry.lazy(TRACES)] | None:
        if self.doc.session_id is None:
            return None
        from graph.schema.traces.types import Session as SessionType

        doc = await info.context.loaders.session.load(self.doc.session_id)
        return None if doc is None else SessionType.of(doc)

    @strawberry.field
    async def customer(self, info: Info[Context, None]) -> Customer | None:
        if self.doc.customer_id is None:
            return None
        doc = await info.context.loaders.customer.load(self.doc.customer_id)
        return None if doc is None else Customer(doc=doc)

    @strawberry.field
    async def goal(self, info: Info[Context, None]) -> Goal | None:
        if self.doc.goal_id is None:
            return None
        doc = await info.context.loaders.goal.load(self.doc.goal_id)
        return None if doc is None else Goal(doc=doc)


@strawberry.type
class Customer:
    doc: strawberry.Private[models.Customer]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def key(self) -> str | None:
        return self.doc.key

    @strawberry.field
    def name(self) -> str | None:
        return self.doc.name

    @strawberry.field
    def email(self) -> str | None:
        return self.doc.email

    @strawberry.field
    def metadata(self) -> JSON:
        return cast(JSON, self.doc.metadata)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field(description="This customer's revenue, one total per currency.")
    async def revenue(self, info: Info[Context, None]) -> list[MoneyTotal]:
        return [MoneyTotal.of(t) for t in await info.context.loaders.customer_revenue.load(self.doc.id)]

    @strawberry.field(description="This customer's revenues, newest first.")
    async def revenues(self, info: Info[Context, None], first: int = 50, offset: int = 0) -> RevenuePage:
        from graph.schema.revenue.fields import customer_revenue_page

        return await customer_revenue_page(info, self.doc.id, first, offset)


@strawberry.type
class GoalType:
    doc: strawberry.Private[models.GoalType]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description


@strawberry.type
class Goal:
    doc: strawberry.Private[models.Goal]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description

    @strawberry.field
    async def goal_type(self, info: Info[Context, None]) -> GoalType | None:
        if self.doc.goal_type_id is None:
            return None
        doc = await info.context.loaders.goal_type.load(self.doc.goal_type_id)
        return None if doc is None else GoalType(doc=doc)

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Annotated[Agent, strawberry.lazy(TRACES)] | None:
        return cast("Agent | None", await _agent(info, self.doc.agent_id))

    @strawberry.field(description="Outcomes recorded against this goal.")
    async def completions(self, info: Info[Context, None]) -> int:
        return await info.context.loaders.goal_completions.load(self.doc.id)


@strawberry.type
class Outcome:
    doc: strawberry.Private[models.Outcome]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field(description="Exact decimal string, if the outcome has a value.")
    def value(self) -> str | None:
        return None if self.doc.value_nanos is None else format_amount(self.doc.value_nanos)

    @strawberry.field
    def currency(self) -> str:
        return self.doc.currency

    @strawberry.field
    def recorded_at(self) -> datetime:
        return self.doc.recorded_at

    @strawberry.field
    async def goal(self, info: Info[Context, None]) -> Goal | None:
        if self.doc.goal_id is None:
            return None
        doc = await info.context.loaders.goal.load(self.doc.goal_id)
        return None if doc is None else Goal(doc=doc)

    @strawberry.field
    async def agent(self, info: Info[Context, None]) -> Annotated[Agent, strawberry.lazy(TRACES)] | None:
        return cast("Agent | None", await _agent(info, self.doc.agent_id))


@strawberry.type(description="One page of revenues, newest first (limit/offset, as the REST API pages).")
class RevenuePage:
    nodes: list[Revenue]
    total_count: int
    has_next_page: bool
