"""/api/lens/webhooks: the project's webhook endpoints and their deliveries (resolvers/webhooks/service.py), in
seed 001's envelope. The secret is in the creation's answer only."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from graph.rest.keys import SERVICES
from graph.rest.lens.handlers import _body, _page, _pagination, _project
from graph.rest.lens.wire import ok, when
from resolvers.webhooks import service
from storage.models.webhooks import Delivery, DeliveryStatus, Webhook

CLOSED = ConfigDict(extra="forbid")


@with_config(CLOSED)
class WebhookOut(TypedDict):
    id: str
    url: str
    events: list[str]
    enabled: bool
    description: str | None
    created_at: str
    updated_at: str


@with_config(CLOSED)
class WebhookCreatedOut(WebhookOut):
    secret: str  # shown once: it signs every delivery (X-LensGraph-Signature)


@with_config(CLOSED)
class AttemptOut(TypedDict):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int


@with_config(CLOSED)
class DeliveryOut(TypedDict):
    id: str
    webhook_id: str
    event: str
    event_id: str
    status: str
    attempts: list[AttemptOut]
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None  # while pending
    created_at: str
    delivered_at: str | None
    payload: dict[str, Any]
    requeued_at: str | None  # when it was last redelivered on request


@with_config(CLOSED)
class DeletedOut(TypedDict):
    id: str
    deleted: bool


def webhook_json(w: Webhook) -> WebhookOut:
    return {"id": w.id, "url": w.url, "events": w.events, "enabled": w.enabled, "description": w.description,
            "created_at": when(w.created_at) or "", "updated_at": when(w.updated_at) or ""}


def delivery_json(d: Delivery) -> DeliveryOut:
    return {"id": d.id, "webhook_id": d.webhook_id, "event": d.event, "event_id": d.event_id,
            "status": d.status.value,
            "attempts": [{"at": when(a.at) or "", "status_code": a.status_code, "error": a.error,
                          "duration_ms": a.duration_ms} for a in d.attempts],
            "last_status_code": d.last_status_code, "last_error": d.last_error,
            "next_attempt_at": when(d.next_attempt_at) if d.status == DeliveryStatus.PENDING else None,
            "created_at": when(d.created_at) or "", "delivered_at": when(d.delivered_at),
            "payload": orjson.loads(d.body), "requeued_at": when(d.requeued_at)}


async def list_webhooks(request: web.Request) -> web.Response:
    project = await _project(request)
    return ok([webhook_json(w) for w in await service.list_webhooks(request.config_dict[SERVICES], project)])


async def create_webhook(request: web.Request) -> web.Response:
    body = await _body(request, required=True)
    project = await _project(request, body.get("account_id"))
    created = await service.create(request.config_dict[SERVICES], project, body)
    answer: WebhookCreatedOut = {**webhook_json(created), "secret": created.secret}
    return ok(answer, 201)


async def get_webhook(request: web.Request) -> web.Response:
    project = await _project(request)
    found = await service.get(request.config_dict[SERVICES], project, request.match_info["webhook_id"])
    return ok(webhook_json(found))


async def update_webhook(request: web.Request) -> web.Response:
    body = await _body(request, required=True)
    project = await _project(request, body.get("account_id"))
    changed = await service.update(request.config_dict[SERVICES], project, request.match_info["webhook_id"], body)
    return ok(webhook_json(changed))


async def delete_webhook(request: web.Request) -> web.Response:
    project = await _project(request)
    webhook_id = request.match_info["webhook_id"]
    await service.delete(request.config_dict[SERVICES], project, webhook_id)
    answer: DeletedOut = {"id": webhook_id, "deleted": True}
    return ok(answer)


async def list_deliveries(request: web.Request) -> web.Response:
    project = await _project(request)
    page = _page(request)
    found = await service.deliveries(request.config_dict[SERVICES], project, request.match_info["webhook_id"],
                                     request.query.get("status"), page)
    return ok([delivery_json(d) for d in found.items], pagination=_pagination(found.total, page))



async def redeliver(request: web.Request) -> web.Response:
    project = await _project(request, (await _body(request, required=False)).get("account_id"))
    again = await service.redeliver(request.config_dict[SERVICES], project, request.match_info["webhook_id"],
                                    request.match_info["delivery_id"])
    return ok(delivery_json(again))
