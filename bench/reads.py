"""LensGraph concurrent read throughput: C clients reading one session's timeline for S seconds.

Each request opens a new connection (so with `--workers N` the kernel picks a
worker for every request, as it would for many clients); the figure is answers
per second and their latency. The session (E events) is ingested first, untimed.

  .venv/bin/python bench/reads.py --spawn --workers 2 -c 8 -s 10
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from typing import Any

import aiohttp
from common import Server, add_server_args, auth_headers, print_header, print_result, print_table, summarize_ms


async def run(args: argparse.Namespace, server: Server) -> tuple[dict[str, Any], list[str]]:
    headers = auth_headers(args)
    session = f"reads-{args.run_id}"
    async with aiohttp.ClientSession(headers=headers) as http:
        for start in range(0, args.events, 500):
            events = [
                {"sessionId": session, "agentId": "bench", "eventType": "custom",
                 "payload": {"type": "read", "data": {"i": i, "text": "x" * 100}}}
                for i in range(start, min(start + 500, args.events))
            ]
            async with http.post(f"{server.url}/api/events", json={"events": events}) as r:
                if r.status != 201:
                    raise SystemExit(f"ingest answered {r.status}: {(await r.text())[:300]}")
    samples: list[float] = []
    problems: list[str] = []

    async def client(until: float, record: bool) -> None:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
            while time.monotonic() < until:
                began = time.perf_counter()
                async with http.get(f"{server.url}/api/sessions/{session}/timeline") as r:
                    await r.read()
                    if r.status != 200:
                        problems.append(f"HTTP {r.status}")
                        return
                if record:
                    samples.append(time.perf_counter() - began)

    await asyncio.gather(*(client(time.monotonic() + args.warmup, False) for _ in range(args.concurrency)))
    cpu0, began = server.cpu_seconds(), time.monotonic()
    await asyncio.gather(*(client(began + args.seconds, True) for _ in range(args.concurrency)))
    wall, cpu1 = time.monotonic() - began, server.cpu_seconds()
    stats = summarize_ms(samples)
    row = {
        "workers": args.workers, "conc": args.concurrency, "events": args.events, "answers": len(samples),
        "wall_s": round(wall, 2), "answers_s": round(len(samples) / wall, 1), "p50_ms": stats.get("p50_ms"),
        "p99_ms": stats.get("p99_ms"), "max_ms": stats.get("max_ms"),
        "server_cpu": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else float("nan"),
    }
    return row, problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_args(p)
    p.add_argument("-e", "--events", type=int, default=1000, help="events in the session (default %(default)s)")
    p.add_argument("-c", "--concurrency", type=int, default=8, help="clients at once (default %(default)s)")
    p.add_argument("-s", "--seconds", type=float, default=10.0, help="measured seconds (default %(default)s)")
    p.add_argument("--warmup", type=float, default=2.0, help="untimed seconds first (default %(default)s)")
    args = p.parse_args()
    if not 1 <= args.events <= 1000 or not 1 <= args.concurrency <= 64 or not 0 < args.seconds <= 600:
        p.error("--events 1..1000, --concurrency 1..64, --seconds up to 600")
    args.run_id = f"{time.strftime('%H%M%S')}{secrets.token_hex(2)}"
    print_header("LensGraph concurrent read benchmark", args, {"run id": args.run_id})
    with Server(args) as server:
        row, problems = asyncio.run(run(args, server))
        log_errors = server.server_log_errors()
    print()
    print_table([row])
    for problem in problems[:20]:
        print(f"# check failed: {problem}")
    for line in log_errors[:10]:
        print(f"# server log: {line}")
    ok = not problems
    print_result({"bench": "reads", "run_id": args.run_id, "ok": ok, "url": server.url, "results": [row]})
    print("# OK" if ok else "# FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
