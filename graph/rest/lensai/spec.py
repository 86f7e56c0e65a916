"""Seed 000's operations: each route once, with its document and the example requests the OpenAPI test sends."""

from __future__ import annotations

import types
from typing import Annotated, Any, get_args

from pydantic import BaseModel, Field, create_model
from typing_extensions import TypedDict

from graph.rest.lensai import handlers
from graph.rest.lensai.handlers import MAX_LIMIT, crud
from graph.rest.lensai.wire import (
    CLOSED,
    AgentOut,
    AttributionOut,
    CustomerIn,
    CustomerOut,
    ErrorOut,
    GoalIn,
    GoalOut,
    GoalTypeIn,
    GoalTypeOut,
    OutcomeIn,
    OutcomeOut,
    RevenueIn,
    RevenueOut,
    RoiOut,
)
from graph.rest.openapi import Example, Offset, Operation, Param, Spec
from resolvers.core.bounds import Instant, ProjectRef
from resolvers.core.idempotency import KeyHeader
from resolvers.revenue.ids import ShortId
from resolvers.revenue.service import REQUIRED
from storage.models import Customer, Goal, GoalType, Outcome, Revenue

Limit = Annotated[int, Field(ge=1)]
PROJECT = Param("project", "query", "The project (id or name); by default the key's own, an account's oldest, or "
                                    "the admin's default project", ProjectRef, names_project=True)
PAGE = (
    Param("limit", "query", f"Page size (default 100, at most {MAX_LIMIT})", Limit, default=100),
    Param("offset", "query", "Items to skip", Offset, default=0),
)
RANGE = (Param("from", "query", "recordedAt from this instant (ISO 8601)", Instant),
         Param("to", "query", "recordedAt before this instant (ISO 8601)", Instant))
ID = Param("id", "path", "The record's id (22 characters of base 57)", ShortId)
KEY = Param("Idempotency-Key", "header", "A repeat with this key returns the first answer and creates nothing",
            KeyHeader)
MISSING = "5mczBhCjbBgoWwf6Vbp5sC"  # a well-formed id of nothing
INVALID = "5mczBhCjbBgoWwf6Vbp5s!"  # the seed's own Invalid ID example


def _list_of(name: str, item: Any) -> Any:
    """One page of a kind: a TypedDict made per kind, so the document names each list's items."""
    page: Any = TypedDict(name, {"data": list[item], "total": int, "limit": int, "offset": int})  # type: ignore[misc]
    setattr(page, "__pydantic_config__", CLOSED)  # noqa: B010  (a class mypy cannot see through)
    return page


def _create_body(body: type[BaseModel], required: tuple[str, ...]) -> type[BaseModel]:
    """The create's body as documented: the fields a create must name are required there. The handler reads
    the shared body, whose fields are all optional since an update names any of them, and the service checks
    what a create needs, so a missing field gets seed 000's "is required"."""
    if not required:
        return body
    fields: dict[str, Any] = {}
    for name in required:
        annotation = body.model_fields[name].annotation
        present = [a for a in get_args(annotation) if a is not types.NoneType]
        fields[name] = (present[0] if len(present) == 1 else annotation, ...)
    return create_model(body.__name__.removesuffix("In") + "CreateIn", __base__=body, **fields)


def _family(kind: type, slug: str, path: str, body: Any, out: Any, good: dict[str, Any], bad: dict[str, Any],
            filters: tuple[Param, ...] = ()) -> tuple[Operation, ...]:
    h = crud(kind, slug)
    title = slug.replace("_", " ")
    listed = _list_of(f"{kind.__name__}ListOut", out)
    missing = {404: f"No such {title} in this project"}
    return (
        Operation("POST", path, h["create"], f"Create a {title}", {201: (out, f"The {title}")},
                  body=_create_body(body, REQUIRED[kind]),
                  params=(PROJECT, KEY), errors={**missing, 409: "The Idempotency-Key was used with another request",
                                                 415: "The body is not application/json"},
                  examples=(Example("created", 201, body=good), Example("bad", 400, body=bad))),
        Operation("GET", path, h["list"], f"List {title}s, newest first", {200: (listed, "One page and the total")},
                  params=(PROJECT, *filters, *PAGE),
                  examples=(Example("all", 200), Example("bad_limit", 400, query={"limit": "many"}),
                            Example("unknown_project", 404, query={"project": "no-such-project"}))),
        Operation("GET", path + "/{id}", h["retrieve"], f"Retrieve a {title}", {200: (out, f"The {title}")},
                  params=(PROJECT, ID), errors=missing,
                  examples=(Example("missing", 404, path={"id": MISSING}),
                            Example("invalid_id", 400, path={"id": INVALID}))),
        Operation("PATCH", path + "/{id}", h["update"], f"Update a {title}", {200: (out, f"The changed {title}")},
                  body=body, params=(PROJECT, ID), errors={**missing, 415: "The body is not application/json"},
                  examples=(Example("missing", 404, path={"id": MISSING}, body=good),)),
        Operation("DELETE", path + "/{id}", h["delete"], f"Delete a {title}", {204: (None, "Deleted")},
                  params=(PROJECT, ID), errors=missing,
                  examples=(Example("missing", 404, path={"id": MISSING}),)),
    )


