"""What every domain's contract shares: pages, and the failures a store reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    """limit/offset for the REST shims, or limit/after (keyset) for GraphQL."""

    limit: int = 50
    offset: int = 0
    after: tuple[Any, ...] | None = None
    descending: bool = False
    count_total: bool = True


@dataclass(slots=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int
    has_more: bool


class Conflict(Exception):
    """A unique value (a project name, an idempotency key) is taken."""


class StoreUnavailable(Exception):
    """The database cannot be used; the message is one line naming the host, never the password."""


class CommitConflict(Exception):
    """A batch kept losing the race for its sessions to concurrent commits: retry later."""


class SchemaTooNew(StoreUnavailable):
    """The database was written by a newer LensGraph: refuse it rather than misread it."""
