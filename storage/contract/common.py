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
    """The database cannot serve this call now; nothing was changed by it, so the same call may be retried.

    Backends raise it (or a subclass) for every failure that waiting can cure: an unreachable
    server, a full disk, a lock held too long. The message is one line a client may read: it
    names no host and no password (the backend's own exception is chained for the log).
    retry_after is the hint, in seconds, for the client's Retry-After.
    """

    retry_after = 5

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after

    def for_log(self) -> str:
        """One line for the operator's log: the message and the backend's own error behind it."""
        cause = self.__cause__
        if cause is None:
            return str(self)
        detail = " ".join(str(cause).split())
        return f"{self} [{type(cause).__name__}: {detail[:200]}{'...' if len(detail) > 200 else ''}]"


class StoreBusy(StoreUnavailable):
    """Other writers held the database for longer than this call would wait: retry shortly."""

    retry_after = 1


class StoreReadOnly(StoreUnavailable):
    """Reads work and writes fail (a full disk, a read-only file, no writable primary) until an operator acts."""

    retry_after = 30


class CommitConflict(StoreBusy):
    """A batch kept losing the race for its sessions to concurrent commits: retry later."""


class SchemaTooNew(StoreUnavailable):
    """The database was written by a newer LensGraph: refuse it rather than misread it."""
