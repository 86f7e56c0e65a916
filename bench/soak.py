"""Mixed soak: ingest, trace reads and live subscribers at once, for minutes, with the server's memory sampled.

    .venv/bin/python bench/soak.py --spawn --minutes 10
    .venv/bin/python bench/soak.py --spawn --minutes 3 --memory-debug 30 --keep   # tracemalloc log in the server

Load, all open-loop (a request starts on schedule whether or not earlier ones answered):

  ingest       --ingest-rate events/s (200) to POST /api/events in batches of --ingest-batch,
               typed events over rotating sessions; each carries its index in metadata.soak
  trace reads  --trace-rate requests/s (5) of one --trace-events (1000) event session, alternately
               the nested GraphQL trace (bench/trace.py's query) and GET /api/sessions/{id}/timeline
  live         --subscribers (6) graphql-transport-ws eventAdded subscriptions and --sse (1)
               GET /stream clients, each counting the soak events it receives

The resident memory (VmRSS of /proc/<pid>/status) of the largest server process (with --workers, the largest worker) is sampled every --sample-seconds (10).
At the end, one row per minute: RSS (last sample and max), trace latency p50/p99 (both kinds, and
each), ingest, and per live client the events of that minute delivered and lost. Every loop is
bounded by --minutes plus a drain; only 127.0.0.1 is spoken to. With --url, pass --pid to sample RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/trace.py, first on sys.path: not the standard library's trace module (which ruff files it with).
from trace import FULL_QUERY, build_session

import aiohttp
import orjson
from common import Server, add_server_args, auth_headers, percentile, print_header, print_result, print_table
from ingest import JSON_HEADERS, typed_event

SUBSCRIPTION = "subscription { eventAdded { id type sessionId sequence metadata payload%s } }"
NESTED = " session { id eventCount }"
ACTIVE_SESSIONS = 20  # ingest spreads over this many sessions at a time
SESSION_EVENTS = 250  # after which a session is replaced by a new one
MAX_IN_FLIGHT = 32  # per load kind: beyond it a scheduled request is skipped (and counted)


@dataclass
class Live:
    """One live client's count of soak events received, by the minute they were sent in."""

    name: str
    seen: bytearray
    by_minute: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    duplicates: int = 0
    ended: str = ""  # why the stream ended early, if it did

    def receive(self, index: Any, soak: Soak) -> None:
        if not isinstance(index, int) or not 0 <= index < len(self.seen):
            return
        if self.seen[index]:
            self.duplicates += 1
            return
        self.seen[index] = 1
        self.by_minute[soak.sent_minute[index]] += 1


