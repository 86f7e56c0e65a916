"""REST ingest throughput: N events in batches of B over C connections, then read every one back.

    .venv/bin/python bench/ingest.py --spawn                  # both formats, temp SQLite
    .venv/bin/python bench/ingest.py --url http://127.0.0.1:3000 --format typed -n 20000

Formats:
  typed  POST /api/events (seed 004): llm_call/llm_response/tool_call/tool_response/custom
         events, call/response pairs sharing a callId, spread over S sessions.
  sdk    POST /events (seed 002): llm_call/tool_call events with input_data/output_data/tokens.

Every request body is built and serialized with orjson before the clock starts.
Batch latency is the time from sending a POST to having read its whole answer,
so it includes time queued behind other batches on the server (one writer).
After the timed phase every event is read back (see verify_typed / verify_sdk);
the exit status is 1 if any request failed or any event is missing or wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import orjson
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

JSON_HEADERS = {"Content-Type": "application/json"}
WORDS = ["agent", "tool", "search", "index", "vector", "query", "answer", "model", "token", "cache", "retry", "plan", "step", "user", "system", "document", "summary", "latency", "budget", "request", "response", "context", "window", "prompt", "chain", "graph", "trace", "session", "error", "timeout", "result", "score", "rank", "filter", "embed", "fetch", "parse", "store", "batch", "stream"]
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b")
TOOLS = ("web_search", "read_file", "sql_query", "http_get", "vector_lookup")


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


@dataclass
class Workload:
    """Pre-serialized request bodies and what the server must hold afterwards."""

    fmt: str
    path: str
    bodies: list[bytes]
    batch_sizes: list[int]
    sessions: list[str]
    per_session: dict[str, int] = field(default_factory=dict)
    tokens_in: dict[str, int] = field(default_factory=dict)
    tokens_out: dict[str, int] = field(default_factory=dict)
    llm_calls: dict[str, int] = field(default_factory=dict)
    tool_calls: dict[str, int] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)  # sdk: event ids sent, per session
    warmup: list[bytes] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.batch_sizes)

    @property
    def body_bytes(self) -> int:
        return sum(len(b) for b in self.bodies)


def _interleave(n: int, sessions: list[str], burst: int) -> list[tuple[str, int]]:
    """(session, position in that session) for n events: round-robin bursts, as many agents would send."""
    out: list[tuple[str, int]] = []
    pos = dict.fromkeys(sessions, 0)
    while len(out) < n:
        for s in sessions:
            for _ in range(burst):
                if len(out) >= n:
                    break
                out.append((s, pos[s]))
                pos[s] += 1
            if len(out) >= n:
                break
    return out


# -- typed (seed 004) ---------------------------------------------------------------

TYPED_CYCLE = ("llm_call", "llm_response", "tool_call", "tool_response", "custom")


def typed_event(rng: random.Random, run: str, session: str, agent: str, pos: int, ts: datetime) -> dict[str, Any]:
    kind = TYPED_CYCLE[pos % len(TYPED_CYCLE)]
    turn = pos // len(TYPED_CYCLE)
    model = MODELS[turn % len(MODELS)]
    if kind == "llm_call":
        payload: dict[str, Any] = {
            "callId": f"l{turn}",
            "provider": "openai",
            "model": model,
            "messages": [
                {"role": "system", "content": "You are a careful assistant. " + text(rng, 25)},
                {"role": "user", "content": text(rng, 20) + "?"},
            ],
            "parameters": {"temperature": 0.2, "max_tokens": 512},
        }
    elif kind == "llm_response":
        tin, tout = 200 + rng.randrange(800), 20 + rng.randrange(300)
        payload = {
            "callId": f"l{turn}",
            "provider": "openai",
            "model": model,
            "completion": text(rng, 45),
            "finishReason": "stop",
            "usage": {"inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout},
            "costUsd": round((tin * 2.5 + tout * 10) / 1e6, 6),
            "latencyMs": 150 + rng.randrange(2000),
        }
    elif kind == "tool_call":
        payload = {
            "toolName": TOOLS[turn % len(TOOLS)],
            "callId": f"t{turn}",
            "arguments": {"query": text(rng, 6), "limit": 10},
            "serverName": "mcp-tools",
        }
    elif kind == "tool_response":
        payload = {
            "callId": f"t{turn}",
            "toolName": TOOLS[turn % len(TOOLS)],
            "result": {"hits": [{"id": rng.randrange(10**6), "title": text(rng, 5), "score": rng.random()} for _ in range(3)]},
            "durationMs": 5 + rng.randrange(500),
        }
    else:
        payload = {"type": "note", "data": {"text": text(rng, 12), "step": turn}}
    return {
        "sessionId": session,
        "agentId": agent,
        "eventType": kind,
        "severity": "info",
        "payload": payload,
        "metadata": {"bench": run, "env": "bench"},
        "timestamp": iso(ts),
    }


def build_typed(run: str, n: int, batch: int, n_sessions: int, burst: int, warmup: int, seed: int) -> Workload:
    rng = random.Random(seed)
    sessions = [f"bench-{run}-t-{i:04d}" for i in range(n_sessions)]
    agents = {s: f"bench-agent-{i % 20:02d}" for i, s in enumerate(sessions)}
    w = Workload("typed", "/api/events", [], [], sessions)
    base = datetime.now(UTC) - timedelta(hours=1)
    events = []
    for i, (s, pos) in enumerate(_interleave(n, sessions, burst)):
        e = typed_event(rng, run, s, agents[s], pos, base + timedelta(milliseconds=i))
        events.append(e)
        w.per_session[s] = w.per_session.get(s, 0) + 1
        if e["eventType"] == "llm_response":
            usage = e["payload"]["usage"]
            w.tokens_in[s] = w.tokens_in.get(s, 0) + usage["inputTokens"]
            w.tokens_out[s] = w.tokens_out.get(s, 0) + usage["outputTokens"]
        elif e["eventType"] == "llm_call":
            w.llm_calls[s] = w.llm_calls.get(s, 0) + 1
        elif e["eventType"] == "tool_call":
            w.tool_calls[s] = w.tool_calls.get(s, 0) + 1
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        w.bodies.append(orjson.dumps({"events": chunk}))
        w.batch_sizes.append(len(chunk))
    for k in range(warmup):
        warm = [typed_event(rng, run, f"bench-{run}-warm-t-{k}", "bench-agent-warm", j, base) for j in range(batch)]
        w.warmup.append(orjson.dumps({"events": warm}))
    return w


# -- sdk (seed 002) -----------------------------------------------------------------


def sdk_event(rng: random.Random, session: str, agent: str, pos: int, ts: datetime) -> dict[str, Any]:
    turn = pos // 2
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": session,
        "timestamp": iso(ts),
        "agent_name": agent,
    }
    if pos % 2 == 0:
        tin, tout = 200 + rng.randrange(800), 20 + rng.randrange(300)
        event.update(
            event_type="llm_call",
            model=MODELS[turn % len(MODELS)],
            input_data={
                "messages": [
                    {"role": "system", "content": "You are a careful assistant. " + text(rng, 25)},
                    {"role": "user", "content": text(rng, 20) + "?"},
                ]
            },
            output_data={"content": text(rng, 45), "finish_reason": "stop"},
            tokens_in=tin,
            tokens_out=tout,
            duration_ms=float(150 + rng.randrange(2000)),
        )
    else:
        tool = TOOLS[turn % len(TOOLS)]
        event.update(
            event_type="tool_call",
            input_data={"tool": tool, "arguments": {"query": text(rng, 6), "limit": 10}},
            output_data={"hits": [{"id": rng.randrange(10**6), "title": text(rng, 5)} for _ in range(3)]},
            tool_call={"tool_name": tool, "call_id": f"t{turn}", "arguments": {"query": text(rng, 4)}},
            duration_ms=float(5 + rng.randrange(500)),
        )
    return event


def build_sdk(run: str, n: int, batch: int, n_sessions: int, burst: int, warmup: int, seed: int) -> Workload:
    rng = random.Random(seed + 1)
    sessions = [f"bench-{run}-s-{i:04d}" for i in range(n_sessions)]
    agents = {s: f"bench-sdk-agent-{i % 20:02d}" for i, s in enumerate(sessions)}
    w = Workload("sdk", "/events", [], [], sessions)
    base = datetime.now(UTC) - timedelta(hours=1)
    events = []
    for i, (s, pos) in enumerate(_interleave(n, sessions, burst)):
        e = sdk_event(rng, s, agents[s], pos, base + timedelta(milliseconds=i))
        events.append(e)
        w.per_session[s] = w.per_session.get(s, 0) + 1
        w.ids.setdefault(s, set()).add(e["event_id"])
        w.tokens_in[s] = w.tokens_in.get(s, 0) + e.get("tokens_in", 0)
        w.tokens_out[s] = w.tokens_out.get(s, 0) + e.get("tokens_out", 0)
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        w.bodies.append(orjson.dumps({"events": chunk}))
        w.batch_sizes.append(len(chunk))
    for k in range(warmup):
        warm = [sdk_event(rng, f"bench-{run}-warm-s-{k}", "bench-warm", j, base) for j in range(batch)]
        w.warmup.append(orjson.dumps({"events": warm}))
    return w


# -- the timed phase ----------------------------------------------------------------


def check_answer(fmt: str, status: int, raw: bytes, sent: int) -> str | None:
    """None when the server acknowledged all `sent` events, else what was wrong."""
    if status == 429:
        return RATE_LIMIT_HINT
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"HTTP {status}, not JSON: {raw[:200]!r}"
    if fmt == "typed":
        if status != 201 or body.get("ingested") != sent or len(body.get("events") or ()) != sent:
            return f"HTTP {status}: {str(body)[:300]}"
    elif status != 200 or body.get("processed") != sent:
        return f"HTTP {status}: {str(body)[:300]}"
    return None


async def post_all(
    http: aiohttp.ClientSession, base: str, w: Workload, concurrency: int, max_seconds: float, timeout: float
) -> dict[str, Any]:
    url = base + w.path
    latencies: list[float] = []
    errors: list[str] = []
    acked = 0
    done_batches = 0
    next_index = iter(range(len(w.bodies)))
    deadline = time.monotonic() + max_seconds
    stopped_early = False
    req_timeout = aiohttp.ClientTimeout(total=timeout)

    async def worker() -> None:
        nonlocal acked, done_batches, stopped_early
        for i in next_index:
            if time.monotonic() > deadline:
                stopped_early = True
                return
            t0 = time.perf_counter()
            try:
                async with http.post(url, data=w.bodies[i], headers=JSON_HEADERS, timeout=req_timeout) as r:
                    raw = await r.read()
                    status = r.status
                latencies.append(time.perf_counter() - t0)
                problem = check_answer(w.fmt, status, raw, w.batch_sizes[i])
            except (TimeoutError, aiohttp.ClientError) as exc:
                latencies.append(time.perf_counter() - t0)
                problem = f"{type(exc).__name__}: {exc}"
            done_batches += 1
            if problem is None:
                acked += w.batch_sizes[i]
            else:
                errors.append(f"batch {i}: {problem}")

    async def progress() -> None:
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(5)
            el = time.monotonic() - t0
            print(
                f"#   {w.fmt}: {done_batches}/{len(w.bodies)} batches, {acked:,} events, {acked / el:,.0f} ev/s",
                file=sys.stderr,
                flush=True,
            )

    ticker = asyncio.create_task(progress())
    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        ticker.cancel()
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "latencies": latencies,
        "errors": errors,
        "acked": acked,
        "batches_done": done_batches,
        "stopped_early": stopped_early,
    }


async def warm(http: aiohttp.ClientSession, base: str, w: Workload) -> None:
    for body in w.warmup:
        async with http.post(base + w.path, data=body, headers=JSON_HEADERS) as r:
            raw = await r.read()
            if r.status >= 300:
                hint = f" ({RATE_LIMIT_HINT})" if r.status == 429 else ""
                raise SystemExit(f"warm-up batch failed: HTTP {r.status} {raw[:300]!r}{hint}")


# -- read back ----------------------------------------------------------------------


async def get_json(http: aiohttp.ClientSession, url: str, timeout: float = 60.0) -> tuple[int, Any]:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
        raw = await r.read()
        try:
            return r.status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return r.status, raw[:300]


async def bounded(concurrency: int, coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


async def verify_typed(http: aiohttp.ClientSession, base: str, w: Workload, sample: int, seed: int) -> dict[str, Any]:
    """Count three ways: /api/events totals, sessions' eventCount and counters, sampled timelines."""
    problems: list[str] = []
    t0 = time.perf_counter()
    # 1. GET /api/events?sessionId=a,b,...&limit=1 -> total, 25 sessions per request
    totals = 0
    chunks = [w.sessions[i : i + 25] for i in range(0, len(w.sessions), 25)]
    answers = await bounded(8, [get_json(http, f"{base}/api/events?sessionId={','.join(c)}&limit=1") for c in chunks])
    for chunk, (status, body) in zip(chunks, answers):
        if status != 200 or not isinstance(body, dict):
            problems.append(f"GET /api/events for {chunk[0]}..: HTTP {status} {str(body)[:200]}")
            continue
        totals += body.get("total", 0)
    # 2. GET /api/sessions/{id}: eventCount and the rolling counters, per session
    answers = await bounded(8, [get_json(http, f"{base}/api/sessions/{s}") for s in w.sessions])
    counted = 0
    for s, (status, body) in zip(w.sessions, answers):
        if status != 200 or not isinstance(body, dict):
            problems.append(f"GET /api/sessions/{s}: HTTP {status} {str(body)[:200]}")
            continue
        counted += body.get("eventCount", 0)
        expect = {
            "eventCount": w.per_session.get(s, 0),
            "llmCallCount": w.llm_calls.get(s, 0),
            "toolCallCount": w.tool_calls.get(s, 0),
            "totalInputTokens": w.tokens_in.get(s, 0),
            "totalOutputTokens": w.tokens_out.get(s, 0),
        }
        for key, want in expect.items():
            if body.get(key) != want:
                problems.append(f"session {s}: {key} is {body.get(key)}, expected {want}")
    # 3. a sample of timelines: every event there, chain valid, seq 1..n
    rng = random.Random(seed)
    sampled = rng.sample(w.sessions, min(sample, len(w.sessions)))
    answers = await bounded(4, [get_json(http, f"{base}/api/sessions/{s}/timeline") for s in sampled])
    chains_ok = 0
    for s, (status, body) in zip(sampled, answers):
        if status != 200 or not isinstance(body, dict):
            problems.append(f"GET /api/sessions/{s}/timeline: HTTP {status} {str(body)[:200]}")
            continue
        n = len(body.get("events") or ())
        if n != w.per_session.get(s, 0):
            problems.append(f"timeline {s}: {n} events, expected {w.per_session.get(s, 0)}")
        if body.get("chainValid") is not True:
            problems.append(f"timeline {s}: chainValid is {body.get('chainValid')}")
        else:
            chains_ok += 1
    return {
        "expected": w.events,
        "stored_by_events_total": totals,
        "stored_by_session_counts": counted,
        "missing": max(w.events - totals, w.events - counted, 0),
        "extra": max(totals - w.events, counted - w.events, 0),
        "chains_checked": len(sampled),
        "chains_valid": chains_ok,
        "problems": problems,
        "verify_s": time.perf_counter() - t0,
    }


