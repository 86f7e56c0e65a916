"""Schema assembly: root types merged from the domain modules, limits on."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graph.errors import ErrorCodes, MaskInternalErrors, with_code
from graph.ingest import IngestMutation
from graph.live import LiveSubscription
from graph.parsing import QueryLengthLimiter
from graph.projects import ProjectMutation, ProjectQuery
from graph.query_limits import Limits
from graph.settings import Settings
from graph.traces import TraceQuery
from graph.validation import LimitedValidation

Query = merge_types("Query", (TraceQuery, ProjectQuery))
Mutation = merge_types("Mutation", (IngestMutation, ProjectMutation))
Subscription = merge_types("Subscription", (LiveSubscription,))


class LensGraphSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are answered, not logged; with_code logs internal errors once.
        for error in errors:
            with_code(error)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    limits = Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_cost=settings.max_query_cost,
        max_fields=settings.max_query_fields,
    )
    return LensGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Factories, not instances: extensions keep per-operation state. Length is
        # limited before parsing (graph/parsing.py), tokens while parsing, and our
        # limits run before validation (graph/validation.py).
        extensions=[
            MaskInternalErrors,
            ErrorCodes,
            lambda: QueryLengthLimiter(max_length=settings.max_query_length),
            lambda: ParserCache(maxsize=512),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: LimitedValidation(limits, maxsize=512),
        ],
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
