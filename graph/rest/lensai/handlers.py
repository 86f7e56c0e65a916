"""Seed 000, LensAI, under /v1: agents (list, retrieve), customers, goal types, goals, outcomes and
revenues (create, list, retrieve, update, delete), revenue attribution and each agent's ROI.

Authorization: Bearer with an account key (`lga_...`, every project of its account), a project
key (`lg_...`, its own project) or the admin key. `?project=` (an id or a name) picks the project;
without it an account key acts on its oldest project, a project key on its own, the admin on the
default project. Bodies are JSON (415 otherwise) with exactly the documented fields; lists take
`limit` (default 100, at most 1000) and `offset`. Every error is `{code, message, path, status,
timestamp}`. A create with an `Idempotency-Key` returns the first answer to a repeat and creates nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from graph.rest.http import json_response, query_int, query_time, read_body
from graph.rest.keys import PRINCIPAL, SERVICES
from graph.rest.lensai.wire import (
    AgentOut,
    AttributionOut,
    CustomerIn,
    CustomerOut,
    GoalIn,
    GoalOut,
    GoalTypeIn,
    GoalTypeOut,
    In,
    OutcomeIn,
    OutcomeOut,
    RevenueIn,
    RevenueOut,
    RoiOut,
    agent_json,
    customer_json,
    goal_json,
    goal_type_json,
    outcome_json,
    page_of,
    revenue_json,
    roi_json,
    total_json,
)
from resolvers.core.errors import InputError, NotFound, Problem, from_pydantic
from resolvers.core.idempotency import HEADER, fingerprint
from resolvers.projects.service import select_project
from resolvers.revenue import attribution, service
from resolvers.revenue.ids import check_agent_id, check_id
from resolvers.revenue.service import Keyed
from storage.contract import Page, RecordQuery
from storage.models import Customer, Goal, GoalType, Outcome, Revenue, RevenueRecord
from storage.models.revenue import KINDS

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
Handler = Callable[[web.Request], Awaitable[web.Response]]


async def project_id(request: web.Request) -> str:
    services = request.config_dict[SERVICES]
    return (await select_project(services, request[PRINCIPAL], request.query.get("project"))).id


def page(request: web.Request) -> Page:
    return Page(limit=query_int(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
                offset=query_int(request, "offset", 0))


async def json_body(request: web.Request) -> bytes:
    """The body of a JSON request; any other content type is 415, as the seed asks for JSON only."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="Content-Type must be application/json")
    body = await read_body(request)
    if not body:
        raise InputError(Problem("body", "is empty; send a JSON object"))
    return body


def parsed(model: type[In], body: bytes) -> dict[str, Any]:
    try:
        return model.model_validate_json(body).given()
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _named(handler: Handler, name: str) -> Handler:
    handler.__name__ = handler.__qualname__ = name  # the OpenAPI operation id
    return handler


async def _completions(request: web.Request, project: str, goals: list[Goal]) -> dict[str, int]:
    if not goals:
        return {}
    return await request.config_dict[SERVICES].store.revenue.outcome_counts(project, [g.id for g in goals])


async def _render(request: web.Request, project: str, records: list[Any]) -> list[Any]:
    """Records as the wire shows them (goals with their completions: one store call per page)."""
    if records and isinstance(records[0], Goal):
        done = await _completions(request, project, records)
        return [goal_json(g, done.get(g.id, 0)) for g in records]
    return [WIRE[type(r)](r) for r in records]


WIRE: dict[type[RevenueRecord], Callable[[Any], Any]] = {
    Revenue: revenue_json, Outcome: outcome_json, Customer: customer_json, GoalType: goal_type_json,
    Goal: goal_json,
}
MODELS: dict[type[RevenueRecord], type[In]] = {
    Revenue: RevenueIn, Outcome: OutcomeIn, Customer: CustomerIn, GoalType: GoalTypeIn, Goal: GoalIn,
}
# Query parameters a listing filters on: the wire's camelCase names of KINDS' fields.
FILTERS = {"agentId": "agent_id", "goalId": "goal_id", "customerId": "customer_id", "sessionId": "session_id",
           "eventId": "event_id", "goalTypeId": "goal_type_id", "source": "source", "currency": "currency",
           "key": "key", "email": "email", "name": "name"}