@dataclass
class Soak:
    args: argparse.Namespace
    run: str
    capacity: int
    t0: float = 0.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    sent_minute: list[int] = field(default_factory=list)
    sent_ok: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    ingest_errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    ingest_ms: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    trace_ms: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    trace_errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds since t0, kB)
    live: list[Live] = field(default_factory=list)

    def minute(self, at: float | None = None) -> int:
        return int(((time.monotonic() if at is None else at) - self.t0) // 60)


# -- load ---------------------------------------------------------------------------------------


def soak_events(soak: Soak, start: int, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Events start..start+n-1: bursts of 5 round-robin over ACTIVE_SESSIONS, each session SESSION_EVENTS long."""
    out = []
    now = datetime.now(UTC)
    for i in range(start, start + n):
        burst, within = divmod(i, 5)
        slot = burst % ACTIVE_SESSIONS
        pos = (burst // ACTIVE_SESSIONS) * 5 + within
        generation, pos = divmod(pos, SESSION_EVENTS)
        session = f"soak-{soak.run}-{slot:02d}-{generation:05d}"
        event = typed_event(rng, soak.run, session, f"soak-agent-{slot % 5}", pos, now)
        event["metadata"] = {"soak": i, "run": soak.run}
        out.append(event)
    return out


async def scheduled(soak: Soak, rate: float, kind: str, make: Any) -> None:
    """Start make(k) at t0 + k/rate until stop; at most MAX_IN_FLIGHT at once (beyond: skipped)."""
    in_flight: set[asyncio.Task[None]] = set()
    end = soak.t0 + soak.args.minutes * 60
    k = 0
    while not soak.stop.is_set():
        due = soak.t0 + k / rate
        if due >= end:
            break
        delay = due - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(soak.stop.wait(), delay)
                break
            except TimeoutError:
                pass
        if len(in_flight) >= MAX_IN_FLIGHT:
            soak.skipped[kind] += 1
        else:
            task = asyncio.create_task(make(k))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        k += 1
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)


async def ingest_loop(soak: Soak, http: aiohttp.ClientSession, url: str) -> None:
    batch = soak.args.ingest_batch
    rng = random.Random(7)

    async def one(k: int) -> None:
        start = k * batch
        if start + batch > soak.capacity:
            return
        events = soak_events(soak, start, batch, rng)
        minute = soak.minute()
        soak.sent_minute[start : start + batch] = [minute] * batch
        body = orjson.dumps({"events": events})
        t = time.perf_counter()
        try:
            async with http.post(url + "/api/events", data=body, headers=JSON_HEADERS) as r:
                await r.read()
                ok = r.status == 201
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            soak.sent_ok[minute] += batch
            soak.ingest_ms[minute].append((time.perf_counter() - t) * 1000)
        else:
            soak.ingest_errors[minute] += batch
            soak.sent_minute[start : start + batch] = [-1] * batch  # not counted as lost

    await scheduled(soak, soak.args.ingest_rate / batch, "ingest", one)


async def trace_loop(soak: Soak, http: aiohttp.ClientSession, url: str, session: str) -> None:
    gql = orjson.dumps({"query": FULL_QUERY, "variables": {"id": session, "first": soak.args.trace_events}})
    timeout = aiohttp.ClientTimeout(total=60)

    async def one(k: int) -> None:
        kind = "graphql" if k % 2 == 0 else "timeline"
        minute = soak.minute()
        t = time.perf_counter()
        try:
            if kind == "graphql":
                request = http.post(url + "/graphql", data=gql, headers=JSON_HEADERS, timeout=timeout)
            else:
                request = http.get(f"{url}/api/sessions/{session}/timeline", timeout=timeout)
            async with request as r:
                raw = await r.read()
                ok = r.status == 200 and (kind == "timeline" or b'"errors"' not in raw[:200])
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            soak.trace_ms[(minute, kind)].append((time.perf_counter() - t) * 1000)
        else:
            soak.trace_errors[minute] += 1

    await scheduled(soak, soak.args.trace_rate, "trace", one)


# -- live clients ---------------------------------------------------------------------------------


async def ws_subscriber(soak: Soak, http: aiohttp.ClientSession, url: str, live: Live, ready: asyncio.Event) -> None:
    query = SUBSCRIPTION % (NESTED if soak.args.nested else "")
    headers = {"Authorization": f"Bearer {soak.args.api_key}"} if soak.args.api_key else {}
    async with http.ws_connect(url.replace("http", "ws", 1) + "/graphql", protocols=["graphql-transport-ws"],
                               max_msg_size=0) as ws:
        await ws.send_str(orjson.dumps({"type": "connection_init", "payload": headers}).decode())
        ack = await ws.receive_json(timeout=10)
        if ack.get("type") != "connection_ack":
            live.ended = f"no ack: {ack}"
            return
        await ws.send_str(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}).decode())
        ready.set()
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                live.ended = f"socket {msg.type.name}"
                return
            data = orjson.loads(msg.data)
            kind = data.get("type")
            if kind == "ping":
                await ws.send_str('{"type":"pong"}')
            elif kind == "next":
                payload = data["payload"]
                if payload.get("errors"):
                    live.ended = f"error: {payload['errors'][0].get('message', '')[:80]}"
                    return
                live.receive(((payload["data"]["eventAdded"] or {}).get("metadata") or {}).get("soak"), soak)
            elif kind in ("error", "complete"):
                live.ended = f"{kind}: {str(data.get('payload'))[:80]}"
                return


async def sse_client(soak: Soak, http: aiohttp.ClientSession, url: str, live: Live, ready: asyncio.Event) -> None:
    async with http.get(url + "/stream", timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as r:
        if r.status != 200:
            live.ended = f"HTTP {r.status}"
            return
        ready.set()
        async for line in r.content:
            if line.startswith(b"event: error"):
                live.ended = "error event"
            elif line.startswith(b"data: "):
                event = orjson.loads(line[6:])
                live.receive((event.get("metadata") or {}).get("soak"), soak)
    live.ended = live.ended or "stream ended"


async def live_client(coro: Any, live: Live) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a failed client is reported, it does not end the soak
        live.ended = f"{type(exc).__name__}: {exc}"[:100]


# -- memory ---------------------------------------------------------------------------------------


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


async def sample_rss(soak: Soak, pids: Callable[[], list[int]]) -> None:
    """The largest process's RSS: with --workers, the largest worker (the bound is per worker)."""
    every = soak.args.sample_seconds
    k = 0
    while not soak.stop.is_set():
        sizes = [kb for kb in map(rss_kb, pids()) if kb is not None]
        if sizes:
            soak.rss.append((time.monotonic() - soak.t0, max(sizes)))
        k += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(soak.stop.wait(), max(0.0, soak.t0 + k * every - time.monotonic()))


async def progress(soak: Soak) -> None:
    """One line a minute while the soak runs, so a long run shows its trend as it goes."""
    for m in range(soak.args.minutes):
        try:
            await asyncio.wait_for(soak.stop.wait(), max(0.0, soak.t0 + (m + 1) * 60 - time.monotonic()))
            return
        except TimeoutError:
            pass
        lat = soak.trace_ms[(m, "graphql")] + soak.trace_ms[(m, "timeline")]
        rss = [kb for t, kb in soak.rss if m * 60 <= t < (m + 1) * 60]
        print(f"# minute {m + 1}: RSS {rss[-1] / 1024 if rss else float('nan'):.0f} MB, trace p50 "
              f"{percentile(lat, 50):.0f} / p99 {percentile(lat, 99):.0f} ms ({len(lat)}), "
              f"ingested {soak.sent_ok[m]}, live received {[lv.by_minute[m] for lv in soak.live]}")
        sys.stdout.flush()


# -- run ------------------------------------------------------------------------------------------


async def wait_subscribed(http: aiohttp.ClientSession, url: str, count: int) -> int:
    """/readyz's live_subscribers: subscriptions register after their subscribe message is handled."""
    seen = -1
    for _ in range(100):
        async with http.get(url + "/readyz") as r:
            seen = int((await r.json()).get("live_subscribers", -1))
        if seen >= count:
            break
        await asyncio.sleep(0.1)
    return seen


async def run(args: argparse.Namespace, server: Server) -> Soak:
    seconds = args.minutes * 60
    soak = Soak(args, args.run_id, capacity=int(args.ingest_rate * seconds) + args.ingest_batch * 4)
    soak.sent_minute = [-1] * soak.capacity
    url = server.url
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers=auth_headers(args)) as http:
        session, events = build_session(soak.run, args.trace_events, seed=1)
        for start in range(0, len(events), 500):
            async with http.post(url + "/api/events", data=orjson.dumps({"events": events[start : start + 500]}),
                                 headers=JSON_HEADERS) as r:
                if r.status != 201:
                    raise SystemExit(f"trace session ingest failed: HTTP {r.status} {(await r.read())[:300]!r}")
        print(f"# trace session {session}: {len(events)} events")
        ready_events = []
        clients = []
        for i in range(args.subscribers + args.sse):
            ws = i < args.subscribers
            live = Live(f"ws{i + 1}" if ws else f"sse{i - args.subscribers + 1}", bytearray(soak.capacity))
            soak.live.append(live)
            ready = asyncio.Event()
            ready_events.append(ready)
            coro = (ws_subscriber if ws else sse_client)(soak, http, url, live, ready)
            clients.append(asyncio.create_task(live_client(coro, live)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready_events)), 30)
        registered = await wait_subscribed(http, url, args.subscribers + args.sse)
        print(f"# live clients registered on the server: {registered}")
        sys.stdout.flush()

        soak.t0 = time.monotonic()
        pids = server.pids if server.proc is not None else (lambda: [args.pid] if args.pid else [])
        loops = [
            asyncio.create_task(ingest_loop(soak, http, url)),
            asyncio.create_task(trace_loop(soak, http, url, session)),
            asyncio.create_task(sample_rss(soak, pids)),
            asyncio.create_task(progress(soak)),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(asyncio.gather(*loops)), seconds)
        soak.stop.set()
        await asyncio.wait(loops, timeout=90)
        await asyncio.sleep(args.drain)  # the last events reach the live clients
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    return soak


