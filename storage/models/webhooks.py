"""Webhooks (seed 001's "Webhooks" section): per-project endpoints and the deliveries of the events they
subscribe to.

An endpoint's secret signs every delivery (HMAC-SHA256), so it is kept as given, not hashed: the server must
be able to compute the signature. It is shown once, when the endpoint is created, and never listed.

A delivery is one event for one endpoint. Its id derives from the endpoint and the event's id
(resolvers/webhooks/ids.py), so emitting the same event twice stores one delivery per endpoint. `body` is
the exact JSON sent, fixed when the delivery is written, so every retry sends (and signs) the same bytes.
`lease_owner` and `locked_until` are the sender's claim: while a lease holds, no other process sends it;
one that expires (a sender that crashed) makes the delivery due again.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, Field

WEBHOOK_EVENTS = ("anomaly.detected", "anomaly.resolved", "report.generated", "question.answered")


class Webhook(BaseModel):
    project_id: str
    id: str
    url: str
    events: list[str]
    secret: str
    enabled: bool = True
    description: str | None = None
    created_at: datetime
    updated_at: datetime


class DeliveryStatus(str, Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed, or the endpoint was deleted or disabled


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None  # None: no HTTP answer (refused, timed out, a forbidden address)
    error: str | None = None
    duration_ms: int = 0


class Delivery(BaseModel):
    project_id: str
    id: str
    webhook_id: str
    event: str
    event_id: str
    body: str  # the JSON sent, byte for byte on every attempt
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: list[Attempt] = Field(default_factory=list)
    next_attempt_at: datetime
    locked_until: datetime | None = None
    lease_owner: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    requeued_at: datetime | None = None  # sent again on request: max_attempts counts from here

    @property
    def last_status_code(self) -> int | None:
        return self.attempts[-1].status_code if self.attempts else None

    @property
    def last_error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None

    @property
    def attempts_since_requeue(self) -> int:
        since = self.requeued_at
        return sum(1 for a in self.attempts if since is None or a.at >= since)