def crud(kind: type[RevenueRecord], slug: str) -> dict[str, Handler]:
    """Create, list, retrieve, update and delete for one kind of record."""
    model, wire = MODELS[kind], WIRE[kind]

    async def create(request: web.Request) -> web.Response:
        body = await json_body(request)
        project = await project_id(request)
        fields = parsed(model, body)
        key = request.headers.get(HEADER)
        keyed = None
        if key is not None:
            keyed = Keyed(key, fingerprint(b"POST", request.path.encode(), project.encode(), body),
                          lambda record: (201, orjson.dumps(wire(record)), "application/json"))
        created = await service.create(request.config_dict[SERVICES], project, kind, fields, keyed)
        if created.response is not None:
            stored = created.response
            headers = {"Idempotent-Replayed": "true"} if created.replayed else None
            return web.Response(body=stored.body, status=stored.status, content_type=stored.content_type,
                                headers=headers)
        assert created.record is not None
        return json_response(wire(created.record), 201)

    async def list_(request: web.Request) -> web.Response:
        project = await project_id(request)
        where = {FILTERS[k]: v for k, v in request.query.items() if k in FILTERS and FILTERS[k] in KINDS[kind]}
        query = RecordQuery(where, query_time(request, "from"), query_time(request, "to"))
        wanted = page(request)
        found = await service.find(request.config_dict[SERVICES], project, kind, query, wanted)
        return json_response(page_of(await _render(request, project, found.items), found.total, wanted.limit,
                                     wanted.offset))

    async def retrieve(request: web.Request) -> web.Response:
        project = await project_id(request)
        record = await service.get(request.config_dict[SERVICES], project, kind, request.match_info["id"])
        return json_response((await _render(request, project, [record]))[0])

    async def update(request: web.Request) -> web.Response:
        check_id(request.match_info["id"])  # the path before the body, as a reader checks them
        body = await json_body(request)
        project = await project_id(request)
        changed = await service.update(request.config_dict[SERVICES], project, kind, request.match_info["id"],
                                       parsed(model, body))
        return json_response((await _render(request, project, [changed]))[0])

    async def delete(request: web.Request) -> web.Response:
        project = await project_id(request)
        await service.delete(request.config_dict[SERVICES], project, kind, request.match_info["id"])
        return web.Response(status=204)

    return {
        "create": _named(create, f"create_{slug}"), "list": _named(list_, f"list_{slug}s"),
        "retrieve": _named(retrieve, f"retrieve_{slug}"), "update": _named(update, f"update_{slug}"),
        "delete": _named(delete, f"delete_{slug}"),
    }


async def list_agents(request: web.Request) -> web.Response:
    project = await project_id(request)
    wanted = page(request)
    found = await request.config_dict[SERVICES].store.traces.find_agents(project, wanted)
    return json_response(page_of([agent_json(a) for a in found.items], found.total, wanted.limit, wanted.offset))


async def retrieve_agent(request: web.Request) -> web.Response:
    project = await project_id(request)
    agent_id = check_agent_id(request.match_info["id"])
    found = await request.config_dict[SERVICES].store.traces.agents_by_ids(project, [agent_id])
    if not found:
        raise NotFound("agent", agent_id)
    answer: AgentOut = agent_json(found[0])
    return json_response(answer)


async def agent_roi(request: web.Request) -> web.Response:
    project = await project_id(request)
    services = request.config_dict[SERVICES]
    agent_id = check_agent_id(request.match_info["id"])
    if not await services.store.traces.agents_by_ids(project, [agent_id]):
        raise NotFound("agent", agent_id)
    earned = await attribution.agent_earnings(services, project, [agent_id], query_time(request, "from"),
                                              query_time(request, "to"))
    answer: RoiOut = roi_json(agent_id, earned[agent_id])
    return json_response(answer)


async def revenue_attribution(request: web.Request) -> web.Response:
    project = await project_id(request)
    by = request.query.get("groupBy", "agent")
    since, until = query_time(request, "from"), query_time(request, "to")
    where = {FILTERS[k]: v for k, v in request.query.items() if k in FILTERS and FILTERS[k] in KINDS[Revenue]}
    rows = await attribution.totals(request.config_dict[SERVICES], project, by, RecordQuery(where, since, until))
    answer: AttributionOut = {
        "groupBy": by, "from": request.query.get("from") or None, "to": request.query.get("to") or None,
        "rows": [total_json(t) for t in rows],
    }
    return json_response(answer)


__all__ = ["CustomerOut", "GoalOut", "GoalTypeOut", "OutcomeOut", "RevenueOut", "crud"]
