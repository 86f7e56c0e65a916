"""The webhooks contract: endpoints per project, and their deliveries with a lease for the sender."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.contract.common import Page, PageResult
from storage.models.webhooks import Delivery, DeliveryStatus, Webhook


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    webhook_id: str | None = None
    statuses: tuple[str, ...] = ()
    event_id: str | None = None


class WebhookStore(Protocol):
    async def create_webhook(self, webhook: Webhook, max_per_project: int) -> bool:
        """Stores the endpoint unless the project already holds max_per_project: whether it was stored."""
        ...

    async def webhook_by_id(self, project_id: str, webhook_id: str) -> Webhook | None: ...

    async def list_webhooks(self, project_id: str) -> list[Webhook]:
        """Every endpoint of the project, oldest first (the id breaks ties)."""
        ...

    async def update_webhook(self, webhook: Webhook) -> bool:
        """Replaces the stored endpoint (same project and id); False when it is gone."""
        ...

    async def delete_webhook(self, project_id: str, webhook_id: str) -> bool:
        """Removes the endpoint and its deliveries; False when it was not there."""
        ...

    async def insert_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        """Stores each delivery whose id is not stored yet; returns how many were new. Emitting an event again
        changes nothing."""
        ...

    async def delivery_by_id(self, project_id: str, delivery_id: str) -> Delivery | None: ...

    async def find_deliveries(self, project_id: str, query: DeliveryQuery, page: Page) -> PageResult[Delivery]:
        """Newest first (created_at, then id), limit/offset, with the total matching."""
        ...

    async def claim_due(self, now: datetime, owner: str, locked_until: datetime, limit: int) -> list[Delivery]:
        """Leases up to `limit` pending deliveries due by now whose lease is free or expired, of any project,
        to `owner` until `locked_until` (compare and set: two processes never hold one delivery at once);
        returns them as leased, the most overdue first."""
        ...

    async def finish_attempt(self, delivery: Delivery, owner: str) -> bool:
        """Writes the delivery (its attempts, status, next_attempt_at; the lease released) only if `owner` still
        holds its lease: False when the lease was lost (expired and taken), and then nothing was written."""
        ...

    async def requeue_delivery(self, delivery: Delivery, expected: DeliveryStatus) -> bool:
        """Writes the delivery (made pending again) only if its stored status is still `expected` (compare and
        set): False when it changed since it was read, or is gone, and then nothing was written."""
        ...
