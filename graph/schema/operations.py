"""Checks of an operation that graphql-core would otherwise answer with an internal error.

Both run before validation (ahead of LimitedValidation in the extension list),
so an operation they refuse is never validated or executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import FloatValueNode, GraphQLError, IntValueNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

BAD_REQUEST = "BAD_REQUEST"
BAD_USER_INPUT = "BAD_USER_INPUT"
# A GraphQL Int is 32 bits and a Float a double: no literal needs more digits than this.
MAX_NUMBER_DIGITS = 40
LONG_NUMBER = re.compile(rf"\d{{{MAX_NUMBER_DIGITS + 1}}}")


class _LongNumbers(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: str | None = None

    def enter_int_value(self, node: IntValueNode, *_: object) -> None:
        if len(node.value) > MAX_NUMBER_DIGITS:
            self.found = node.value

    def enter_float_value(self, node: FloatValueNode, *_: object) -> None:
        if len(node.value) > MAX_NUMBER_DIGITS:
            self.found = node.value


class NumbersInRange(SchemaExtension):
    """A numeric literal of thousands of digits makes Python's int() raise (its 4,300-digit guard) inside
    graphql-core's coercion; refuse it as bad input instead."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        # The text is searched first: a document is walked only when it holds a long run of digits.
        if document is not None and not ctx.pre_execution_errors and LONG_NUMBER.search(ctx.query or ""):
            visitor = _LongNumbers()
            visit(document, visitor)
            if visitor.found is not None:
                ctx.pre_execution_errors = [GraphQLError(
                    f"a number literal has {len(visitor.found)} digits; the most a GraphQL Int or Float can use "
                    f"is {MAX_NUMBER_DIGITS}",
                    extensions={"code": BAD_USER_INPUT},
                )]
        yield


class HttpOperationsOnly(SchemaExtension):
    """Subscriptions are served over websockets (and their events as SSE at /stream), not HTTP POST."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if not ctx.pre_execution_errors and ctx.graphql_document is not None:
            try:
                operation = ctx.operation_type
            except Exception:  # no such operation name, or several unnamed: validation says which
                operation = None
            websocket = getattr(ctx.context, "websocket", False)
            if operation is OperationType.SUBSCRIPTION and not websocket:
                ctx.pre_execution_errors = [GraphQLError(
                    "subscriptions need a websocket (graphql-transport-ws on /graphql); GET /stream serves "
                    "eventAdded as server-sent events",
                    extensions={"code": BAD_REQUEST},
                )]
        yield
