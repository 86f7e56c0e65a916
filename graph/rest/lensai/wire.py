"""Seed 000's wire format: camelCase JSON, decimal strings for money, `{code, message, path, status,
timestamp}` errors. Request bodies are closed (an unknown field is a 400) and strictly typed (an
amount sent as a JSON number is refused: it may be a float)."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, with_config
from pydantic.alias_generators import to_camel
from typing_extensions import TypedDict

from graph.rest.http import Handler, json_response
from resolvers.core.errors import Problem
from resolvers.revenue.attribution import Earnings, Total
from resolvers.revenue.ids import INVALID_ID
from resolvers.revenue.money import format_amount
from storage.models import Agent, Customer, Goal, GoalType, Outcome, Revenue
from storage.timeutil import iso_ms, now_ms

CLOSED = ConfigDict(extra="forbid")
# "GET /v1/revenues/x": the error body's path, kept by the family's outermost middleware for the renderer.
_REQUEST_LINE: contextvars.ContextVar[str] = contextvars.ContextVar("lensai_request_line", default="")


@web.middleware
async def request_line(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = _REQUEST_LINE.set(f"{request.method} {request.path}")
    try:
        return await handler(request)
    finally:
        _REQUEST_LINE.reset(token)


@with_config(CLOSED)
class ErrorOut(TypedDict):
    code: str
    message: str
    path: str
    status: int
    timestamp: str


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    code = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if problems and problems[0].message == INVALID_ID:
        code = message = INVALID_ID  # the seed's documented example, word for word
    body: ErrorOut = {"code": code, "message": message, "path": _REQUEST_LINE.get(), "status": status,
                      "timestamp": iso_ms(now_ms())}
    return json_response(body, status)


# -- requests ------------------------------------------------------------------------------------


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, strict=True)

    def given(self) -> dict[str, Any]:
        """The fields the request named (snake_case), with their values: what a create or change sets."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class RevenueIn(In):
    """A revenue: `amount` (a decimal string) is required on create; every other field is optional."""

    amount: str | None = None
    currency: str | None = None  # ISO 4217, USD when not given
    agent_id: str | None = None
    customer_id: str | None = None
    description: str | None = None
    event_id: str | None = None
    goal_id: str | None = None
    source: str | None = None
    key: str | None = None
    recorded_at: datetime | None = None


class OutcomeIn(In):
    name: str | None = None
    value: str | None = None
    currency: str | None = None
    agent_id: str | None = None
    customer_id: str | None = None
    event_id: str | None = None
    goal_id: str | None = None
    key: str | None = None
    recorded_at: datetime | None = None


class CustomerIn(In):
    key: str | None = None
    name: str | None = None
    email: str | None = None
    metadata: dict[str, Any] | None = None


class GoalTypeIn(In):
    name: str | None = None
    description: str | None = None


class GoalIn(In):
    name: str | None = None
    goal_type_id: str | None = None
    agent_id: str | None = None
    description: str | None = None


# -- answers -------------------------------------------------------------------------------------


@with_config(CLOSED)
class RevenueOut(TypedDict):
    """Exactly the seed's revenue fields."""

    agentId: str | None
    amount: str
    createdAt: str
    customerId: str | None
    description: str | None
    eventId: str | None
    goalId: str | None
    id: str
    key: str
    recordedAt: str
    source: str
    updatedAt: str


@with_config(CLOSED)
class OutcomeOut(TypedDict):
    id: str
    key: str
    name: str
    value: str | None
    currency: str
    agentId: str | None
    customerId: str | None
    eventId: str | None
    goalId: str | None
    recordedAt: str
    createdAt: str
    updatedAt: str


@with_config(CLOSED)
class CustomerOut(TypedDict):
    id: str
    key: str | None
    name: str | None
    email: str | None
    metadata: dict[str, Any]
    createdAt: str
    updatedAt: str


@with_config(CLOSED)
class GoalTypeOut(TypedDict):
    id: str
    name: str
    description: str | None
    createdAt: str
    updatedAt: str


@with_config(CLOSED)
class GoalOut(TypedDict):
    id: str
    name: str
    goalTypeId: str | None
    agentId: str | None
    description: str | None
    completions: int  # outcomes recorded against the goal
    createdAt: str
    updatedAt: str


@with_config(CLOSED)
class AgentOut(TypedDict):
    id: str
    name: str | None
    firstSeen: str
    lastSeen: str


@with_config(CLOSED)
class TotalOut(TypedDict):
    key: str | None
    currency: str
    count: int
    amount: str


# "from" is a Python keyword: the functional form names the field as the wire does.
AttributionOut = TypedDict(
    "AttributionOut", {"groupBy": str, "from": str | None, "to": str | None, "rows": list[TotalOut]})
AttributionOut.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]


@with_config(CLOSED)
class RoiOut(TypedDict):
    agentId: str
    currency: str
    revenue: str
    cost: str
    net: str
    roi: str | None  # net / cost, a decimal string; null without cost


def page_of(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"data": items, "total": total, "limit": limit, "offset": offset}


def revenue_json(r: Revenue) -> RevenueOut:
    return {
        "agentId": r.agent_id, "amount": format_amount(r.amount_nanos), "createdAt": iso_ms(r.created_at),
        "customerId": r.customer_id, "description": r.description, "eventId": r.event_id, "goalId": r.goal_id,
        "id": r.id, "key": r.key, "recordedAt": iso_ms(r.recorded_at), "source": r.source,
        "updatedAt": iso_ms(r.updated_at),
    }


def outcome_json(o: Outcome) -> OutcomeOut:
    return {
        "id": o.id, "key": o.key, "name": o.name,
        "value": None if o.value_nanos is None else format_amount(o.value_nanos), "currency": o.currency,
        "agentId": o.agent_id, "customerId": o.customer_id, "eventId": o.event_id, "goalId": o.goal_id,
        "recordedAt": iso_ms(o.recorded_at), "createdAt": iso_ms(o.created_at), "updatedAt": iso_ms(o.updated_at),
    }


def customer_json(c: Customer) -> CustomerOut:
    return {"id": c.id, "key": c.key, "name": c.name, "email": c.email, "metadata": c.metadata,
            "createdAt": iso_ms(c.created_at), "updatedAt": iso_ms(c.updated_at)}


def goal_type_json(t: GoalType) -> GoalTypeOut:
    return {"id": t.id, "name": t.name, "description": t.description, "createdAt": iso_ms(t.created_at),
            "updatedAt": iso_ms(t.updated_at)}


def goal_json(g: Goal, completions: int = 0) -> GoalOut:
    return {"id": g.id, "name": g.name, "goalTypeId": g.goal_type_id, "agentId": g.agent_id,
            "description": g.description, "completions": completions, "createdAt": iso_ms(g.created_at),
            "updatedAt": iso_ms(g.updated_at)}


def agent_json(a: Agent) -> AgentOut:
    return {"id": a.id, "name": a.name, "firstSeen": iso_ms(a.first_seen), "lastSeen": iso_ms(a.last_seen)}


def total_json(t: Total) -> TotalOut:
    return {"key": t.key, "currency": t.currency, "count": t.count, "amount": format_amount(t.amount_nanos)}


def roi_json(agent_id: str, e: Earnings) -> RoiOut:
    roi = e.roi
    return {"agentId": agent_id, "currency": "USD", "revenue": format_amount(e.revenue_nanos),
            "cost": format_amount(e.cost_nanos), "net": format_amount(e.net_nanos),
            "roi": None if roi is None else str(roi.normalize() if roi else 0)}
