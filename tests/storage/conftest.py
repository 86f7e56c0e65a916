"""Every Store-contract test runs on each backend.

sqlite: always. mongomock: MongoStore's code on an in-memory mongomock server,
its standalone path. mongomock-txn: the same on a mongomock that claims to be
a replica set, so MongoStore's transaction path runs (transactions simulated
one at a time). mongodb: a real server, only where LENSGRAPH_TEST_MONGODB_URL
names one (a replica set also covers real transactions).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient

from storage.mongo.store import MongoStore
from storage.sqlite.store import SQLiteStore
from tests.storage.mongomock_async import AsyncMongomockClient

MONGODB_URL_ENV = "LENSGRAPH_TEST_MONGODB_URL"
MONGODB_URL = os.environ.get(MONGODB_URL_ENV)

BACKENDS = ["sqlite", "mongomock", "mongomock-txn", *(["mongodb"] if MONGODB_URL else [])]


def pytest_report_header() -> str:
    real = "MongoDB at " + MongoStore(MONGODB_URL).hosts if MONGODB_URL else f"not configured, set {MONGODB_URL_ENV}"
    return (
        f"store contract backends: {', '.join(BACKENDS)} (MongoDB code on mongomock, standalone and "
        f"simulated-transaction paths; real MongoDB: {real})"
    )


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def mongomock_store(name: str = "contract", client: AsyncMongomockClient | None = None) -> MongoStore:
    """MongoStore on an in-memory mongomock server (a standalone one unless the client says otherwise)."""
    return MongoStore(f"mongodb://mongomock.invalid/{name}", client=client or AsyncMongomockClient())


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "sqlite":
        backend: SQLiteStore | MongoStore = SQLiteStore(tmp_path / "contract.db")
    elif request.param == "mongomock":
        backend = mongomock_store()
    elif request.param == "mongomock-txn":
        backend = mongomock_store(client=AsyncMongomockClient(replica_set=True))
    else:
        assert MONGODB_URL is not None
        backend = MongoStore(with_database(MONGODB_URL, f"lensgraph_test_{uuid.uuid4().hex[:12]}"))
    await backend.start()
    yield backend
    await backend.close()
    if request.param == "mongodb":
        async with AsyncMongoClient(MONGODB_URL) as admin:
            await admin.drop_database(backend.database_name)
