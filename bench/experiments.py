"""GET /experiments/{id} over HTTP with 100,000 exposed users: p50/p95/p99 of the live results.

    .venv/bin/python bench/experiments.py --spawn                        # 100,000 users, SQLite
    .venv/bin/python bench/experiments.py --spawn --users 20000 --repeat 10
    .venv/bin/python bench/experiments.py --spawn --db /tmp/x.db --keep-db  # reuse the generated file

The data, written straight into the store's SQLite file after the store has created its schema, with the
index of exposures ingest keeps (this measures the read, not ingest): --users users, each exposed to the
experiment once by the assignment rule (50/50) at a random time in the last 20 hours, a quarter of them
exposed again later (the repeat must not count); 10% of control and 11% of the treatment send the goal event
(signup) after exposure, 3% of users a signup before it (not a conversion); and --noise unrelated tracked
events (pageviews, clicks, purchases) from the same users. The experiment is created over REST after the
server starts (the counts read from a day before its creation). Each figure is one GET after one warm-up;
milliseconds, client side. The answer's exposed users are checked against the data.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, add_server_args, percentile, print_header, print_result, print_table, summarize_ms
from resolvers.experiments.assignment import assign
from storage.models.traces import PRODUCT_FIELDS
from storage.sqlite import exposures
from storage.sqlite.rows import INSERT_EVENT_COLUMNS
from storage.sqlite.store import SQLiteStore

PREFIX = "/agent-analytics"
P = "default"
NAME = "checkout-cta"
VARIANTS = [("control", 50), ("treatment", 50)]
RATES = {"control": 0.10, "treatment": 0.11}
HOUR = 3_600_000


def generate(path: Path, users: int, noise: int, seed: int = 3) -> dict[str, int]:
    """The events, in time order; returns variant -> exposed users."""
    rnd = random.Random(seed)
    now = int(time.time() * 1000)
    start = now - 20 * HOUR
    events: list[tuple[int, str, str, dict[str, Any]]] = []  # (ts, user, type, properties)
    exposed = {key: 0 for key, _ in VARIANTS}
    for i in range(users):
        user = f"user-{i:07d}"
        variant = assign(NAME, user, VARIANTS)
        exposed[variant] += 1
        at = start + rnd.randrange(0, 19 * HOUR)
        events.append((at, user, "$experiment_exposure", {"experiment": NAME, "variant": variant}))
        if rnd.random() < 0.25:
            events.append((rnd.randrange(at + 1, now), user, "$experiment_exposure",
                           {"experiment": NAME, "variant": variant}))
        if rnd.random() < RATES[variant]:
            events.append((rnd.randrange(at + 1, now), user, "signup", {"plan": rnd.choice(["free", "pro"])}))
        if rnd.random() < 0.03:
            events.append((rnd.randrange(start - HOUR, at), user, "signup", {"plan": "free"}))
    for _ in range(noise):
        user = f"user-{rnd.randrange(users):07d}"
        kind = rnd.choices(["pageview", "click", "purchase"], [75, 22, 3])[0]
        events.append((rnd.randrange(start, now), user, kind, {"path": rnd.choice(["/", "/pricing", "/checkout"])}))
    events.sort(key=lambda e: e[0])

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    marks = ",".join("?" * len(INSERT_EVENT_COLUMNS.split(",")))
    insert = f"INSERT INTO events ({INSERT_EVENT_COLUMNS}) VALUES ({marks})"
    rows = []
    for rowid, (at, user, kind, props) in enumerate(events, start=1):
        product = ("tracker", user, None, "https://example.com/", "/", None, None, None, None, None, None, None,
                   "desktop", "Chrome", "Linux", "US")
        assert len(product) == len(PRODUCT_FIELDS)
        rows.append((rowid, P, f"e{rowid:09d}", f"s-{user}", None, kind, "info", at, at, rowid, None, None, None,
                     None, None, None, orjson.dumps(props), b"{}", "", None, None, *product))
        if len(rows) >= 50_000:
            conn.executemany(insert, rows)
            rows.clear()
    conn.executemany(insert, rows)
    conn.execute(exposures.INDEX_BATCH, (0, len(events)))  # what commit_batch adds per batch
    conn.commit()  # no ANALYZE: the store never runs it
    conn.close()
    print(f"# generated {len(events):,} events for {users:,} users")
    return exposed


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def measure(url: str, repeat: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Creates the experiment, then times its GET; the figures and the last answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    status, made = request(conn, "POST", f"{PREFIX}/experiments", {
        "project": P, "name": NAME, "variants": [k for k, _ in VARIANTS], "goal_event": "signup",
        "weights": [w for _, w in VARIANTS]})
    if status == 409:  # a reused --db holds it from an earlier run
        status, listed = request(conn, "GET", f"{PREFIX}/experiments?project={P}")
        made = next(e for e in listed["experiments"] if e["name"] == NAME)
    elif status != 201:
        raise SystemExit(f"create answered {status}: {made}")
    path = f"{PREFIX}/experiments/{made['id']}?project={P}"
    status, answer = request(conn, "GET", path)  # warm-up
    if status != 200:
        raise SystemExit(f"GET answered {status}: {str(answer)[:300]}")
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        request(conn, "GET", path)
        samples.append(time.perf_counter() - t0)
    conn.close()
    return {**summarize_ms(samples), "p95_ms": round(percentile([s * 1000 for s in samples], 95), 2)}, answer


def prepare_db(path: Path, args: argparse.Namespace) -> dict[str, int] | None:
    if path.exists():
        print(f"# reusing {path} (exposures not checked)")
        return None

    async def schema() -> None:
        store = SQLiteStore(path)
        await store.start()
        await store.close()

    asyncio.run(schema())
    t0 = time.perf_counter()
    exposed = generate(path, args.users, args.noise)
    print(f"# generated in {time.perf_counter() - t0:.0f} s")
    return exposed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    parser.add_argument("--users", type=int, default=100_000, help="exposed users (default %(default)s)")
    parser.add_argument("--noise", type=int, default=200_000, help="unrelated tracked events (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", help="the generated SQLite file (default: a temp file); reused if it exists")
    parser.add_argument("--keep-db", action="store_true", help="keep the generated file")
    args = parser.parse_args()
    if not args.spawn:
        raise SystemExit("use --spawn: the bench generates its own data set")
    tmp = Path(tempfile.mkdtemp(prefix="lensgraph-experiments-"))
    db = Path(args.db) if args.db else tmp / "experiments.db"
    try:
        expected = prepare_db(db, args)
        args.database = f"sqlite:///{db.resolve()}"
        print_header("GET /experiments/{id} over HTTP", args, {"users": args.users, "noise": args.noise,
                                                               "repeat": args.repeat})
        with Server(args) as server:
            timing, answer = measure(server.url, args.repeat)
    finally:
        if not args.keep_db:
            shutil.rmtree(tmp, ignore_errors=True)
    found = {v["key"]: (v["unique_users"], v["conversions"]) for v in answer["results"]["variants"]}
    if expected is not None and {k: n for k, (n, _) in found.items()} != expected:
        raise SystemExit(f"exposed users differ: expected {expected}, answered {found}")
    print(f"# answer: {', '.join(f'{k} {n:,} exposed, {c:,} converted' for k, (n, c) in found.items())}")
    row = {"request": "GET /experiments/{id}", "n": timing["n"], "p50_ms": timing["p50_ms"],
           "p95_ms": timing["p95_ms"], "p99_ms": timing["p99_ms"], "max_ms": timing["max_ms"]}
    print_table([row])
    print_result({"bench": "experiments", "users": args.users, "noise": args.noise, **timing})


if __name__ == "__main__":
    main()