async def verify_sdk(http: aiohttp.ClientSession, base: str, w: Workload) -> dict[str, Any]:
    """GET /sessions/{id} for every session: its events array must hold exactly the ids sent."""
    problems: list[str] = []
    t0 = time.perf_counter()
    answers = await bounded(8, [get_json(http, f"{base}/sessions/{s}") for s in w.sessions])
    stored = missing = extra = 0
    for s, (status, body) in zip(w.sessions, answers):
        want = w.ids.get(s, set())
        if status != 200 or not isinstance(body, dict):
            problems.append(f"GET /sessions/{s}: HTTP {status} {str(body)[:200]}")
            missing += len(want)
            continue
        got = [e.get("event_id") for e in body.get("events") or ()]
        stored += len(got)
        got_set = set(got)
        lost, more = want - got_set, got_set - want
        missing += len(lost)
        extra += len(more) + (len(got) - len(got_set))
        if lost or more:
            problems.append(f"session {s}: {len(lost)} missing, {len(more)} unexpected event ids")
        for key, want_n in (("total_tokens_in", w.tokens_in.get(s, 0)), ("total_tokens_out", w.tokens_out.get(s, 0))):
            if body.get(key) != want_n:
                problems.append(f"session {s}: {key} is {body.get(key)}, expected {want_n}")
    return {
        "expected": w.events,
        "stored": stored,
        "missing": missing,
        "extra": extra,
        "problems": problems,
        "verify_s": time.perf_counter() - t0,
    }


