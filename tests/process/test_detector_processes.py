"""Two `lensgraph serve` processes on one SQLite file, each with the detector on every second: one detector
runs per interval (the lease), the planted drop is stored as exactly one anomaly, and an anomalyDetected
subscriber on each process hears of it once, whichever process detected it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from resolvers.anomalies.ids import anomaly_id
from resolvers.anomalies.service import effective_rules
from resolvers.core.services import Services
from resolvers.projects.service import ensure_default
from storage.contract import AnomalyQuery, Page
from storage.sqlite.store import SQLiteStore
from tests.process.conftest import Spawn
from tests.resolvers.test_detector import RULE, P, plant

RUNS = re.compile(r'^lensgraph_job_runs_total\{job="anomalies"\} (\S+)$', re.M)


async def runs(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/metrics") as r:
        found = RUNS.search(await r.text())
    return int(float(found.group(1))) if found else 0


@contextlib.asynccontextmanager
async def anomaly_subscription(http: aiohttp.ClientSession, url: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with http.ws_connect(f"{url}/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": (
            f'subscription {{ anomalyDetected(project: "{P}") {{ id ruleId metric {{ currentValue baselineValue }} '
            "segments { dimension value } agent { id } } }")}})
        await asyncio.sleep(0.5)  # registered before anything is detected
        yield ws


async def anomalies_heard(ws: aiohttp.ClientWebSocketResponse, quiet: float) -> list[dict[str, Any]]:
    """The anomalyDetected messages until none has come for `quiet` seconds."""
    heard = []
    while True:
        try:
            message = await asyncio.wait_for(ws.receive_json(), quiet if heard else 20)
        except TimeoutError:
            return heard
        assert message["type"] == "next", message
        heard.append(message["payload"]["data"]["anomalyDetected"])


async def test_two_processes_run_one_detector_and_store_one_anomaly(spawn: Spawn, tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # the current window ends here
    store = SQLiteStore(db)
    await store.start()
    services = Services.build(store)
    await ensure_default(services, P)
    await plant(services, end - timedelta(days=2), 20, 20)  # the baseline window: 20%
    # Until the current window is planted its traffic is nothing: a real traffic drop, but not this test's.
    (project,) = await store.projects.projects_by_ids([P])
    traffic = next(r for r in await effective_rules(services, project) if r.id == "traffic_drop")
    await store.anomalies.save_rule(traffic.model_copy(update={"enabled": False}))

    env = {"LENSGRAPH_ANOMALY_INTERVAL_SECONDS": "1", "LENSGRAPH_ANOMALY_POLL_SECONDS": "0.5"}
    began = time.monotonic()
    servers = [await spawn(f"sqlite:///{db}", **env), await spawn(f"sqlite:///{db}", **env)]
    async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as streams:
        subscribers = [await streams.enter_async_context(anomaly_subscription(http, s.url)) for s in servers]
        try:
            await plant(services, end - timedelta(days=1), 5, 18)  # the current window: 11.5%, while both serve
        finally:
            await store.close()
        heard = [await anomalies_heard(ws, quiet=3) for ws in subscribers]
        await asyncio.sleep(max(0.0, 5 - (time.monotonic() - began)))
        counts = [await runs(http, s.url) for s in servers]
        elapsed = time.monotonic() - began
        listed = []
        for s in servers:
            async with http.get(f"{s.url}/api/lens/anomalies", params={"account_id": P}) as r:
                assert r.status == 200
                listed.append([a["id"] for a in (await r.json())["data"]])
    # one pass per one-second window between both processes, never one each
    assert 4 <= sum(counts) <= int(elapsed) + 2, counts
    for s in servers:
        s.kill()

    store = SQLiteStore(db)
    await store.start()
    try:
        stored = (await store.anomalies.find_anomalies(P, AnomalyQuery(), Page(limit=100, offset=0))).items
    finally:
        await store.close()
    assert len(stored) == 1  # however many passes ran, in either process
    (found,) = stored
    assert found.rule_id == RULE
    assert (found.metric.current_value, found.metric.baseline_value, found.metric.change_percentage) == (
        0.115, 0.2, -42.5) or found.window_end > end  # an hour turned mid-test: the window moved, one anomaly still
    assert found.id == anomaly_id(P, RULE, found.window_start, found.window_end)
    assert next(iter(found.segments["device"])) == "mobile"
    assert listed == [[found.id], [found.id]]  # both processes serve it
    for stream in heard:  # each subscriber heard of it once: the detecting process at once, the other by polling
        assert [(a["id"], a["ruleId"]) for a in stream] == [(found.id, RULE)]
        assert stream[0]["segments"][0] == {"dimension": "device", "value": "mobile"}
        assert stream[0]["agent"] is None
