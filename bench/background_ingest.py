"""Steady background ingest for the read benchmarks: RATE events/s in batches of B over C connections.

Runs in its own process (multiprocessing, spawn) so that building and sending batches does not
delay the measuring client's event loop. Batches go to sessions other than the one being read
(S sessions named bench-<run>-bg-<k>, round robin). Batch i is due at start + i * B / RATE
(an open-loop schedule): when the server is slower than the rate, batches queue for a connection
and the achieved rate shows it.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from ingest import JSON_HEADERS, typed_event

PREBUILT = 64  # distinct bodies, cycled: building them is not part of the schedule


def _bodies(run: str, batch: int, sessions: int) -> list[tuple[bytes, int]]:
    rng = random.Random(7)
    base = datetime.now(UTC) - timedelta(minutes=20)
    out = []
    for b in range(PREBUILT):
        session = f"bench-{run}-bg-{b % sessions}"
        evs: list[dict[str, Any]] = [
            typed_event(rng, run, session, f"bench-bg-agent-{run}", pos, base + timedelta(milliseconds=b * batch + pos))
            for pos in range(batch)
        ]
        out.append((orjson.dumps({"events": evs}), batch))
    return out


async def _drive(url: str, headers: dict[str, str], run: str, rate: float, batch: int, conns: int, sessions: int,
                 stop: Any, ready: Any, result: Any) -> None:
    bodies = _bodies(run, batch, sessions)
    sent = failed = 0
    lat: list[float] = []
    sem = asyncio.Semaphore(conns)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=conns), headers=headers, timeout=aiohttp.ClientTimeout(total=60)
    ) as http:

        async def one(body: bytes, n: int) -> None:
            nonlocal sent, failed
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with http.post(url + "/api/events", data=body, headers=JSON_HEADERS) as r:
                        await r.read()
                        ok = r.status == 201
                except aiohttp.ClientError:
                    ok = False
                lat.append(time.perf_counter() - t0)
                if ok:
                    sent += n
                else:
                    failed += 1

        ready.set()
        start = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        i = 0
        while not stop.is_set():
            due = start + i * batch / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(min(delay, 0.05))
                continue
            body, n = bodies[i % len(bodies)]
            t = asyncio.create_task(one(body, n))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            i += 1
        elapsed = time.perf_counter() - start
        if tasks:
            await asyncio.gather(*tasks)
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else 0.0
    result.put({"events": sent, "seconds": elapsed, "failed_batches": failed, "batch_p99_ms": round(p99, 1)})


def _main(url: str, headers: dict[str, str], run: str, rate: float, batch: int, conns: int, sessions: int,
          stop: Any, ready: Any, result: Any) -> None:
    asyncio.run(_drive(url, headers, run, rate, batch, conns, sessions, stop, ready, result))


class BackgroundIngest:
    """Start with start(), stop with stop() -> {"events", "seconds", "rate", "failed_batches", "batch_p99_ms"}."""

    def __init__(self, url: str, headers: dict[str, str], run: str, rate: float, batch: int, conns: int,
                 sessions: int = 20) -> None:
        ctx = mp.get_context("spawn")
        self._stop, self._ready, self._result = ctx.Event(), ctx.Event(), ctx.Queue()
        self._proc = ctx.Process(
            target=_main,
            args=(url, headers, run, rate, batch, conns, sessions, self._stop, self._ready, self._result),
            daemon=True,
        )

    def start(self) -> None:
        self._proc.start()
        if not self._ready.wait(60):
            raise SystemExit("background ingest did not start")

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        out = self._result.get(timeout=120)
        self._proc.join(10)
        out["rate"] = round(out["events"] / out["seconds"]) if out["seconds"] else 0
        return out
