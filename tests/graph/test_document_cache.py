"""The document cache keeps at most so many characters of query text, and a document's errors once."""

from __future__ import annotations

from graphql import GraphQLError, parse

from graph.schema.document_cache import DocumentCache
from tests.conftest import Api


def query(i: int, pad: int = 0) -> str:
    return f"query Q{i:03d} {{ sessions {{ totalCount }} }}" + " " * pad


def test_total_length_is_bounded_and_the_least_recently_used_go_first() -> None:
    cache = DocumentCache(max_length=1000)
    texts = [query(i) for i in range(40)]
    kept = 1000 // len(texts[0])  # 26 of 38 characters
    for text in texts:
        cache.add(text, parse(text))
    assert cache.length <= 1000 and len(cache) == kept
    first = 40 - kept
    assert cache.document(texts[first - 1]) is None
    assert cache.document(texts[first]) is not None  # used: now the most recently
    for text in (query(i) for i in range(100, 102)):
        cache.add(text, parse(text))
    assert cache.document(texts[first + 1]) is None and cache.document(texts[first + 2]) is None
    assert cache.document(texts[first]) is not None and cache.document(texts[first + 3]) is not None


def test_long_texts_are_not_cached() -> None:
    cache = DocumentCache(max_length=1000)
    long = query(1, pad=100)
    cache.add(long, parse(long))
    assert cache.document(long) is None and cache.length == 0


def test_errors_are_validated_once_for_the_cached_document_only() -> None:
    cache = DocumentCache(max_length=1000)
    text = query(1)
    document = parse(text)
    cache.add(text, document)
    calls = []

    def validate() -> list[GraphQLError]:
        calls.append(1)
        return [GraphQLError("bad")]

    assert cache.errors(text, document, validate) == cache.errors(text, document, validate)
    assert len(calls) == 1
    cache.errors(text, parse(text), validate)  # another parse of the same text: not the cached one
    assert len(calls) == 2


async def test_repeated_queries_are_answered_alike(api: Api) -> None:
    for _ in range(3):
        assert await api.data("{ sessions { totalCount } }") == {"sessions": {"totalCount": 0}}
        body = await api.gql("{ sessions { nope } }")
        assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
        body = await api.gql("{ sessions(first: $n) { totalCount } }", {"n": 2})
        assert body["errors"][0]["message"] == "Variable '$n' is not defined."