def minute_rows(soak: Soak) -> list[dict[str, Any]]:
    rows = []
    for m in range(soak.args.minutes):
        gql, tl = soak.trace_ms[(m, "graphql")], soak.trace_ms[(m, "timeline")]
        both = gql + tl
        rss = [kb for t, kb in soak.rss if m * 60 <= t < (m + 1) * 60]
        sent = soak.sent_ok[m]
        row: dict[str, Any] = {
            "min": m + 1,
            "rss_mb": round(rss[-1] / 1024, 1) if rss else float("nan"),
            "rss_max_mb": round(max(rss) / 1024, 1) if rss else float("nan"),
            "trace_n": len(both),
            "p50_ms": round(percentile(both, 50), 1),
            "p99_ms": round(percentile(both, 99), 1),
            "gql_p99": round(percentile(gql, 99), 1),
            "tl_p99": round(percentile(tl, 99), 1),
            "trace_err": soak.trace_errors[m],
            "ingested": sent,
            "ingest_p99": round(percentile(soak.ingest_ms[m], 99), 1),
            "ingest_err": soak.ingest_errors[m],
            "delivered": "/".join(str(lv.by_minute[m]) for lv in soak.live),
            "lost": "/".join(str(sent - lv.by_minute[m]) for lv in soak.live),
        }
        rows.append(row)
    return rows