REF_FILTERS = (Param("agentId", "query", "Only this agent's"), Param("goalId", "query", "Only this goal's", ShortId),
               Param("customerId", "query", "Only this customer's", ShortId),
               Param("sessionId", "query", "Only this trace's"))

OPERATIONS = (
    Operation("GET", "/agents", handlers.list_agents, "List agents, least recently seen first",
              {200: (_list_of("AgentListOut", AgentOut), "One page and the total")}, params=(PROJECT, *PAGE),
              examples=(Example("all", 200),)),
    Operation("GET", "/agents/{id}", handlers.retrieve_agent, "Retrieve an agent", {200: (AgentOut, "The agent")},
              params=(PROJECT, Param("id", "path", "The agent's id")), errors={404: "No such agent in this project"},
              examples=(Example("missing", 404, path={"id": "no-such-agent"}),)),
    Operation("GET", "/agents/{id}/roi", handlers.agent_roi, "An agent's USD revenue against its LLM cost",
              {200: (RoiOut, "Revenue, cost (its traces'), net and ROI (net / cost)")},
              params=(PROJECT, Param("id", "path", "The agent's id"), *RANGE), errors={404: "No such agent"},
              examples=(Example("missing", 404, path={"id": "no-such-agent"}),)),
    # Before /revenues/{id}: a specific route wins over a parameterised one.
    Operation("GET", "/revenues/attribution", handlers.revenue_attribution, "Revenue totals by a dimension",
              {200: (AttributionOut, "One row per group and currency, amounts exact")},
              params=(PROJECT, Param("groupBy", "query", "agent (default), goal, goalType, customer, source, session, "
                                                         "currency, day, week or month"), *RANGE, *REF_FILTERS),
              examples=(Example("by_agent", 200, query={"groupBy": "agent"}),
                        Example("bad_group", 400, query={"groupBy": "planet"}))),
    *_family(Revenue, "revenue", "/revenues", RevenueIn, RevenueOut, {"amount": "100"}, {"amount": "-5"},
             (*REF_FILTERS, Param("source", "query", "Only this source"), *RANGE)),
    *_family(Outcome, "outcome", "/outcomes", OutcomeIn, OutcomeOut, {"name": "deal closed", "value": "250.50"},
             {"name": "x", "value": 3}, (*REF_FILTERS, *RANGE)),
    *_family(Customer, "customer", "/customers", CustomerIn, CustomerOut, {"name": "Ada", "key": "cus_1"},
             {"name": "Ada", "planet": "Mars"}, (Param("key", "query", "Only this key"),)),
    *_family(GoalType, "goal_type", "/goal-types", GoalTypeIn, GoalTypeOut, {"name": "Sales"}, {"name": ""}),
    *_family(Goal, "goal", "/goals", GoalIn, GoalOut, {"name": "Close deals"}, {"name": "x", "goalTypeId": 7},
             (Param("goalTypeId", "query", "Only goals of this type", ShortId),
              Param("agentId", "query", "Only this agent's"))),
)

SPEC = Spec(
    slug="lensai",
    title="LensAI API (seed 000)",
    version="1.0.0",
    description=(handlers.__doc__ or "").strip(),
    error=ErrorOut,
    schemes={"Bearer": {"type": "http", "scheme": "bearer"}},
    default_security=("Bearer",),
    operations=OPERATIONS,
)
