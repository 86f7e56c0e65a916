"""Idempotency records on MongoDB; recall and remember also run inside commit_batch's transaction."""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from storage.models import IdempotentResponse
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import NO_ID, maybe_model
from storage.mongo.traces_reads import DbSession


async def recall(m: Mongo, project_id: str, key: str, now: datetime, s: DbSession) -> IdempotentResponse | None:
    live = {"project_id": project_id, "key": key, "expires_at": {"$gt": now}}
    return maybe_model(IdempotentResponse, await m.idempotency.find_one(live, NO_ID, session=s))


async def remember(m: Mongo, record: IdempotentResponse, s: DbSession) -> IdempotentResponse:
    where = {"project_id": record.project_id, "key": record.key}
    await m.idempotency.delete_one({**where, "expires_at": {"$lte": record.created_at}}, session=s)
    with contextlib.suppress(DuplicateKeyError):  # a live record holds the key: it is the answer
        await m.idempotency.insert_one(record.model_dump(), session=s)
    return await recall(m, record.project_id, record.key, record.created_at, s) or record


@translated
class MongoIdempotency:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    async def remember_response(self, record: IdempotentResponse) -> IdempotentResponse:
        return await remember(self.m, record, None)

    async def recall_response(self, project_id: str, key: str, now: datetime) -> IdempotentResponse | None:
        return await recall(self.m, project_id, key, now, None)
