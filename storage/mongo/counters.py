"""Rate-limit windows on MongoDB: one atomic $inc per counted request; a TTL index drops ended windows."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ReturnDocument

from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import RATE_WINDOWS


@translated
class MongoCounters:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    async def hit(self, bucket: str, window_start_ms: int, window_ms: int) -> int:
        expires = datetime.fromtimestamp((window_start_ms + 2 * window_ms) / 1000, tz=UTC)
        doc = await self.m.db[RATE_WINDOWS].find_one_and_update(
            {"_id": {"b": bucket, "w": window_start_ms}},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["count"])
