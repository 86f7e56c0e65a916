"""Live fan-out: S subscribers while ingest runs at a fixed rate.

Each event carries its send time; every subscriber records when it arrives.
Prints delivery latency (p50/p99/max, from the POST being sent to the event
reaching a subscriber) and events lost per subscriber (0 for subscribers that
keep up).

    python bench/live.py --spawn                       # start a server on a temp SQLite file
    python bench/live.py --url http://127.0.0.1:3000   # an already running server
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_healthy(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{url}/api/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"server at {url} did not become healthy")


async def subscriber(http: aiohttp.ClientSession, url: str, run: str, ready: asyncio.Event,
                     counter: list[int], total: int, latencies: list[float]) -> int:
    received = 0
    async with http.ws_connect(url.replace("http", "ws", 1) + "/graphql", protocols=["graphql-transport-ws"],
                               max_msg_size=0) as ws:
        key = os.environ.get("LENSGRAPH_API_KEY", "")
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"} if key else {}})
        await ws.receive_json()
        query = 'subscription($s: ID) { eventAdded(filter: {sessionId: $s}) { payload } }'
        await ws.send_json({"id": "1", "type": "subscribe",
                            "payload": {"query": query, "variables": {"s": f"live-{run}"}}})
        counter[0] += 1
        if counter[0] == counter[1]:
            ready.set()
        while received < total:
            try:
                msg = await ws.receive(timeout=10)
            except TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = orjson.loads(msg.data)
            if data.get("type") != "next":
                continue
            now = time.time()
            payload = data["payload"]["data"]["eventAdded"]["payload"]
            latencies.append(now - payload["data"]["sent"])
            received += 1
    return received


async def main(args: argparse.Namespace) -> int:
    run = uuid.uuid4().hex[:8]
    total = int(args.rate * args.seconds)
    per_tick = max(1, args.batch)
    latencies: list[float] = []
    ready = asyncio.Event()
    counter = [0, args.subscribers]
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"Authorization": f"Bearer {os.environ['LENSGRAPH_API_KEY']}"} if os.environ.get("LENSGRAPH_API_KEY") else {}
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [asyncio.create_task(subscriber(http, args.url, run, ready, counter, total, latencies))
                 for _ in range(args.subscribers)]
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(0.5)  # subscriptions register after the subscribe message is handled
        sent = 0
        start = time.monotonic()
        while sent < total:
            n = min(per_tick, total - sent)
            body = {"events": [{"sessionId": f"live-{run}", "agentId": "bench", "eventType": "custom",
                                "payload": {"type": "tick", "data": {"i": sent + i, "sent": time.time()}}}
                               for i in range(n)]}
            async with http.post(f"{args.url}/api/events", json=body, headers=headers) as resp:
                if resp.status != 201:
                    print("ingest failed:", resp.status, await resp.text(), file=sys.stderr)
                    return 1
            sent += n
            next_at = start + (sent / args.rate)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        elapsed = time.monotonic() - start
        counts = await asyncio.gather(*tasks)
    lost = [total - c for c in counts]
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    result = {
        "subscribers": args.subscribers, "events": total, "rate_target": args.rate,
        "rate_achieved": round(total / elapsed, 1), "deliveries": len(latencies),
        "latency_ms_p50": round(pct(0.50), 2), "latency_ms_p99": round(pct(0.99), 2),
        "latency_ms_max": round(latencies[-1] * 1000, 2) if latencies else None,
        "events_lost_total": sum(lost), "subscribers_with_loss": sum(1 for x in lost if x),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print("RESULT " + json.dumps(result))
    return 0 if sum(lost) == 0 else 2


def spawn(database: str | None) -> tuple[subprocess.Popen, str, str | None]:
    port = free_port()
    tmp = None
    if database is None:
        tmp = tempfile.mkdtemp(prefix="lensgraph-bench-")
        database = f"sqlite:///{tmp}/bench.db"
    env = {**os.environ, "LENSGRAPH_RATE_LIMITS": "false", "LENSGRAPH_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graph.app.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--database", database],
        cwd=ROOT, env=env,
    )
    return proc, f"http://127.0.0.1:{port}", tmp


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--spawn", action="store_true", help="start a server for the run")
    parser.add_argument("--database", help="with --spawn: a database URL (default: a temp SQLite file)")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--batch", type=int, default=5, help="events per POST")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))
    proc = None
    if args.spawn:
        proc, args.url, _ = spawn(args.database)
    try:
        asyncio.run(wait_healthy(args.url))
        code = asyncio.run(main(args))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    raise SystemExit(code)
