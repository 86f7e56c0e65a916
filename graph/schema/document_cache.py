"""Parsed documents and their validation errors, kept by query text, within a bound on the texts' total length.

Strawberry's ParserCache and ValidationCache bound the number of documents they
keep, not their size. A parsed document keeps up to 2.5 objects per character of
its text alive (every token and node is one, and locations link them all): 600
distinct documents near the token limit kept 5 million objects, 800 MB, and the
garbage collector's full collections then held the event loop for up to 1.9 s.
Bounding the total length of the cached texts bounds both, and a text longer
than a tenth of the bound is not cached at all.

One cache serves one schema, since validation depends on it, and every request
of a schema is parsed with the same options (the token limit), so the text
alone is the key.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    errors: list[GraphQLError] | None = None  # None until validated


class DocumentCache:
    """A least-recently-used cache of documents by query text, at most max_length characters of text in all."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._length = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def length(self) -> int:
        """Characters of the cached texts."""
        return self._length

    def document(self, query: str) -> DocumentNode | None:
        entry = self._entries.get(query)
        if entry is None:
            return None
        self._entries.move_to_end(query)
        return entry.document

    def add(self, query: str, document: DocumentNode) -> None:
        if query in self._entries or len(query) > self.max_length // 10:
            return
        self._entries[query] = _Entry(document)
        self._length += len(query)
        while self._length > self.max_length:
            evicted, _ = self._entries.popitem(last=False)
            self._length -= len(evicted)

    def errors(
        self, query: str, document: DocumentNode, validate: Callable[[], list[GraphQLError]]
    ) -> list[GraphQLError]:
        """The validation errors of a document: validated once while it is cached, each time otherwise."""
        entry = self._entries.get(query)
        if entry is None or entry.document is not document:
            return validate()
        if entry.errors is None:
            entry.errors = validate()
        return entry.errors