def summary(soak: Soak, rows: list[dict[str, Any]]) -> dict[str, Any]:
    rss_mb = [r["rss_mb"] for r in rows if r["rss_mb"] == r["rss_mb"]]
    growth = (rss_mb[-1] - rss_mb[0]) / rss_mb[0] * 100 if len(rss_mb) > 1 else float("nan")
    lost = {lv.name: sum(soak.sent_ok.values()) - sum(lv.by_minute.values()) for lv in soak.live}
    return {
        "rss_first_minute_mb": rss_mb[0] if rss_mb else None,
        "rss_last_minute_mb": rss_mb[-1] if rss_mb else None,
        "rss_growth_after_minute_1_pct": round(growth, 1),
        "p99_first_minute_ms": rows[0]["p99_ms"] if rows else None,
        "p99_last_minute_ms": rows[-1]["p99_ms"] if rows else None,
        "ingested": sum(soak.sent_ok.values()),
        "lost": lost,
        "live_ended": {lv.name: lv.ended for lv in soak.live if lv.ended},
        "duplicates": {lv.name: lv.duplicates for lv in soak.live if lv.duplicates},
        "skipped": dict(soak.skipped),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_args(p)
    p.add_argument("--minutes", type=int, default=10, help="length of the soak (default %(default)s)")
    p.add_argument("--ingest-rate", type=float, default=200.0, help="events per second (default %(default)s)")
    p.add_argument("--ingest-batch", type=int, default=10, help="events per POST (default %(default)s)")
    p.add_argument("--trace-rate", type=float, default=5.0, help="trace reads per second (default %(default)s)")
    p.add_argument("--trace-events", type=int, default=1000, help="events of the trace read (default %(default)s)")
    p.add_argument("--subscribers", type=int, default=6, help="graphql-transport-ws subscribers (default %(default)s)")
    p.add_argument("--sse", type=int, default=1, help="SSE clients on GET /stream (default %(default)s)")
    p.add_argument("--nested", action="store_true", help="subscribers also select each event's session")
    p.add_argument("--sample-seconds", type=float, default=10.0, help="RSS sampling period (default %(default)s)")
    p.add_argument("--drain", type=float, default=5.0, help="seconds for the last events to arrive (%(default)s)")
    p.add_argument("--pid", type=int, help="with --url: the server's pid, for its RSS")
    p.add_argument(
        "--memory-debug", type=float, metavar="SECONDS",
        help="with --spawn: LENSGRAPH_MEMORY_DEBUG=SECONDS (tracemalloc and object counts in the server's log); "
        "slows the server, so only for finding growth, not for the figures",
    )
    p.add_argument("--memory-debug-frames", type=int, default=1,
                   help="frames per traced allocation; 0: no tracemalloc, native figures and census (%(default)s)")
    args = p.parse_args()
    if not 1 <= args.minutes <= 180:
        p.error("--minutes must be 1..180")
    if not (0 < args.ingest_rate <= 5000 and 0 < args.trace_rate <= 100 and 1 <= args.ingest_batch <= 1000):
        p.error("--ingest-rate must be in (0, 5000], --trace-rate in (0, 100], --ingest-batch 1..1000")
    if not (0 <= args.subscribers <= 200 and 0 <= args.sse <= 50 and 1 <= args.trace_events <= 1000):
        p.error("--subscribers 0..200, --sse 0..50, --trace-events 1..1000")
    if args.memory_debug:
        os.environ["LENSGRAPH_MEMORY_DEBUG"] = str(args.memory_debug)
        os.environ["LENSGRAPH_MEMORY_DEBUG_FRAMES"] = str(args.memory_debug_frames)
    args.run_id = f"{time.strftime('%H%M%S')}{secrets.token_hex(2)}"
    print_header("LensGraph mixed soak", args, {
        "run id": args.run_id,
        "config": f"minutes={args.minutes}, ingest={args.ingest_rate:g}/s in {args.ingest_batch}s, "
        f"trace={args.trace_rate:g}/s of {args.trace_events} events, subscribers={args.subscribers}"
        f"{' (nested)' if args.nested else ''}, sse={args.sse}",
    })
    with Server(args) as server:
        soak = asyncio.run(run(args, server))
        log_errors = server.server_log_errors()
        debug_lines = []
        if args.memory_debug and server.log_path and server.log_path.exists():
            debug_lines = [ln for ln in server.log_path.read_text(errors="replace").splitlines() if "memdebug" in ln]
    rows = minute_rows(soak)
    print()
    print_table(rows, title=f"per minute; delivered/lost per live client: {', '.join(lv.name for lv in soak.live)}")
    result = summary(soak, rows)
    print()
    for key, value in result.items():
        print(f"# {key}: {value}")
    for line in log_errors[:10]:
        print(f"# server log: {line}")
    if debug_lines:
        print(f"# {len(debug_lines)} memdebug lines in the server log (--keep keeps it)")
    print_result({"bench": "soak", "run_id": args.run_id, "rss": soak.rss, "minutes": rows, **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
