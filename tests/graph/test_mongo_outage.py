"""A MongoDB outage is answered, not crashed on: the server stops mid-run, every surface answers 503 with
Retry-After (GraphQL: UNAVAILABLE), and once the server is back the client's retry is stored exactly once.

Each test stops and restarts its own SecantusDB (same port, same data), never the session's shared servers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from graph.app.factory import create_app
from graph.app.settings import Settings
from storage.mongo.store import MongoStore
from tests.faults import typed_batch
from tests.mongo_server import SecantusServers, new_database_name

SELECTION_MS = 100  # how long the driver looks for a server before giving up: the outage's 503 comes this soon
RECOVERY_ATTEMPTS = 200  # hang guard while the driver finds the restarted server

UNREACHABLE = {
    "Service unavailable: MongoDB cannot be reached; retry after 5 s",
    "Service unavailable: the connection to MongoDB failed or timed out; retry after 5 s",
    "Service unavailable: MongoDB did not answer in time; retry after 5 s",  # a replica set's bounded commit
}


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[SecantusServers]:
    servers = SecantusServers(tmp_path, durable=True)
    yield servers
    for standalone in list(servers.running):
        servers.stop(standalone)  # killed: durable, and nothing is left to flush


async def serve(url: str) -> TestClient:
    client = TestClient(TestServer(create_app(Settings(database_url=url, rate_limits=False), store=MongoStore(url)),
                                   host="127.0.0.1"))
    await client.start_server()
    return client


async def post(client: TestClient, key: str) -> tuple[int, Any, Any]:
    resp = await client.post("/api/events", json=typed_batch(key, 5, 100), headers={"Idempotency-Key": key})
    return resp.status, await resp.json(), resp.headers


@pytest.mark.parametrize("standalone", [True, False], ids=["standalone", "replset"])
async def test_rest_graphql_and_sse_answer_503_while_mongodb_is_down_and_the_retry_is_stored_once(
    outage: SecantusServers, standalone: bool, caplog: pytest.LogCaptureFixture
) -> None:
    server = outage.get(standalone)
    url = server.url(new_database_name()) + f"&serverSelectionTimeoutMS={SELECTION_MS}"
    client = await serve(url)
    try:
        assert (await post(client, "first"))[0] == 201

        outage.stop(standalone)
        caplog.clear()
        # Every surface at once (each waits for the driver to give up on the server): writes, reads, another
        # family, an SSE resume (it reads what the client missed before its stream starts), GraphQL, readiness.
        (status, body, headers), events, projects, stream, graphql, ready = await asyncio.gather(
            post(client, "second"), client.get("/api/events"), client.get("/agent-analytics/projects"),
            client.get("/stream", headers={"Last-Event-ID": "1"}),
            client.post("/graphql", json={"query": "{ sessions { totalCount } }"}), client.get("/readyz"),
        )
        assert (status, headers["Retry-After"]) == (503, "5") and body["error"] in UNREACHABLE
        assert (events.status, events.headers["Retry-After"]) == (503, "5")
        assert (await events.json())["error"] in UNREACHABLE
        assert projects.status == 503 and set(await projects.json()) == {"error"}
        assert (stream.status, stream.content_type, stream.headers["Retry-After"]) == (503, "application/json", "5")
        assert (await graphql.json())["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 5}
        readiness = await ready.json()
        assert (ready.status, readiness["status"]) == (503, "unavailable")
        assert readiness["checks"]["store"].startswith("unavailable: ")
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]  # warnings, no tracebacks

        outage.restart(standalone)
        for _ in range(RECOVERY_ATTEMPTS):
            status, first, headers = await post(client, "second")  # the client's retry, with its key
            if status == 201:
                break
            assert status == 503
            await asyncio.sleep(0.05)
        assert (status, first["ingested"], "Idempotent-Replayed" in headers) == (201, 5, False)
        status, again, headers = await post(client, "second")
        assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")
        events = await (await client.get("/api/events", params={"limit": 100})).json()
        assert events["total"] == 10  # both batches, each once
        timeline = await (await client.get("/api/sessions/s-0/timeline")).json()
        assert (len(timeline["events"]), timeline["chainValid"]) == (4, True)
        resp = await client.get("/readyz")
        assert (resp.status, (await resp.json())["status"]) == (200, "ready")
    finally:
        await client.close()  # the server's data goes with tmp_path
