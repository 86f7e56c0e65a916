"""Relay-style connections with totalCount, and opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry

from graph.schema.errors import bad_input
from storage.contract import Page, PageResult
from storage.timeutil import MAX_TIME, MIN_TIME, from_ms, to_ms

MIN_MS, MAX_MS = to_ms(MIN_TIME), to_ms(MAX_TIME)

T = TypeVar("T")
N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str

    def __getattr__(self, name: str) -> Any:
        """Only for an attribute the instance lacks: the cursor of an edge made by to_connection, encoded
        when first read. A 1,000-event page encoded 1,000 cursors (orjson, base64) that queries rarely select."""
        if name == "cursor":
            lazy = self.__dict__.pop("_lazy_cursor", None)
            if lazy is not None:
                key, doc = lazy
                cursor = self.__dict__["cursor"] = encode_cursor(key(doc))
                return cursor
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field(description="The nodes of edges, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int, argument: str = "after") -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise bad_input(argument, "is not a cursor this server issued") from None
    if not isinstance(key, list) or len(key) != arity:
        raise bad_input(argument, "is not a cursor this server issued")
    return key


def cursor_time(value: object, argument: str = "after") -> datetime:
    """A cursor's millisecond timestamp, refused unless it is one this server could have issued."""
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_MS <= value <= MAX_MS:
        raise bad_input(argument, "is not a cursor this server issued")
    return from_ms(value)


def page_args(first: int | None, after_key: tuple | None, max_page: int, *, descending: bool) -> Page:
    if first is None:
        first = min(50, max_page)
    if first < 0 or first > max_page:
        raise bad_input("first", f"must be between 0 and {max_page}")
    return Page(limit=first, after=after_key, descending=descending)


def _edge(node: Any, key: Callable[[Any], Sequence[Any]], doc: Any) -> Edge[Any]:
    """Edge(node=node, cursor=encode_cursor(key(doc))), the cursor left for Edge.__getattr__; the instance's
    dict set at once (strawberry types have no __post_init__ or slots)."""
    edge: Edge[Any] = _new_object(Edge)
    edge.__dict__ = {"node": node, "_lazy_cursor": (key, doc)}
    return edge


_new_object = object.__new__


def to_connection(
    result: PageResult[Any],
    wrap: Callable[[Any], N],
    key: Callable[[Any], Sequence[Any]],
    had_cursor: bool,
) -> Connection[N]:
    edges = [_edge(wrap(doc), key, doc) for doc in result.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=result.has_more,
            has_previous_page=had_cursor,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=result.total,
    )
