"""Webhook queries and mutations: resolvers/webhooks/service.py, as the LENS REST routes use it. `project` is a
project id or name (seed 001's account_id); another tenant's webhook is not found."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from graph.schema.errors import bad_input
from graph.schema.project_ref import ProjectRef, project_for, spelled
from graph.schema.webhooks.types import (
    CreatedWebhook,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEvent,
)
from resolvers.webhooks import service
from storage.contract import Page


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[WebhookEvent]
    description: str | None = None
    enabled: bool = True


@strawberry.input
class UpdateWebhookInput:
    url: str | None = strawberry.UNSET
    events: list[WebhookEvent] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


def _body(input: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("url", "events", "description", "enabled"):
        value = getattr(input, name)
        if value is strawberry.UNSET or (value is None and name != "description"):
            continue
        out[name] = [e.value for e in value] if name == "events" else value
    return out


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The project's webhook endpoints, oldest first (secrets are never shown again).")
    async def webhooks(self, info: Info[Context, None], project: ProjectRef = None) -> list[Webhook]:
        found = await project_for(info, project)
        return [Webhook(doc=w) for w in await service.list_webhooks(info.context.services, found)]

    @strawberry.field
    async def webhook(self, info: Info[Context, None], id: strawberry.ID, project: ProjectRef = None) -> Webhook:
        found = await project_for(info, project)
        return Webhook(doc=await service.get(info.context.services, found, str(id)))

    @strawberry.field(description="Deliveries newest first, with every attempt; of one webhook, or of all.")
    async def webhook_deliveries(self, info: Info[Context, None], webhook_id: strawberry.ID | None = None,
                                 status: list[DeliveryStatus] | None = None, first: int = 50, offset: int = 0,
                                 project: ProjectRef = None) -> WebhookDeliveryPage:
        if not 0 <= first <= info.context.max_page:
            raise bad_input("first", f"must be between 0 and {info.context.max_page}")
        if offset < 0:
            raise bad_input("offset", "must be 0 or more")
        found = await project_for(info, project)
        statuses = ",".join(s.value for s in status) if status else None
        page = await spelled(service.deliveries(info.context.services, found,
                                                 None if webhook_id is None else str(webhook_id), statuses,
                                                 Page(first, offset)))
        return WebhookDeliveryPage(nodes=[WebhookDelivery(doc=d) for d in page.items], total_count=page.total,
                                   has_next_page=page.has_more)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="A webhook endpoint; the answer carries its signing secret, shown this once. "
                                     "The URL must be http(s) and reach a public address.")
    async def create_webhook(self, info: Info[Context, None], input: CreateWebhookInput,
                             project: ProjectRef = None) -> CreatedWebhook:
        found = await project_for(info, project)
        created = await spelled(service.create(info.context.services, found, _body(input)), "input.")
        return CreatedWebhook(webhook=Webhook(doc=created), secret=created.secret)

    @strawberry.mutation(description="Changes a webhook's URL, events or description, or enables or disables it.")
    async def update_webhook(self, info: Info[Context, None], id: strawberry.ID, input: UpdateWebhookInput,
                             project: ProjectRef = None) -> Webhook:
        found = await project_for(info, project)
        return Webhook(doc=await spelled(service.update(info.context.services, found, str(id), _body(input)),
                                          "input."))

    @strawberry.mutation(description="Deletes a webhook and its delivery records; true when it was there.")
    async def delete_webhook(self, info: Info[Context, None], id: strawberry.ID, project: ProjectRef = None) -> bool:
        found = await project_for(info, project)
        await service.delete(info.context.services, found, str(id))
        return True

    @strawberry.mutation(description="Sends a delivered or failed delivery again (the same event id and body); a "
                                     "pending one is a CONFLICT.")
    async def redeliver_webhook_delivery(self, info: Info[Context, None], id: strawberry.ID,
                                         project: ProjectRef = None) -> WebhookDelivery:
        found = await project_for(info, project)
        return WebhookDelivery(doc=await service.redeliver(info.context.services, found, None, str(id)))
