"""The Webhook and WebhookDelivery types (resolvers/webhooks, in GraphQL's camelCase style)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import orjson
import strawberry
from strawberry.scalars import JSON

from storage.models import webhooks as models


@strawberry.enum(description="The LENS events a webhook may subscribe to.")
class WebhookEvent(Enum):
    ANOMALY_DETECTED = "anomaly.detected"
    ANOMALY_RESOLVED = "anomaly.resolved"
    REPORT_GENERATED = "report.generated"
    QUESTION_ANSWERED = "question.answered"


@strawberry.enum(description="pending until an attempt is answered 2xx (delivered) or every attempt failed.")
class DeliveryStatus(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@strawberry.type
class Webhook:
    doc: strawberry.Private[models.Webhook]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def url(self) -> str:
        return self.doc.url

    @strawberry.field
    def events(self) -> list[WebhookEvent]:
        return [WebhookEvent(e) for e in self.doc.events]

    @strawberry.field
    def enabled(self) -> bool:
        return self.doc.enabled

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.doc.updated_at


@strawberry.type(description="A created webhook and its signing secret, shown this once.")
class CreatedWebhook:
    webhook: Webhook
    secret: str


@strawberry.type
class DeliveryAttempt:
    at: datetime
    status_code: int | None = strawberry.field(description="None: no HTTP answer (see error)")
    error: str | None
    duration_ms: int


@strawberry.type
class WebhookDelivery:
    doc: strawberry.Private[models.Delivery]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def webhook_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.webhook_id)

    @strawberry.field
    def event(self) -> WebhookEvent:
        return WebhookEvent(self.doc.event)

    @strawberry.field(description="The same on every delivery and retry of one event: receivers de-duplicate on it.")
    def event_id(self) -> str:
        return self.doc.event_id

    @strawberry.field
    def status(self) -> DeliveryStatus:
        return DeliveryStatus(self.doc.status.value)

    @strawberry.field
    def attempts(self) -> list[DeliveryAttempt]:
        return [DeliveryAttempt(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms)
                for a in self.doc.attempts]

    @strawberry.field(description="When the next attempt is due, while pending.")
    def next_attempt_at(self) -> datetime | None:
        return self.doc.next_attempt_at if self.doc.status == models.DeliveryStatus.PENDING else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.doc.delivered_at

    @strawberry.field(description="When it was last redelivered on request.")
    def requeued_at(self) -> datetime | None:
        return self.doc.requeued_at

    @strawberry.field(description="The JSON body sent (and signed).")
    def payload(self) -> JSON:
        return orjson.loads(self.doc.body)


@strawberry.type
class WebhookDeliveryPage:
    nodes: list[WebhookDelivery]
    total_count: int
    has_next_page: bool
