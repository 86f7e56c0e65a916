"""The revenue contract (seed 000): customers, goal types, goals, outcomes and revenues, per project.

One set of calls serves every kind of record (storage/models/revenue.py KINDS names the
kinds and the fields a listing filters on). A create may carry an idempotency Claim:
it is checked and recorded in the same transaction as the record, so a retried request
creates one record whatever process it reaches and whenever the first attempt died.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from storage.contract.common import Page, PageResult
from storage.contract.traces import Claim
from storage.models import IdempotentResponse
from storage.models.revenue import RevenueRecord

R = TypeVar("R", bound=RevenueRecord)


@dataclass(slots=True)
class Created(Generic[R]):
    record: R | None  # None when replayed: the key had been answered, nothing was written
    response: IdempotentResponse | None = None  # with a claim: the answer kept for its key
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """Equality on KINDS' fields (a None value matches a missing one; a tuple, any of its values) and,
    for outcomes and revenues, a half-open [since, until) range on recorded_at."""

    where: Mapping[str, str | tuple[str, ...] | None] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None

    def key(self) -> tuple[Any, ...]:
        return tuple(sorted(self.where.items())), self.since, self.until


class RevenueStore(Protocol):
    async def create_record(self, record: R, claim: Claim[R] | None = None) -> Created[R]:
        """Stores the record. With a claim whose key already holds a live record, stores nothing and
        returns that record as the response, replayed. Raises Conflict when the id is taken."""
        ...

    async def records_by_ids(self, kind: type[R], project_id: str, ids: Sequence[str]) -> list[R]: ...

    async def find_records(self, kind: type[R], project_id: str, query: RecordQuery, page: Page) -> PageResult[R]:
        """Newest first (created_at, then id, descending), limit/offset."""
        ...

    async def find_records_per_group(
        self, kind: type[R], project_id: str, field: str, values: Sequence[str], page: Page
    ) -> dict[str, PageResult[R]]:
        """One page per value of `field` (one of KINDS' fields), in one call: each group's records newest
        first (as find_records), page.limit/page.offset applied within the group, with the group's total.
        Every value is a key of the answer; one without records has an empty page and a total of 0."""
        ...

    async def update_record(self, record: R) -> bool:
        """Replaces the stored record of the same project and id; False when there is none."""
        ...

    async def delete_record(self, kind: type[R], project_id: str, record_id: str) -> bool: ...

    async def revenue_span(self, project_id: str) -> tuple[datetime, datetime] | None:
        """The earliest and the latest recorded_at of the project's revenues (None without any): where an
        all-time report starts and ends (totals come from the analytics engine, source "revenues")."""
        ...

    async def outcome_counts(self, project_id: str, goal_ids: Sequence[str]) -> dict[str, int]:
        """Outcomes per goal (its completions), for the goals that have any."""
        ...
