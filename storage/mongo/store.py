"""The MongoDB store: PyMongo's native async driver, one class per domain over a shared connection.

storage/mongo/traces.py says what commit_batch guarantees on each topology.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from storage.mongo.analytics import MongoAnalytics
from storage.mongo.anomalies import MongoAnomalies
from storage.mongo.client import Mongo
from storage.mongo.counters import MongoCounters
from storage.mongo.experiments import MongoExperiments
from storage.mongo.idempotency import MongoIdempotency
from storage.mongo.live import MongoFeed
from storage.mongo.projects import MongoProjects
from storage.mongo.revenue import MongoRevenue
from storage.mongo.traces import MongoTraces
from storage.mongo.webhooks import MongoWebhooks


class MongoStore:
    def __init__(self, url: str, *, client: AsyncMongoClient[dict[str, Any]] | None = None) -> None:
        self.mongo = Mongo(url, client)
        self.live = MongoFeed(self.mongo)
        self.traces = MongoTraces(self.mongo, self.live)
        self.projects = MongoProjects(self.mongo)
        self.idempotency = MongoIdempotency(self.mongo)
        self.counters = MongoCounters(self.mongo)
        self.analytics = MongoAnalytics(self.mongo)
        self.experiments = MongoExperiments(self.mongo)
        self.revenue = MongoRevenue(self.mongo)
        self.anomalies = MongoAnomalies(self.mongo)
        self.webhooks = MongoWebhooks(self.mongo)

    @property
    def hosts(self) -> str:
        return self.mongo.hosts

    @property
    def database_name(self) -> str:
        return self.mongo.database_name

    @property
    def replicated(self) -> bool:
        return self.mongo.replicated

    async def start(self) -> None:
        await self.mongo.start()

    async def check_writes(self) -> None:
        await self.mongo.check_writes()

    async def close(self) -> None:
        await self.mongo.close()
