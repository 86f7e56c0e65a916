"""Every Store-contract test runs on each backend; the MongoStore tests on each Mongo server.

sqlite: always. mongodb-replset: MongoStore on SecantusDB as a one-node
replica set, so its transaction path and change streams run.
mongodb-standalone: on SecantusDB --standalone, its compare-and-set path.
mongodb: a real MongoDB, only where LENSGRAPH_TEST_MONGODB_URL names one.
tests/mongo_server.py starts the servers, each on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.sqlite.store import SQLiteStore
from tests.mongo_server import MONGODB_URL_ENV, MongoServer, OpenStore, external_server, server_for, server_ids

BACKENDS = ["sqlite", *server_ids()]


def contract_backends() -> str:
    """The report header line; tests/conftest.py prints it (pytest reads that hook from the root conftest)."""
    real = external_server()
    return (
        f"store contract backends: {', '.join(BACKENDS)} (SecantusDB replica-set and --standalone servers "
        f"started by the tests; real MongoDB: {real.description if real else f'not configured, set {MONGODB_URL_ENV}'})"
    )


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path, open_mongo: OpenStore) -> AsyncIterator[object]:
    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "contract.db")
        await backend.start()
        yield backend
        await backend.close()
    else:
        yield await open_mongo(server_for(request, request.param))


@pytest.fixture(params=server_ids())
def mongo_server(request: pytest.FixtureRequest) -> MongoServer:
    return server_for(request, request.param)


@pytest.fixture(params=server_ids(replicated=True))
def replset_server(request: pytest.FixtureRequest) -> MongoServer:
    """A server with transactions and change streams."""
    return server_for(request, request.param)


@pytest.fixture(params=server_ids(replicated=False))
def standalone_server(request: pytest.FixtureRequest) -> MongoServer:
    return server_for(request, request.param)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """One SQLiteStore on tmp_path/g.db with two readers, for the SQLite-only tests."""
    s = SQLiteStore(tmp_path / "g.db", readers=2)
    await s.start()
    try:
        yield s
    finally:
        await s.close()
