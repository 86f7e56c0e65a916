"""Two `lensgraph serve` processes on one SQLite file, each with the detector on every second: one detector
runs per interval (the lease), and the planted drop is stored as exactly one anomaly."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from resolvers.anomalies.ids import anomaly_id
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


async def test_two_processes_run_one_detector_and_store_one_anomaly(spawn: Spawn, tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # the current window ends here
    store = SQLiteStore(db)
    await store.start()
    services = Services.build(store)
    await ensure_default(services, P)
    await plant(services, end - timedelta(days=2), 20, 20)  # the baseline window: 20%
    await plant(services, end - timedelta(days=1), 5, 18)  # the current window: 11.5%
    await store.close()

    env = {"LENSGRAPH_ANOMALY_INTERVAL_SECONDS": "1"}
    began = time.monotonic()
    servers = [await spawn(f"sqlite:///{db}", **env), await spawn(f"sqlite:///{db}", **env)]
    await asyncio.sleep(5)
    async with aiohttp.ClientSession() as http:
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
