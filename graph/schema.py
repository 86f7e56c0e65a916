"""Schema assembly: root types merged from the domain modules, limits on."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graph.document_cache import DocumentCache
from graph.errors import ErrorCodes, MaskInternalErrors, with_code
from graph.ingest import IngestMutation
from graph.live import LiveSubscription
from graph.parsing import BoundedParsing
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


# Characters of query text whose documents are cached: the few distinct queries
# of a client app fit (the introspection query has 1,600), and the objects kept
# alive stay few enough for a full garbage collection to take milliseconds.
DOCUMENT_CACHE_LENGTH = 50_000


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    limits = Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_cost=settings.max_query_cost,
        max_fields=settings.max_query_fields,
    )
    cache = DocumentCache(max_length=DOCUMENT_CACHE_LENGTH)
    return LensGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Factories, not instances: extensions keep per-operation state. Every step
        # before execution is bounded: length before parsing and tokens while
        # parsing (graph/parsing.py), our limits before validation and validation's
        # own work (graph/validation.py), and the documents cached (graph/document_cache.py).
        extensions=[
            MaskInternalErrors,
            ErrorCodes,
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: BoundedParsing(settings.max_query_length, cache),
            lambda: LimitedValidation(limits, cache),
        ],
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
