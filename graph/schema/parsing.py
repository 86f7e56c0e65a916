"""Parsing of a GraphQL request's query, bounded in the work a client can make it do.

The token limit (MaxTokensLimiter) bounds tokens, not characters: a 4 MB string
literal or comment is one token or none, and lexing it takes about half a
second. So the query's length is limited before it is parsed. Parsed documents
are cached within a bound on their size (graph/document_cache.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from graph.schema.document_cache import DocumentCache
from graph.schema.query_limits import limit_error


class BoundedParsing(SchemaExtension):
    """The query's length checked, then its document from the cache, or parsed by strawberry and cached.

    Replaces strawberry's ParserCache. A document missing from the cache is left
    for strawberry to parse after this hook's first half: it applies the token
    limit and answers syntax errors, over HTTP and websockets alike. A query too
    long is refused by raising, as ParserCache raised syntax errors: over HTTP
    strawberry answers it as a GraphQL error; over websockets it ends the
    operation without one.
    """

    def __init__(self, max_length: int, cache: DocumentCache) -> None:
        self.max_length = max_length
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        query = ctx.query or ""
        if len(query) > self.max_length:
            raise limit_error(
                "length",
                self.max_length,
                f"the query is {len(query)} characters long; the maximum is {self.max_length} (pass data as variables)",
            )
        cached = self.cache.document(query)
        if cached is not None:
            ctx.graphql_document = cached
        yield
        if cached is None and ctx.graphql_document is not None:
            self.cache.add(query, ctx.graphql_document)