# -- main ---------------------------------------------------------------------------


async def run(args: argparse.Namespace, server: Server, workloads: list[Workload]) -> tuple[list[dict], bool]:
    rows: list[dict[str, Any]] = []
    ok = True
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=auth_headers(args)) as http:
        for w in workloads:
            await warm(http, server.url, w)
            server.start_pyspy(w.fmt if len(workloads) > 1 else None)
            print(f"# {w.fmt}: posting {w.events:,} events in {len(w.bodies)} batches ({w.body_bytes / 1e6:.1f} MB) ...")
            sys.stdout.flush()
            cpu0, client0 = server.cpu_seconds(), time.process_time()
            res = await post_all(http, server.url, w, args.concurrency, args.max_seconds, args.request_timeout)
            cpu1, client1 = server.cpu_seconds(), time.process_time()
            server.stop_pyspy()
            if w.fmt == "typed":
                check = await verify_typed(http, server.url, w, args.verify_sample, args.seed)
                stored = min(check["stored_by_events_total"], check["stored_by_session_counts"])
                chains = f"{check['chains_valid']}/{check['chains_checked']}"
            else:
                check = await verify_sdk(http, server.url, w)
                stored, chains = check["stored"], "-"
            lat = summarize_ms(res["latencies"])
            row = {
                "format": w.fmt,
                "events": w.events,
                "batch": args.batch,
                "conc": args.concurrency,
                "sessions": len(w.sessions),
                "wall_s": round(res["wall_s"], 2),
                "events_s": round(res["acked"] / res["wall_s"], 1) if res["wall_s"] else 0.0,
                "batches_s": round(res["batches_done"] / res["wall_s"], 2) if res["wall_s"] else 0.0,
                "MB_s": round(w.body_bytes / 1e6 / res["wall_s"], 2) if res["wall_s"] else 0.0,
                "p50_ms": lat.get("p50_ms", float("nan")),
                "p90_ms": lat.get("p90_ms", float("nan")),
                "p99_ms": lat.get("p99_ms", float("nan")),
                "max_ms": lat.get("max_ms", float("nan")),
                # CPU seconds per wall second: 1.0 = one core busy the whole time
                "server_cpu": round((cpu1 - cpu0) / res["wall_s"], 2) if cpu0 is not None and cpu1 is not None else "-",
                "client_cpu": round((client1 - client0) / res["wall_s"], 2),
                "errors": len(res["errors"]),
                "acked": res["acked"],
                "stored": stored,
                "missing": check["missing"],
                "chains_ok": chains,
                "verify_s": round(check["verify_s"], 2),
                **server.memory_mib(),  # after this format's events: RSS now and the peak so far
            }
            rows.append(row)
            for e in res["errors"][:5]:
                print(f"# {w.fmt} error: {e}")
            for p in check["problems"][:10]:
                print(f"# {w.fmt} verify: {p}")
            if res["stopped_early"]:
                print(f"# {w.fmt}: stopped after --max-seconds {args.max_seconds}; unsent batches count as missing")
            if res["errors"] or check["missing"] or check["extra"] or check["problems"] or res["stopped_early"]:
                ok = False
    return rows, ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_args(p)
    p.add_argument("-n", "--events", type=int, default=50_000, help="events per format (default %(default)s)")
    p.add_argument("-b", "--batch", type=int, default=500, help="events per request (default %(default)s)")
    p.add_argument("-c", "--concurrency", type=int, default=8, help="concurrent connections (default %(default)s)")
    p.add_argument("-s", "--sessions", type=int, default=200, help="sessions per format (default %(default)s)")
    p.add_argument("--format", choices=("typed", "sdk", "both"), default="both")
    p.add_argument("--burst", type=int, default=5, help="consecutive events of one session in the stream (default %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up batches per format (default %(default)s)")
    p.add_argument("--max-seconds", type=float, default=150.0, help="stop posting after this long, per format")
    p.add_argument("--request-timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--verify-sample", type=int, default=10, help="typed sessions whose timeline chain is checked")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.events < 1 or args.batch < 1 or args.concurrency < 1 or args.sessions < 1:
        p.error("-n, -b, -c and -s must be at least 1")

    run_id = f"{time.strftime('%H%M%S')}{secrets.token_hex(2)}"
    formats = ("typed", "sdk") if args.format == "both" else (args.format,)
    print_header(
        "LensGraph REST ingest benchmark",
        args,
        {
            "run id": run_id,
            "config": f"N={args.events:,} per format, batch={args.batch}, concurrency={args.concurrency}, "
            f"sessions={args.sessions}, burst={args.burst}, formats={','.join(formats)}",
        },
    )
    t0 = time.perf_counter()
    workloads = []
    for fmt in formats:
        build = build_typed if fmt == "typed" else build_sdk
        workloads.append(build(run_id, args.events, args.batch, args.sessions, args.burst, args.warmup, args.seed))
    print(f"# built {sum(w.events for w in workloads):,} events in {time.perf_counter() - t0:.1f}s (untimed)")

    with Server(args) as server:
        print(f"# target {server.url} database {server.database}")
        rows, ok = asyncio.run(run(args, server, workloads))
        log_errors = server.server_log_errors()
    print()
    print_table(
        rows,
        ["format", "events", "batch", "conc", "wall_s", "events_s", "MB_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
         "server_cpu", "client_cpu", "rss_mib", "peak_rss_mib", "errors", "stored", "missing", "chains_ok"],
    )  # fmt: skip
    for line in log_errors[:10]:
        print(f"# server log: {line}")
    print_result({"bench": "ingest", "run_id": run_id, "ok": ok, "url": server.url, "database": server.database, "results": rows})
    print("# OK: every event stored" if ok else "# FAILED: see errors/missing above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
