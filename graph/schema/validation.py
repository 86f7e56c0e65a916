"""Validation of a GraphQL document, bounded in the work a client can make it do.

Our limits first (graph.query_limits, linear in the document), then graphql-core's
validation, with the one rule that can do more than linear work,
OverlappingFieldsCanBeMerged, on a small budget. Validation runs only for
documents within the limits, and its errors are cached with the document
(graph/document_cache.py); the limits depend on the variables and run each time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from graphql import GraphQLError, OverlappingFieldsCanBeMergedRule, ValidationContext
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from graph.schema.document_cache import DocumentCache
from graph.schema.query_limits import Limits, check_limits, limit_error

# OverlappingFieldsCanBeMerged compares every two fields of a selection set that
# share a response name, and their sub-selections: quadratic in the fields, with
# fragments expanded. graphql-core meters that work and aborts validation past a
# budget, 500,000 by default, which 330 copies of `sessions { nodes { agent { id } } }`
# (within our limits) spend in 1.6 s. Legitimate queries spend next to nothing
# (0 for the introspection query and our traces, 14 for a query repeating a few
# fields); at 10,000 the worst documents we know take 40-50 ms to parse and
# validate (bench/query_limits.py), 20,000 added 10-20 ms.
OVERLAPPING_FIELDS_BUDGET = 10_000

ABORTED = (
    "validation aborted: the query takes too much work to validate (a field or fragment repeated too often, "
    "fragments nested too deeply, or too many errors)"
)


class BoundedOverlappingFields(OverlappingFieldsCanBeMergedRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        # A per-validation budget, not the module-wide MAX_COMPLEXITY_BUDGET: nothing else in the process changes.
        self.rule_context.remaining_complexity_budget = OVERLAPPING_FIELDS_BUDGET


def _bounded(rules: tuple) -> tuple:
    return tuple(BoundedOverlappingFields if rule is OverlappingFieldsCanBeMergedRule else rule for rule in rules)


def _explained(error: GraphQLError) -> GraphQLError:
    # graphql-core's abort says only "Validation aborted.": say why, and that it is a limit.
    if isinstance(error, ValidationAbortedError):
        return limit_error("validation", OVERLAPPING_FIELDS_BUDGET, ABORTED)
    return error


class LimitedValidation(SchemaExtension):
    """Our limits, then graphql-core's validation, bounded and cached; replaces strawberry's ValidationCache."""

    def __init__(self, limits: Limits, cache: DocumentCache) -> None:
        self.limits = limits
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        # Errors set here, before the hook yields, are what strawberry answers; it then skips its own validation.
        ctx = self.execution_context
        ctx.validation_rules = _bounded(ctx.validation_rules)
        document = ctx.graphql_document
        if document is not None and not ctx.pre_execution_errors:  # refused by an earlier check already
            variables: Mapping = ctx.variables or {}
            error = check_limits(document, variables, self.limits)
            if error is not None:
                ctx.pre_execution_errors = [error]
            else:

                def validate() -> list[GraphQLError]:
                    # strawberry's validate_document adds its own rules (maybe-null, oneOf) to ours
                    errors = validate_document(ctx.schema._schema, document, ctx.validation_rules)
                    return [_explained(e) for e in errors]

                errors = self.cache.errors(ctx.query or "", document, validate)
                ctx.pre_execution_errors = list(errors)  # a copy: the cached list is shared between requests
        yield
