"""Webhook endpoints and deliveries on MongoDB (layout 8). Documents hold the models' fields as they are
(_id {p: project, i: id}), so a delivery's derived id makes emitting an event twice a duplicate key. A claim
leases one delivery at a time with find_one_and_update on its due, unleased state: atomic per document on
every topology, so two processes never hold the same delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from storage.contract import Conflict, Page, PageResult
from storage.contract.webhooks import DeliveryQuery
from storage.models.webhooks import Delivery, DeliveryStatus, Webhook
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import DELIVERIES, NO_ID, WEBHOOKS, doc_id

SLOT_TRIES = 8  # beyond one per slot: endpoints deleted meanwhile free slots that others may take first
WEBHOOK_PROJECTION = {"_id": 0, "slot": 0}  # the slot is the store's own (create_webhook)


def _webhook_doc(w: Webhook) -> dict[str, Any]:
    return {"_id": doc_id(w.project_id, w.id), **w.model_dump()}


def _delivery_doc(d: Delivery) -> dict[str, Any]:
    return {"_id": doc_id(d.project_id, d.id), **d.model_dump(mode="python"), "status": d.status.value}


async def store_deliveries(
    mongo: Mongo, deliveries: Sequence[Delivery], session: AsyncClientSession | None = None
) -> int:
    """The deliveries whose ids are not stored yet, in the caller's transaction if session is given; how many
    were new. Upserts that only ever insert (in a transaction a duplicate key would abort it), sent together."""
    if not deliveries:
        return 0
    upserts = []
    for d in deliveries:
        doc = _delivery_doc(d)
        upserts.append(UpdateOne({"_id": doc.pop("_id")}, {"$setOnInsert": doc}, upsert=True))
    result = await mongo.db[DELIVERIES].bulk_write(upserts, ordered=False, session=session)
    return result.upserted_count


def _match(project_id: str, query: DeliveryQuery) -> dict[str, Any]:
    match: dict[str, Any] = {"project_id": project_id}
    if query.webhook_id is not None:
        match["webhook_id"] = query.webhook_id
    if query.event_id is not None:
        match["event_id"] = query.event_id
    if query.statuses:
        match["status"] = {"$in": list(query.statuses)}
    return match


@translated
class MongoWebhooks:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    def _c(self, name: str) -> Any:
        return self.m.db[name]

    # -- endpoints

    async def create_webhook(self, webhook: Webhook, max_per_project: int) -> bool:
        # An endpoint takes one of its project's max_per_project slots, and the unique index webhooks_by_slot
        # lets one insert take a slot: of two creations racing for the last, one gets a duplicate key, reads
        # again and finds the project full. A count and an insert could both pass the limit, and a standalone
        # server has no transaction to join them.
        for _ in range(max_per_project + SLOT_TRIES):  # each retry follows a slot another creation just took
            cursor = self._c(WEBHOOKS).find({"project_id": webhook.project_id}, {"_id": 0, "slot": 1})
            taken = {d.get("slot") for d in await cursor.to_list(None)}
            free = sorted(set(range(max_per_project)) - taken)
            if len(taken) >= max_per_project or not free:
                return False
            try:
                await self._c(WEBHOOKS).insert_one({**_webhook_doc(webhook), "slot": free[0]})
                return True
            except DuplicateKeyError as exc:
                if "slot" not in (exc.details or {}).get("keyPattern", {"slot": 1}):
                    raise
        raise Conflict(f"endpoints of project {webhook.project_id!r} kept changing; retry")

    async def webhook_by_id(self, project_id: str, webhook_id: str) -> Webhook | None:
        doc = await self._c(WEBHOOKS).find_one({"_id": doc_id(project_id, webhook_id)}, WEBHOOK_PROJECTION)
        return None if doc is None else Webhook.model_validate(doc)

    async def list_webhooks(self, project_id: str) -> list[Webhook]:
        cursor = self._c(WEBHOOKS).find({"project_id": project_id}, WEBHOOK_PROJECTION).sort([("created_at", 1),
                                                                                             ("id", 1)])
        return [Webhook.model_validate(d) for d in await cursor.to_list(None)]

    async def update_webhook(self, webhook: Webhook) -> bool:
        # $set, not a replacement: the endpoint keeps its slot.
        result = await self._c(WEBHOOKS).update_one({"_id": doc_id(webhook.project_id, webhook.id)},
                                                    {"$set": webhook.model_dump()})
        return result.matched_count > 0

    async def delete_webhook(self, project_id: str, webhook_id: str) -> bool:
        result = await self._c(WEBHOOKS).delete_one({"_id": doc_id(project_id, webhook_id)})
        await self._c(DELIVERIES).delete_many({"project_id": project_id, "webhook_id": webhook_id})
        return result.deleted_count > 0

    # -- deliveries

    async def insert_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        return await store_deliveries(self.m, deliveries)

    async def delivery_by_id(self, project_id: str, delivery_id: str) -> Delivery | None:
        doc = await self._c(DELIVERIES).find_one({"_id": doc_id(project_id, delivery_id)}, NO_ID)
        return None if doc is None else Delivery.model_validate(doc)

    async def find_deliveries(self, project_id: str, query: DeliveryQuery, page: Page) -> PageResult[Delivery]:
        match = _match(project_id, query)
        cursor = (self._c(DELIVERIES).find(match, NO_ID).sort([("created_at", DESCENDING), ("id", DESCENDING)])
                  .skip(page.offset).limit(page.limit + 1))
        items = [Delivery.model_validate(d) for d in await cursor.to_list(None)]
        total = await self._c(DELIVERIES).count_documents(match) if page.count_total else -1
        return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

    async def claim_due(self, now: datetime, owner: str, locked_until: datetime, limit: int) -> list[Delivery]:
        due = {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now},
               "$or": [{"locked_until": None}, {"locked_until": {"$lte": now}}]}
        out: list[Delivery] = []
        for _ in range(limit):
            doc = await self._c(DELIVERIES).find_one_and_update(
                due, {"$set": {"locked_until": locked_until, "lease_owner": owner}},
                sort=[("next_attempt_at", ASCENDING)], projection=NO_ID, return_document=ReturnDocument.AFTER)
            if doc is None:
                break
            out.append(Delivery.model_validate(doc))
        return out

    async def finish_attempt(self, delivery: Delivery, owner: str) -> bool:
        done = delivery.model_copy(update={"locked_until": None, "lease_owner": None})
        result = await self._c(DELIVERIES).replace_one(
            {"_id": doc_id(delivery.project_id, delivery.id), "lease_owner": owner}, _delivery_doc(done))
        return result.matched_count > 0

    async def requeue_delivery(self, delivery: Delivery, expected: DeliveryStatus) -> bool:
        d = delivery.model_copy(update={"locked_until": None, "lease_owner": None})
        result = await self._c(DELIVERIES).replace_one(
            {"_id": doc_id(d.project_id, d.id), "status": expected.value}, _delivery_doc(d))
        return result.matched_count > 0
