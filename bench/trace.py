"""Reading one big trace: a 1000-event session over GraphQL and over REST.

    .venv/bin/python bench/trace.py --spawn
    .venv/bin/python bench/trace.py --url http://127.0.0.1:3000 -r 100

Ingests one typed session (session_started, then llm_call/llm_response and
tool_call/tool_response pairs sharing callIds, custom notes, session_ended),
then times, one request at a time, after --warmup untimed runs each:

  graphql        POST /graphql: the session with all its events, each with its
                 session, parent (the call it answers) and children (its answers)
  graphql-flat   the same without session/parent/children (what the nesting costs)
  timeline       GET /api/sessions/{id}/timeline (reads the chain and verifies it)
  session-002    GET /sessions/{id} (seed 002: the session with its steps, lifecycle events left out)
  events         GET /api/events?sessionId={id}&limit=500 (seed 004: one page of the session's events)

With --ingest-rate R, a separate process ingests R events/s (batches of --ingest-batch over
--ingest-connections connections, into other sessions) during the whole timed phase, warm-ups
included; the achieved rate is printed (bench/background_ingest.py).

Latency is from sending the request to having read the whole answer.
The answers are checked once (all events there, links right, chain valid);
the exit status is 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import orjson
from background_ingest import BackgroundIngest
from common import (
    RATE_LIMIT_HINT,
    Server,
    add_server_args,
    auth_headers,
    print_header,
    print_result,
    print_table,
    summarize_ms,
)
from ingest import JSON_HEADERS, iso, typed_event

FULL_QUERY = """
query Trace($id: ID!, $first: Int!) {
  session(id: $id) {
    id
    eventCount
    agent { name }
    events(first: $first) {
      totalCount
      edges { node { id type timestamp payload hash session { id } parent { id } children { id } } }
    }
  }
}
"""

FLAT_QUERY = """
query TraceFlat($id: ID!, $first: Int!) {
  session(id: $id) {
    id
    eventCount
    agent { name }
    events(first: $first) {
      totalCount
      edges { node { id type timestamp payload hash } }
    }
  }
}
"""

EVENTS_LIMIT = 500  # GET /api/events' largest page
CASES = ("graphql", "graphql-flat", "timeline", "session-002", "events")
RESPONSES = {"llm_response": "llm_call", "tool_response": "tool_call"}


def build_session(run: str, n: int, seed: int) -> tuple[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    session, agent = f"bench-{run}-trace", f"bench-trace-agent-{run}"
    base = datetime.now(UTC) - timedelta(minutes=30)
    events: list[dict[str, Any]] = [
        {
            "sessionId": session,
            "agentId": agent,
            "eventType": "session_started",
            "payload": {"agentName": "Trace Bench Agent", "agentVersion": "1.0", "tags": ["bench", "trace"]},
            "metadata": {"bench": run},
            "timestamp": iso(base),
        }
    ]
    for pos in range(max(n - 2, 0)):
        events.append(typed_event(rng, run, session, agent, pos, base + timedelta(milliseconds=10 * (pos + 1))))
    if n >= 2:
        events.append(
            {
                "sessionId": session,
                "agentId": agent,
                "eventType": "session_ended",
                "payload": {"reason": "completed", "summary": "bench trace"},
                "timestamp": iso(base + timedelta(milliseconds=10 * n)),
            }
        )
    return session, events[:n]


def check_graphql(body: Any, events: list[dict[str, Any]], flat: bool) -> list[str]:
    problems: list[str] = []
    if not isinstance(body, dict) or body.get("errors"):
        return [f"GraphQL errors: {str(body.get('errors') if isinstance(body, dict) else body)[:500]}"]
    s = (body.get("data") or {}).get("session")
    if not s:
        return ["session is null"]
    conn = s["events"]
    edges = conn["edges"]
    if conn["totalCount"] != len(events) or len(edges) != len(events):
        problems.append(f"totalCount {conn['totalCount']}, {len(edges)} edges; expected {len(events)}")
    if not (s.get("agent") or {}).get("name"):
        problems.append(f"session agent is {s.get('agent')}")
    types = [e["node"]["type"] for e in edges]
    if types != [e["eventType"] for e in events]:
        problems.append("events are not in the order they were sent")
    if flat:
        return problems
    by_id = {e["node"]["id"]: e["node"] for e in edges}
    answered = 0
    for e in edges:
        node = e["node"]
        if (node.get("session") or {}).get("id") != s["id"]:
            problems.append(f"event {node['id']}: session is {node.get('session')}")
            break
        want_parent = RESPONSES.get(node["type"])
        if want_parent:
            parent = node.get("parent")
            if not parent or by_id.get(parent["id"], {}).get("type") != want_parent:
                problems.append(f"{node['type']} {node['id']}: parent is {parent}")
                break
            answered += 1
        if node["type"] in RESPONSES.values():
            for child in node["children"]:
                if by_id.get(child["id"], {}).get("type") not in RESPONSES:
                    problems.append(f"{node['type']} {node['id']}: child {child} is not a response")
    responses = sum(1 for e in events if e["eventType"] in RESPONSES)
    if answered != responses:
        problems.append(f"{answered} responses have a parent; expected {responses}")
    return problems


def check_session_002(body: Any, events: list[dict[str, Any]]) -> list[str]:
    if not isinstance(body, dict):
        return [f"session answer: {str(body)[:300]}"]
    want = [e["eventType"] for e in events if e["eventType"] not in ("session_started", "session_ended")]
    got = [e.get("event_type") for e in body.get("events") or ()]
    return [] if got == want else [f"session holds {len(got)} steps; expected {len(want)} in order"]


def check_events(body: Any, n: int, limit: int) -> list[str]:
    if not isinstance(body, dict):
        return [f"events answer: {str(body)[:300]}"]
    problems = []
    if len(body.get("events") or ()) != min(n, limit):
        problems.append(f"page holds {len(body.get('events') or ())} events; expected {min(n, limit)}")
    if body.get("total") != n:
        problems.append(f"total is {body.get('total')}; expected {n}")
    return problems


def check_timeline(body: Any, n: int) -> list[str]:
    if not isinstance(body, dict):
        return [f"timeline answer: {str(body)[:300]}"]
    problems = []
    if len(body.get("events") or ()) != n:
        problems.append(f"timeline holds {len(body.get('events') or ())} events; expected {n}")
    if body.get("chainValid") is not True:
        problems.append(f"chainValid is {body.get('chainValid')}")
    return problems


async def timed(http: aiohttp.ClientSession, method: str, url: str, body: bytes | None, runs: int, warmup: int):
    """(latencies of the timed runs, the last answer parsed, its size in bytes)."""
    latencies: list[float] = []
    raw = b""
    status = 0
    timeout = aiohttp.ClientTimeout(total=60)
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        async with http.request(method, url, data=body, headers=JSON_HEADERS if body else None, timeout=timeout) as r:
            raw = await r.read()
            status = r.status
        dt = time.perf_counter() - t0
        if status != 200:
            hint = f" ({RATE_LIMIT_HINT})" if status == 429 else ""
            raise SystemExit(f"{method} {url}: HTTP {status} {raw[:500]!r}{hint}")
        if i >= warmup:
            latencies.append(dt)
    return latencies, orjson.loads(raw), len(raw)


async def run(args: argparse.Namespace, server: Server) -> tuple[list[dict[str, Any]], list[str]]:
    run_id = args.run_id
    session, events = build_session(run_id, args.events, args.seed)
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), headers=auth_headers(args)) as http:
        t0 = time.perf_counter()
        for start in range(0, len(events), args.batch):
            chunk = events[start : start + args.batch]
            async with http.post(
                server.url + "/api/events", data=orjson.dumps({"events": chunk}), headers=JSON_HEADERS
            ) as r:
                raw = await r.read()
                if r.status != 201:
                    raise SystemExit(f"ingest failed: HTTP {r.status} {raw[:500]!r}")
        print(f"# ingested session {session}: {len(events)} events in {time.perf_counter() - t0:.2f}s")
        sys.stdout.flush()

        background = None
        if args.ingest_rate:
            background = BackgroundIngest(
                server.url, auth_headers(args), run_id, args.ingest_rate, args.ingest_batch, args.ingest_connections
            )
            background.start()
            await asyncio.sleep(1.0)  # into the steady state before the first timed request
        server.start_pyspy()
        n = len(events)
        cases = [
            ("graphql", "POST", "/graphql", FULL_QUERY, lambda a: check_graphql(a, events, False)),
            ("graphql-flat", "POST", "/graphql", FLAT_QUERY, lambda a: check_graphql(a, events, True)),
            ("timeline", "GET", f"/api/sessions/{session}/timeline", None, lambda a: check_timeline(a, n)),
            ("session-002", "GET", f"/sessions/{session}", None, lambda a: check_session_002(a, events)),
            ("events", "GET", f"/api/events?sessionId={session}&limit={EVENTS_LIMIT}", None,
             lambda a: check_events(a, n, EVENTS_LIMIT)),
        ]
        for name, method, path, query, check in cases:
            if args.only and name not in args.only:
                continue
            body = None
            if query is not None:
                body = orjson.dumps({"query": query, "variables": {"id": session, "first": args.events}})
            lat, answer, size = await timed(http, method, server.url + path, body, args.repeat, args.warmup)
            found = check(answer)
            problems += [f"{name}: {p}" for p in found]
            stats = summarize_ms(lat)
            rows.append(
                {
                    "case": name,
                    "events": len(events),
                    "runs": stats["n"],
                    "p50_ms": stats["p50_ms"],
                    "p90_ms": stats["p90_ms"],
                    "p99_ms": stats["p99_ms"],
                    "mean_ms": stats["mean_ms"],
                    "min_ms": stats["min_ms"],
                    "max_ms": stats["max_ms"],
                    "p99/p50": round(stats["p99_ms"] / stats["p50_ms"], 2) if stats["p50_ms"] else None,
                    "answer_kB": round(size / 1024, 1),
                    "ok": "yes" if not found else "NO",
                }
            )
        server.stop_pyspy()
        if background is not None:
            bg = background.stop()
            print(
                f"# background ingest: {bg['events']} events in {bg['seconds']:.1f}s = {bg['rate']} ev/s"
                f" (asked {args.ingest_rate:g}), batch p99 {bg['batch_p99_ms']} ms, {bg['failed_batches']} failed batches"
            )
            if bg["failed_batches"]:
                problems.append(f"background ingest: {bg['failed_batches']} batches failed")
            for row in rows:
                row["ingest_ev_s"] = bg["rate"]
    return rows, problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_args(p)
    p.add_argument("-e", "--events", type=int, default=1000, help="events in the session (default %(default)s)")
    p.add_argument("-r", "--repeat", type=int, default=50, help="timed runs per case (default %(default)s)")
    p.add_argument("-w", "--warmup", type=int, default=5, help="untimed runs first (default %(default)s)")
    p.add_argument("--batch", type=int, default=500, help="events per ingest request (default %(default)s)")
    p.add_argument("--only", nargs="+", choices=CASES, help="run only these cases")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--ingest-rate", type=float, default=0, metavar="EV_PER_S",
        help="background ingest into other sessions during the timed phase, events/s (default: none)",
    )
    p.add_argument("--ingest-batch", type=int, default=100, help="events per background batch (default %(default)s)")
    p.add_argument(
        "--ingest-connections", type=int, default=8, help="background ingest connections (default %(default)s)"
    )
    args = p.parse_args()
    if not 1 <= args.events <= 1000:
        p.error("--events must be 1..1000 (the server's max page size by default)")
    if args.repeat < 1 or args.repeat > 10_000 or args.warmup < 0:
        p.error("--repeat must be 1..10000 and --warmup at least 0")
    if args.ingest_rate < 0 or not 1 <= args.ingest_batch <= 1000 or args.ingest_connections < 1:
        p.error("--ingest-rate must be >= 0, --ingest-batch 1..1000, --ingest-connections >= 1")
    args.run_id = f"{time.strftime('%H%M%S')}{secrets.token_hex(2)}"
    print_header(
        "LensGraph trace read benchmark",
        args,
        {
            "run id": args.run_id,
            "config": f"events={args.events}, repeat={args.repeat}, warmup={args.warmup}"
            + (
                f", background ingest {args.ingest_rate:g} ev/s in batches of {args.ingest_batch}"
                f" over {args.ingest_connections} connections"
                if args.ingest_rate
                else ""
            ),
        },
    )
    with Server(args) as server:
        rows, problems = asyncio.run(run(args, server))
        log_errors = server.server_log_errors()
        memory = server.memory_mib()
    print()
    print_table(rows)
    print(f"# server memory after the runs: rss {memory['rss_mib']} MiB, peak {memory['peak_rss_mib']} MiB")
    for problem in problems[:20]:
        print(f"# check failed: {problem}")
    for line in log_errors[:10]:
        print(f"# server log: {line}")
    ok = not problems
    print_result({"bench": "trace", "run_id": args.run_id, "ok": ok, "url": server.url, "database": server.database, "results": rows, "memory": memory})
    print("# OK" if ok else "# FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
