"""Webhooks across real `lensgraph serve` processes on one SQLite file: a pending delivery survives a restart
(at least once, same event id), and two processes sending together never send one delivery twice (the lease)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from resolvers.core.services import Services
from resolvers.webhooks import signing
from resolvers.webhooks.service import emit
from storage.sqlite.store import SQLiteStore
from tests.process.conftest import Spawn
from tests.webhook_receiver import Receiver, free_port

ENV = {"LENSGRAPH_WEBHOOK_ALLOW_PRIVATE": "true", "LENSGRAPH_WEBHOOK_POLL_SECONDS": "0.05",
       "LENSGRAPH_WEBHOOK_RETRY_BASE_SECONDS": "0.5", "LENSGRAPH_ANOMALY_DETECTION": "false"}
DELIVERED = re.compile(r'^lensgraph_webhook_deliveries_total\{outcome="delivered"\} (\S+)$', re.M)


async def call(http: aiohttp.ClientSession, method: str, url: str, expect: int, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as r:
        body = await r.json()
        assert r.status == expect, body
        return body["data"]


async def test_a_pending_delivery_survives_a_restart_with_the_same_event_id(spawn: Spawn, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/shared.db"
    port = free_port()  # the receiver is down
    first = await spawn(db, **ENV)
    async with aiohttp.ClientSession() as http:
        hook = await call(http, "POST", f"{first.url}/api/lens/webhooks", 201,
                          json={"url": f"http://127.0.0.1:{port}/hook", "events": ["question.answered"]})
        await call(http, "POST", f"{first.url}/api/lens/chat", 200,
                   json={"account_id": "default", "question": "How many sessions last week?"})
        for _ in range(200):  # the first attempt fails: nothing listens
            (d,) = await call(http, "GET", f"{first.url}/api/lens/webhooks/{hook['id']}/deliveries", 200)
            if d["attempts"]:
                break
            await asyncio.sleep(0.05)
        assert d["status"] == "pending" and d["attempts"][0]["status_code"] is None and d["attempts"][0]["error"]
        first.kill()  # kill -9, with the delivery pending

        receiver = await Receiver(port=port).start()
        try:
            second = await spawn(db, **ENV)
            (got,) = await receiver.wait_for(1)
            assert got.headers[signing.EVENT_ID] == d["event_id"] == got.json["id"]
            assert got.headers[signing.DELIVERY] == d["id"]
            assert signing.verify(hook["secret"], got.headers[signing.SIGNATURE], got.body)
            assert int(got.headers[signing.ATTEMPT]) >= 2
            for _ in range(100):
                (after,) = await call(http, "GET", f"{second.url}/api/lens/webhooks/{hook['id']}/deliveries", 200)
                if after["status"] == "delivered":
                    break
                await asyncio.sleep(0.05)
            assert after["status"] == "delivered" and after["attempts"][-1]["status_code"] == 200
            assert after["attempts"][0] == d["attempts"][0]  # the attempt before the restart is kept
        finally:
            await receiver.stop()


async def delivered_by(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/metrics") as r:
        found = DELIVERED.search(await r.text())
    return int(float(found.group(1))) if found else 0


async def test_two_processes_never_send_one_delivery_twice(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    receiver = await Receiver(delay=0.5).start()  # slow: each process's batch is still in flight
    try:
        servers = [await spawn(f"sqlite:///{path}", **ENV), await spawn(f"sqlite:///{path}", **ENV)]
        async with aiohttp.ClientSession() as http:
            await call(http, "POST", f"{servers[0].url}/api/lens/webhooks", 201,
                       json={"url": receiver.url, "events": ["report.generated"]})
            store = SQLiteStore(path)
            await store.start()
            try:  # 40 events at once, emitted from a third process's view of the file
                services = Services.build(store)
                began = time.monotonic()
                for i in range(40):
                    await emit(services, "default", "report.generated", f"rep_{i}", {"n": i})
            finally:
                await store.close()
            await receiver.wait_for(40, timeout=30)
            await asyncio.sleep(1.0)  # anything sent twice would have arrived by now
            ids = Counter(r.headers[signing.DELIVERY] for r in receiver.received)
            assert len(ids) == 40 and set(ids.values()) == {1}, ids.most_common(3)
            counts = [await delivered_by(http, s.url) for s in servers]
            assert sum(counts) == 40 and all(counts), counts  # both sent, none twice
            assert time.monotonic() - began < 30
    finally:
        await receiver.stop()


async def test_a_sender_killed_mid_send_loses_its_lease_and_another_sends_again(spawn: Spawn,
                                                                                  tmp_path: Path) -> None:
    """The first process dies while the receiver holds its request; the lease (2 x timeout + 5 s) runs out
    and the second process delivers the same event: at least once, de-duplicated by event id."""
    db = f"sqlite:///{tmp_path}/shared.db"
    env = {**ENV, "LENSGRAPH_WEBHOOK_TIMEOUT_SECONDS": "1"}
    receiver = await Receiver(delay=30).start()  # holds the first request past the kill
    try:
        first = await spawn(db, **env)
        async with aiohttp.ClientSession() as http:
            hook = await call(http, "POST", f"{first.url}/api/lens/webhooks", 201,
                              json={"url": receiver.url, "events": ["question.answered"]})
            await call(http, "POST", f"{first.url}/api/lens/chat", 200,
                       json={"account_id": "default", "question": "How many sessions last week?"})
            (held,) = await receiver.wait_for(1)
            first.kill()
            receiver.delay = 0
            began = time.monotonic()
            second = await spawn(db, **env)
            _, again = await receiver.wait_for(2, timeout=20)
            assert again.headers[signing.EVENT_ID] == held.headers[signing.EVENT_ID]
            assert again.headers[signing.DELIVERY] == held.headers[signing.DELIVERY]
            assert time.monotonic() - began < 10  # the lease: 2 x 1 s + 5 s from the claim
            for _ in range(100):
                (d,) = await call(http, "GET", f"{second.url}/api/lens/webhooks/{hook['id']}/deliveries", 200)
                if d["status"] == "delivered":
                    break
                await asyncio.sleep(0.05)
            assert d["status"] == "delivered" and [a["status_code"] for a in d["attempts"]] == [200]
    finally:
        await receiver.stop()
