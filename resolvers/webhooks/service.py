"""Webhook endpoints (create, list, change, delete), their deliveries, and emit: what GraphQL and the LENS REST
routes (/api/lens/webhooks) share.

emit() writes one pending delivery per enabled endpoint of the project subscribed to the event; the sender
(resolvers/jobs/webhooks.py) delivers them. Derived ids make emitting the same event twice a no-op.
announcement() builds the same deliveries without storing them, for a store to write in the transaction of
the change they announce (the detector's anomalies, the reports job's reports): both or neither, so a crash
loses no event and no event announces a change that was not stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resolvers.core.errors import InputError, NotFound, Problem, from_pydantic
from resolvers.core.services import Services
from resolvers.webhooks import ids
from resolvers.webhooks.targets import MAX_URL, check_url
from storage.contract import Conflict, DeliveryQuery, Page, PageResult
from storage.models import Project
from storage.models.webhooks import WEBHOOK_EVENTS, Delivery, DeliveryStatus, Webhook
from storage.timeutil import now_ms

EventName = Literal["anomaly.detected", "anomaly.resolved", "report.generated", "question.answered"]
STATUSES = tuple(s.value for s in DeliveryStatus)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account_id: str | None = None  # the LENS routes' project (a project id or name); not stored
    url: str = Field(max_length=MAX_URL)
    events: list[EventName] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account_id: str | None = None
    url: str | None = Field(default=None, max_length=MAX_URL)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=len(WEBHOOK_EVENTS))
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


def _parse(model: type[BaseModel], raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise InputError(Problem("body", "must be a JSON object"))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _events(events: list[str]) -> list[str]:
    return [e for e in WEBHOOK_EVENTS if e in set(events)]  # the documented order, each once


async def create(services: Services, project: Project, raw: Any, now: datetime | None = None) -> Webhook:
    """Validates everything (the URL's addresses too) before writing anything; the limit per project is a 400."""
    body: WebhookIn = _parse(WebhookIn, raw)
    url = await check_url(body.url, services.limits.webhook_allow_private)
    now = now or now_ms()
    hook = Webhook(project_id=project.id, id=ids.webhook_id(), url=url, events=_events(list(body.events)),
                   secret=ids.new_secret(), enabled=body.enabled, description=body.description, created_at=now,
                   updated_at=now)
    limit = services.limits.webhooks_per_project
    if not await services.store.webhooks.create_webhook(hook, limit):
        raise InputError(Problem("url", f"this project already has {limit} webhooks, the most it may have: "
                                        "delete one first"))
    return hook


async def list_webhooks(services: Services, project: Project) -> list[Webhook]:
    return await services.store.webhooks.list_webhooks(project.id)


async def get(services: Services, project: Project, webhook_id: str) -> Webhook:
    found = await services.store.webhooks.webhook_by_id(project.id, webhook_id)
    if found is None:
        raise NotFound("webhook", webhook_id)
    return found


async def update(services: Services, project: Project, webhook_id: str, raw: Any) -> Webhook:
    patch: WebhookPatch = _parse(WebhookPatch, raw)
    changes: dict[str, Any] = {"updated_at": now_ms()}
    if patch.url is not None:  # bad input is a 400 before anything is looked up
        changes["url"] = await check_url(patch.url, services.limits.webhook_allow_private)
    found = await get(services, project, webhook_id)
    if patch.events is not None:
        changes["events"] = _events(list(patch.events))
    if "description" in patch.model_fields_set:
        changes["description"] = patch.description
    if patch.enabled is not None:
        changes["enabled"] = patch.enabled
    changed = found.model_copy(update=changes)
    if not await services.store.webhooks.update_webhook(changed):
        raise NotFound("webhook", webhook_id)
    return changed


async def delete(services: Services, project: Project, webhook_id: str) -> None:
    if not await services.store.webhooks.delete_webhook(project.id, webhook_id):
        raise NotFound("webhook", webhook_id)


async def deliveries(services: Services, project: Project, webhook_id: str | None, status: str | None,
                     page: Page) -> PageResult[Delivery]:
    statuses: tuple[str, ...] = ()
    if status:
        statuses = tuple(s.strip() for s in status.split(","))
        wrong = [s for s in statuses if s not in STATUSES]
        if wrong:
            raise InputError(Problem("status", f"{wrong[0]!r} is not one of {', '.join(STATUSES)}"))
    if webhook_id is not None:
        await get(services, project, webhook_id)
    return await services.store.webhooks.find_deliveries(project.id, DeliveryQuery(webhook_id=webhook_id,
                                                                                   statuses=statuses), page)


async def redeliver(services: Services, project: Project, webhook_id: str | None, delivery_id: str) -> Delivery:
    """Makes a delivered or failed delivery pending again, due now (the same event id and body); max_attempts
    counts afresh. A pending one is a Conflict: it is on its way."""
    found = await services.store.webhooks.delivery_by_id(project.id, delivery_id)
    if found is None or (webhook_id is not None and found.webhook_id != webhook_id):
        raise NotFound("delivery", delivery_id)
    if found.status == DeliveryStatus.PENDING:
        raise Conflict(f"delivery {delivery_id!r} is pending already")
    now = now_ms()
    again = found.model_copy(update={"status": DeliveryStatus.PENDING, "next_attempt_at": now, "requeued_at": now,
                                     "delivered_at": None})
    if not await services.store.webhooks.requeue_delivery(again, found.status):
        raise Conflict(f"delivery {delivery_id!r} changed meanwhile; read it again")
    return again


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def announcement(services: Services, project_id: str, event: str, subject_id: str, data: dict[str, Any],
                       now: datetime | None = None) -> list[Delivery]:
    """One pending delivery of the event per enabled endpoint subscribed to it, not yet stored. The event's id
    derives from (project, event, subject id), and each delivery's from the event's and its endpoint's."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = [w for w in await services.store.webhooks.list_webhooks(project_id) if w.enabled and event in w.events]
    if not hooks:
        return []
    now = now or now_ms()
    event_id = ids.event_id(project_id, event, subject_id)
    body = orjson.dumps({"id": event_id, "type": event, "created_at": when(now), "project_id": project_id,
                         "data": data}).decode()
    return [Delivery(project_id=project_id, id=ids.delivery_id(project_id, w.id, event_id), webhook_id=w.id,
                     event=event, event_id=event_id, body=body, next_attempt_at=now, created_at=now)
            for w in hooks]


async def emit(services: Services, project_id: str, event: str, subject_id: str, data: dict[str, Any],
               now: datetime | None = None) -> int:
    """Stores announcement()'s deliveries; how many were new (emitting the same event again adds nothing)."""
    return await services.store.webhooks.insert_deliveries(
        await announcement(services, project_id, event, subject_id, data, now))
