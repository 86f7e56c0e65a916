"""Schema assembly: root types merged from the domain modules, limits on."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from graph.schema.cost import QueryCostLimiter
from graph.schema.errors import ErrorCodes, MaskInternalErrors, log_unavailable, with_code
from graph.schema.traces.mutations import IngestMutation
from graph.schema.live.subscriptions import LiveSubscription
from graph.schema.projects.fields import ProjectMutation, ProjectQuery
from graph.app.settings import Settings
from graph.schema.traces.queries import TraceQuery

Query = merge_types("Query", (TraceQuery, ProjectQuery))
Mutation = merge_types("Mutation", (IngestMutation, ProjectMutation))
Subscription = merge_types("Subscription", (LiveSubscription,))


class LensGraphSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are answered, not logged; with_code logs internal errors once.
        for error in errors:
            with_code(error)
            log_unavailable(error)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return LensGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Factories, not instances: extensions keep per-operation state.
        extensions=[
            MaskInternalErrors,
            ErrorCodes,
            lambda: ParserCache(maxsize=512),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
            lambda: ValidationCache(maxsize=512),
            lambda: QueryCostLimiter(max_cost=settings.max_query_cost),
        ],
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
