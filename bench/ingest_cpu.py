"""CPU per ingested event, in process: the server's app and its client in one process, CPU time counted.

bench/ingest.py over HTTP measures throughput, which on a shared 2-core machine swings by a fifth between
rounds; a change worth a few microseconds an event hides in that. Here the app (create_app, a temp SQLite
file) is served in this process and posted the same pre-serialized bodies as bench/ingest.py builds, over
C connections; the figure is the process's CPU time (every thread: loop, writer, checkpointer, and the
client, which is the same work for any server code) per event. Run it from a snapshot to measure that
snapshot's code:

    .venv/bin/python bench/ingest_cpu.py --repo /tmp/i3-base -n 20000 -b 100 --format typed
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent), help="source tree to run")
    parser.add_argument("-n", "--events", type=int, default=20000)
    parser.add_argument("-b", "--batch", type=int, default=100)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--format", choices=("typed", "sdk"), default="typed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.path[:0] = [args.repo, str(Path(args.repo) / "bench")]
    return asyncio.run(run(args))


async def run(args: argparse.Namespace) -> int:
    import logging

    from aiohttp.test_utils import TestClient, TestServer
    from ingest import build_sdk, build_typed  # bench/ingest.py of the snapshot

    from graph.app.factory import create_app
    from graph.app.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    build = build_typed if args.format == "typed" else build_sdk
    work = build("cpu", args.events, args.batch, 200, 5, 2, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/cpu.db", rate_limits=False, access_log=False, log_level="WARNING",
            anomaly_detection=False, reports=False, webhook_delivery=False,
        )
        client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
        await client.start_server()
        try:
            for body in work.warmup:
                await post(client, work.path, body)
            queue = list(reversed(work.bodies))

            async def worker() -> None:
                while queue:
                    await post(client, work.path, queue.pop())

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            await client.close()
    events = work.events
    print(f"{args.format} events={events} batch={args.batch} cpu_s={cpu:.3f} wall_s={wall:.3f} "
          f"cpu_us_per_event={cpu / events * 1e6:.1f} repo={args.repo}")
    return 0


async def post(client: object, path: str, body: bytes) -> None:
    resp = await client.post(path, data=body, headers={"Content-Type": "application/json"})  # type: ignore[attr-defined]
    if resp.status >= 300:
        raise SystemExit(f"{resp.status}: {(await resp.text())[:300]}")
    await resp.read()


if __name__ == "__main__":
    raise SystemExit(main())
