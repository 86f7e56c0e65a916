"""The anomalies contract (seed 001): rules, anomalies, reports and question usage, per project."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.contract.common import Page, PageResult
from storage.models.anomalies import Anomaly, AnomalyRule, AnomalyStatus, Report, UsageRow
from storage.models.webhooks import Delivery


@dataclass(frozen=True, slots=True)
class AnomalyQuery:
    """Filters of a listing; None (or empty) matches all. since/until bound detected_at, half-open."""

    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    rule_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RuleTriggers:
    """How often a rule raised anomalies: the latest detection ever, and the count since a time."""

    rule_id: str
    last_detected: datetime
    count_since: int


class AnomalyStore(Protocol):
    async def create_rule(self, rule: AnomalyRule) -> AnomalyRule:
        """Raises Conflict when the project already holds a rule with that id."""
        ...

    async def save_rule(self, rule: AnomalyRule) -> AnomalyRule:
        """Inserts or replaces the rule (same project and id): a change to a system rule is stored this way."""
        ...

    async def rule_by_id(self, project_id: str, rule_id: str) -> AnomalyRule | None: ...

    async def list_rules(self, project_id: str) -> list[AnomalyRule]:
        """Every stored rule of the project, oldest first (the id breaks ties)."""
        ...

    async def rule_triggers(self, project_id: str, since: datetime) -> list[RuleTriggers]:
        """Per rule that raised any anomaly: its latest detected_at, and how many were detected at or after since."""
        ...

    async def insert_anomaly(self, anomaly: Anomaly, announce: Sequence[Delivery] = ()) -> tuple[Anomaly, bool]:
        """Stores the anomaly unless its id is already stored: (the stored one, whether it was new). A retry with
        the same id changes nothing, so a detector that crashed mid-run may run again.

        announce: webhook deliveries of the event announcing it, stored (as WebhookStore.insert_deliveries
        stores them) with the anomaly if it is new, in the same transaction, and not at all otherwise. On a
        MongoDB server without transactions (standalone) they are stored just after it, so a crash between
        the two loses them."""
        ...

    async def anomaly_by_id(self, project_id: str, anomaly_id: str) -> Anomaly | None: ...

    async def find_anomalies(self, project_id: str, query: AnomalyQuery, page: Page) -> PageResult[Anomaly]:
        """Newest detection first (the id breaks ties), limit/offset, with the total matching."""
        ...

    async def update_anomaly(
        self, anomaly: Anomaly, expected: AnomalyStatus, announce: Sequence[Delivery] = ()
    ) -> bool:
        """Replaces the stored anomaly only if its status is still `expected` (compare and set): False when it
        changed since it was read, or is gone, and then nothing was written. announce: as insert_anomaly's,
        stored only with the change."""
        ...

    async def insert_report(self, report: Report, announce: Sequence[Delivery] = ()) -> tuple[Report, bool]:
        """As insert_anomaly: a report for a period already stored is not written twice, nor announced."""
        ...

    async def report_by_id(self, project_id: str, report_id: str) -> Report | None: ...

    async def find_reports(self, project_id: str, page: Page) -> PageResult[Report]:
        """Newest period first."""
        ...

    async def count_question(self, project_id: str, day: str, user: str, n: int = 1) -> int:
        """Adds n to the user's questions on that day (YYYY-MM-DD); returns the new count. Atomic."""
        ...

    async def question_usage(self, project_id: str, first_day: str, last_day: str) -> list[UsageRow]:
        """Every (day, user) count between the two days, inclusive; newest day first, then user."""
        ...
