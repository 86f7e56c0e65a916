"""Two `lensgraph serve` processes on one SQLite file behave as one server."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from tests.process.conftest import Spawn
from tests.server_process import ServerProcess


def batch(key: int, size: int = 5) -> dict[str, Any]:
    return {
        "events": [
            {"sessionId": f"s-{key % 7}", "agentId": "agent", "eventType": "custom",
             "payload": {"type": "drill", "data": {"key": key, "i": i}}}
            for i in range(size)
        ]
    }


async def post(http: aiohttp.ClientSession, server: ServerProcess, key: int) -> tuple[int, dict[str, Any], bool]:
    async with http.post(f"{server.url}/api/events", json=batch(key), headers={"Idempotency-Key": f"key-{key}"}) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed") == "true"


async def stored_keys(http: aiohttp.ClientSession, server: ServerProcess) -> list[int]:
    keys: list[int] = []
    offset = 0
    while True:
        async with http.get(f"{server.url}/api/events", params={"limit": 500, "offset": offset, "order": "asc"}) as r:
            body = await r.json()
        keys += [e["payload"]["data"]["key"] for e in body["events"]]
        if not body["hasMore"]:
            return keys
        offset += 500


async def test_one_idempotency_key_sent_to_both_processes_at_once_is_applied_once(spawn: Spawn) -> None:
    a, b = await spawn(), await spawn()
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(post(http, server, k) for k in range(40) for server in (a, b)))
        stored = await stored_keys(http, a)
    assert sorted(stored) == sorted(k for k in range(40) for _ in range(5))  # 200 events, not 400
    for k in range(40):
        (sa, ba, ra), (sb, bb, rb) = answers[2 * k], answers[2 * k + 1]
        assert sa == sb == 201
        assert ba == bb  # the same ids and hashes: the second answer is the first one replayed
        assert sorted([ra, rb]) == [False, True]


async def test_a_retry_after_kill_9_mid_load_applies_each_batch_exactly_once(spawn: Spawn) -> None:
    """Batches whose answers were lost in a crash are retried with their keys against a new process."""
    rng = random.Random(9)
    server = await spawn()
    answered: set[int] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        for round_ in range(3):
            keys = range(round_ * 60, round_ * 60 + 60)

            async def send(k: int, target: ServerProcess = server) -> None:
                try:
                    status, _, _ = await post(http, target, k)
                    if status == 201:
                        answered.add(k)
                except aiohttp.ClientError:
                    pass  # the process died under this request: its answer is lost

            sending = asyncio.gather(*(send(k) for k in keys))
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            server.kill()  # kill -9 while batches are in flight
            await sending
            server = await spawn()
            for k in keys:  # every batch without an answer is retried, with its key
                if k not in answered:
                    status, _, _ = await post(http, server, k)
                    assert status == 201
                    answered.add(k)
        stored = await stored_keys(http, server)
    assert sorted(stored) == sorted(k for k in range(180) for _ in range(5))


async def sse_events(http: aiohttp.ClientSession, server: ServerProcess, want: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with http.get(f"{server.url}/stream", headers={"Accept": "text/event-stream"}) as r:
        assert r.status == 200
        async for line in r.content:
            if line.startswith(b"data: "):
                got.append(orjson.loads(line[6:]))
                if len(got) == want:
                    return got
    return got


@contextlib.asynccontextmanager
async def event_subscription(
    http: aiohttp.ClientSession, server: ServerProcess
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """An eventAdded subscription on the server, registered (after a pause) before the caller ingests."""
    async with http.ws_connect(f"{server.url}/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription { eventAdded { sequence sessionId payload } }"}})
        await asyncio.sleep(0.5)
        yield ws


async def test_live_events_ingested_through_one_process_reach_the_others_sse_and_subscriptions(spawn: Spawn) -> None:
    a, b = await spawn(), await spawn()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        sse = asyncio.create_task(sse_events(http, b, 15))
        async with event_subscription(http, b) as ws:  # both streams are open before anything is ingested
            for k in range(3):
                status, _, _ = await post(http, a, k)
                assert status == 201
            seen = []
            while len(seen) < 15:
                message = await ws.receive_json()
                assert message["type"] == "next", message
                seen.append(message["payload"]["data"]["eventAdded"])
        streamed = await sse
    keys = [e["payload"]["data"]["key"] for e in seen]
    assert keys == [k for k in range(3) for _ in range(5)]  # every event, in commit order
    assert [e["payload"]["data"]["key"] for e in streamed] == keys


async def test_a_per_key_rate_budget_holds_across_both_processes(spawn: Spawn) -> None:
    admin = "admin-key-for-process-tests-0123"
    limits = {"LENSGRAPH_API_KEY": admin, "LENSGRAPH_RATE_LIMITS": "true", "LENSGRAPH_RATE_LIMIT_PER_MINUTE": "6"}
    a, b = await spawn(None, **limits), await spawn(None, **limits)
    statuses = []
    remaining = []
    if time.time() % 60 > 57:  # stay inside one fixed window
        await asyncio.sleep(60 - time.time() % 60 + 0.1)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {admin}"}) as http:
        for i in range(10):
            async with http.get(f"{(a, b)[i % 2].url}/api/events") as r:
                statuses.append(r.status)
                remaining.append(r.headers["X-RateLimit-Remaining"])
    # The budget is per key, not per process: 6 pass in all, whichever process served them.
    assert statuses == [200] * 6 + [429] * 4, statuses
    assert remaining[:6] == ["5", "4", "3", "2", "1", "0"], remaining
