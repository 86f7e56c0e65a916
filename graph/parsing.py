"""Parsing of a GraphQL request's query, bounded in the work a client can make it do.

The token limit (MaxTokensLimiter) bounds tokens, not characters: a 4 MB string
literal or comment is one token or none, and lexing it takes about half a
second. So the query's length is limited before it is parsed.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from graph.query_limits import limit_error


class QueryLengthLimiter(SchemaExtension):
    """Refuse a query longer than max_length characters before parsing it; must come before ParserCache.

    The error is raised, as the parser's own errors are (the token limit's too),
    and strawberry answers it like them: over HTTP as a GraphQL error. Over
    websockets strawberry ends the operation without one, as for syntax errors.
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query is not None and len(query) > self.max_length:
            raise limit_error(
                "length",
                self.max_length,
                f"the query is {len(query)} characters long; the maximum is {self.max_length} (pass data as variables)",
            )
        yield
