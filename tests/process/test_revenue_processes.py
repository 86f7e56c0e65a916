"""Seed 000's Idempotency-Key across real `lensgraph serve` processes: two at once, and a crash drill."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.mongo_server import MongoServer, new_database_name
from tests.process.conftest import Spawn
from tests.server_process import ServerProcess

DIE_AFTER_COMMIT = str(Path(__file__).with_name("die_after_commit.py"))


async def create(http: aiohttp.ClientSession, server: ServerProcess, key: str, amount: str) -> tuple[int, Any, bool]:
    async with http.post(f"{server.url}/v1/revenues", json={"amount": amount, "description": key},
                         headers={"Idempotency-Key": key}) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed") == "true"


async def revenues(http: aiohttp.ClientSession, server: ServerProcess) -> list[dict[str, Any]]:
    async with http.get(f"{server.url}/v1/revenues", params={"limit": "1000"}) as r:
        assert r.status == 200
        return (await r.json())["data"]


async def test_one_key_sent_to_two_processes_at_once_creates_one_revenue(spawn: Spawn) -> None:
    a, b = await spawn(), await spawn()
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(create(http, server, f"order-{k}", f"{k}.25")
                                         for k in range(30) for server in (a, b)))
        stored = await revenues(http, b)
    assert sorted(r["description"] for r in stored) == sorted(f"order-{k}" for k in range(30))  # 30, not 60
    for k in range(30):
        (sa, ba, ra), (sb, bb, rb) = answers[2 * k], answers[2 * k + 1]
        assert sa == sb == 201 and ba == bb and ba["amount"] == f"{k}.25"
        assert sorted([ra, rb]) == [False, True]  # one created it, the other replayed its answer


async def test_a_crash_between_commit_and_answer_then_a_retry_leaves_one_revenue(spawn: Spawn) -> None:
    doomed = await spawn(None, wrapper=(sys.executable, DIE_AFTER_COMMIT))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        try:
            await create(http, doomed, "order-crash", "99.99")
            raise AssertionError("the server answered; it should have died after its commit")
        except aiohttp.ClientError:
            pass  # kill -9 after the commit: the answer is lost
        assert doomed.proc.wait(timeout=10) == -9
        survivor = await spawn()
        status, body, replayed = await create(http, survivor, "order-crash", "99.99")
        again = await create(http, survivor, "order-crash", "99.99")
        stored = await revenues(http, survivor)
    assert (status, replayed, body["amount"], body["description"]) == (201, True, "99.99", "order-crash")
    assert again == (201, body, True)
    assert [r["id"] for r in stored] == [body["id"]]  # the one committed before the crash, and no other


async def test_one_key_sent_to_two_processes_on_mongodb_creates_one_revenue(
    spawn: Spawn, secantus_replset: MongoServer
) -> None:
    url = secantus_replset.url(new_database_name())
    a, b = await spawn(url), await spawn(url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        answers = await asyncio.gather(*(create(http, server, f"order-{k}", "5")
                                         for k in range(10) for server in (a, b)))
        stored = await revenues(http, a)
    assert sorted(r["description"] for r in stored) == sorted(f"order-{k}" for k in range(10))
    assert all(answers[2 * k][1] == answers[2 * k + 1][1] for k in range(10))
    assert sorted(replayed for _, _, replayed in answers) == [False] * 10 + [True] * 10
