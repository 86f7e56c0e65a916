"""Two `lensgraph serve` processes on one MongoDB (SecantusDB as a replica set) behave as one server."""

from __future__ import annotations

import asyncio

import aiohttp
from pymongo import MongoClient

from tests.mongo_server import MongoServer, new_database_name
from tests.process.conftest import Spawn
from tests.process.test_two_processes import event_subscription, post


async def test_ingest_on_one_process_is_read_and_streamed_on_the_other(
    spawn: Spawn, secantus_replset: MongoServer
) -> None:
    database = new_database_name()
    url = secantus_replset.url(database)
    a, b = await spawn(url), await spawn(url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            async with event_subscription(http, b) as ws:
                answers = await asyncio.gather(*(post(http, a, k) for k in range(4)))
                assert [status for status, _, _ in answers] == [201] * 4
                # The same key sent to the other process is the first answer replayed, not a second batch.
                status, body, replayed = await post(http, b, 0)
                assert (status, replayed, body) == (201, True, answers[0][1])
                seen = []
                while len(seen) < 20:
                    message = await asyncio.wait_for(ws.receive_json(), 30)
                    assert message["type"] == "next", message
                    seen.append(message["payload"]["data"]["eventAdded"])
            query = "{ sessions(first: 20) { totalCount nodes { id eventCount events(first: 50) { totalCount } } } }"
            async with http.post(f"{b.url}/graphql", json={"query": query}) as r:
                data = (await r.json())["data"]["sessions"]
    finally:
        with MongoClient(secantus_replset.base_url) as client:
            client.drop_database(database)
    sent = sorted(k for k in range(4) for _ in range(5))
    assert sorted(e["payload"]["data"]["key"] for e in seen) == sent
    per_session = {}
    for e in seen:  # in each session, the subscriber saw the chain in order
        per_session.setdefault(e["sessionId"], []).append(e["sequence"])
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in per_session.values())
    assert data["totalCount"] == len(per_session)
    assert sum(n["eventCount"] for n in data["nodes"]) == 20
    assert all(n["events"]["totalCount"] == n["eventCount"] for n in data["nodes"])
