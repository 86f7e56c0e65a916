"""The embedded default store: one SQLite file, one class per domain over a shared Database."""

from __future__ import annotations

from pathlib import Path

from typing_extensions import Unpack

from storage.sqlite.analytics import SQLiteAnalytics
from storage.sqlite.anomalies import SQLiteAnomalies
from storage.sqlite.counters import SQLiteCounters
from storage.sqlite.database import READERS, Database, DatabaseOptions
from storage.sqlite.experiments import SQLiteExperiments
from storage.sqlite.idempotency import SQLiteIdempotency
from storage.sqlite.live import SQLiteFeed
from storage.sqlite.projects import SQLiteProjects
from storage.sqlite.revenue import SQLiteRevenue
from storage.sqlite.traces import SQLiteTraces
from storage.sqlite.webhooks import SQLiteWebhooks


class SQLiteStore:
    def __init__(self, path: Path | str, readers: int = READERS, **options: Unpack[DatabaseOptions]) -> None:
        self.db = Database(path, readers, **options)
        self.path = self.db.path
        self.live = SQLiteFeed(self.db)
        self.traces = SQLiteTraces(self.db, self.live)
        self.projects = SQLiteProjects(self.db)
        self.idempotency = SQLiteIdempotency(self.db)
        self.counters = SQLiteCounters(self.db)
        self.analytics = SQLiteAnalytics(self.db)
        self.experiments = SQLiteExperiments(self.db)
        self.revenue = SQLiteRevenue(self.db)
        self.anomalies = SQLiteAnomalies(self.db)
        self.webhooks = SQLiteWebhooks(self.db)

    async def start(self) -> None:
        await self.db.open()

    async def check_writes(self) -> None:
        await self.db.check_writes()

    async def close(self) -> None:
        await self.db.close()
