"""Schema assembly: root types merged from the domain modules, limits on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graph.schema.analytics.fields import AnalyticsQueryFields
from graph.schema.anomalies.fields import AnomalyMutation, AnomalyQuery
from graph.schema.anomalies.subscriptions import AnomalySubscription
from graph.schema.document_cache import DocumentCache
from graph.schema.errors import ErrorCodes, MaskInternalErrors, log_unavailable, with_code
from graph.schema.execution import LensGraphExecutor
from graph.schema.experiments.fields import ExperimentMutation, ExperimentQuery
from graph.schema.live.subscriptions import LiveSubscription
from graph.schema.operations import HttpOperationsOnly, NumbersInRange
from graph.schema.parsing import BoundedParsing
from graph.schema.projects.fields import ProjectMutation, ProjectQuery
from graph.schema.query_limits import Limits
from graph.schema.revenue.fields import RevenueMutation, RevenueQuery
from graph.schema.scalars import SCALAR_MAP
from graph.schema.traces.mutations import IngestMutation
from graph.schema.traces.queries import TraceQuery
from graph.schema.validation import LimitedValidation
from graph.schema.webhooks.fields import WebhookMutation, WebhookQuery

Query = merge_types(
    "Query",
    (TraceQuery, ProjectQuery, AnalyticsQueryFields, ExperimentQuery, RevenueQuery, AnomalyQuery, WebhookQuery),
)
Mutation = merge_types(
    "Mutation",
    (IngestMutation, ProjectMutation, ExperimentMutation, RevenueMutation, AnomalyMutation, WebhookMutation),
)
Subscription = merge_types("Subscription", (LiveSubscription, AnomalySubscription))


class LensGraphSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are answered, not logged; with_code logs internal errors once.
        for error in errors:
            with_code(error)
            log_unavailable(error)


# Characters of query text whose documents are cached: the few distinct queries
# of a client app fit (the introspection query has 1,600), and the objects kept
# alive stay few enough for a full garbage collection to take milliseconds.
DOCUMENT_CACHE_LENGTH = 50_000


class QuerySettings(Protocol):
    """What the schema needs of the server's settings (graph/app/settings.py's Settings has all of it)."""

    @property
    def max_query_depth(self) -> int: ...
    @property
    def max_query_tokens(self) -> int: ...
    @property
    def max_query_aliases(self) -> int: ...
    @property
    def max_query_cost(self) -> int: ...
    @property
    def max_query_fields(self) -> int: ...
    @property
    def max_query_length(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DefaultQuerySettings:
    max_query_depth: int = 12
    max_query_tokens: int = 4000
    max_query_aliases: int = 30
    max_query_cost: int = 50_000
    max_query_fields: int = 2000
    max_query_length: int = 100_000


def build_schema(settings: QuerySettings | None = None) -> strawberry.Schema:
    chosen: QuerySettings = settings or DefaultQuerySettings()
    limits = Limits(
        max_depth=chosen.max_query_depth,
        max_aliases=chosen.max_query_aliases,
        max_cost=chosen.max_query_cost,
        max_fields=chosen.max_query_fields,
    )
    cache = DocumentCache(max_length=DOCUMENT_CACHE_LENGTH)
    return LensGraphSchema(
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Strawberry's executor with a fresh memo per subscription event (execution.py).
        execution_context_class=LensGraphExecutor,
        # Factories, not instances: extensions keep per-operation state. Every step
        # before execution is bounded: length before parsing and tokens while
        # parsing (parsing.py), our limits before validation and validation's
        # own work (validation.py), and the documents cached (document_cache.py).
        extensions=[
            MaskInternalErrors,
            ErrorCodes,
            lambda: MaxTokensLimiter(max_token_count=chosen.max_query_tokens),
            lambda: BoundedParsing(chosen.max_query_length, cache),
            NumbersInRange,
            HttpOperationsOnly,
            lambda: LimitedValidation(limits, cache),
        ],
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
