"""Seed 003's analytics reports over HTTP on a realistic data set: p50/p99 per report.

    .venv/bin/python bench/analytics.py --spawn                       # 1,000,000 events, SQLite
    .venv/bin/python bench/analytics.py --spawn --events 200000 --repeat 5
    .venv/bin/python bench/analytics.py --spawn --db /tmp/a.db --keep-db  # reuse the generated file
    .venv/bin/python bench/analytics.py --spawn --check-mongo 5000    # and the MongoDB cross-check

The data (bench/analytics_store.generate): --events events over the last --days days, 90% tracked
page views, clicks, signups and purchases from --users users in --sessions sessions with paths,
referrers, UTM, device, browser, OS and country, 10% agent steps, all in the default project.
Each report is requested --repeat times after one warm-up; figures are milliseconds, client side.

--check-mongo N sends the same N events as seed-003 track batches to two fresh servers, one on
SQLite and one on a SecantusDB replica set (the MongoDB wire server the tests use), and compares
every report's answer: a correctness cross-check, not a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.analytics_store import generate
from bench.common import Server, add_server_args, print_header, summarize_ms
from storage.sqlite.store import SQLiteStore

PREFIX = "/agent-analytics"
P = "default"
FUNNEL = {"project": P, "steps": ["pageview", "signup", "purchase"], "conversion_window_hours": 168, "since": "30d"}


def reports() -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """name -> (method, path with query, body)."""
    def q(path: str, **params: Any) -> str:
        return f"{PREFIX}{path}?{urlencode({'project': P, **params})}"

    return {
        "stats 7d": ("GET", q("/stats"), None),
        "stats 30d": ("GET", q("/stats", since="30d"), None),
        "stats hourly 7d": ("GET", q("/stats", groupBy="hour"), None),
        "insights 7d": ("GET", q("/insights", period="7d"), None),
        "heatmap 7d": ("GET", q("/heatmap"), None),
        "live 60s": ("GET", q("/live"), None),
        "events 100": ("GET", q("/events"), None),
        "sessions 100": ("GET", q("/sessions"), None),
        "session durations 7d": ("GET", q("/sessions/distribution"), None),
        "breakdown plan (property) 7d": ("GET", q("/breakdown", property="plan"), None),
        "breakdown referrer_domain 30d": ("GET", q("/breakdown", property="referrer_domain", since="30d"), None),
        "pages entry+exit 7d": ("GET", q("/pages", type="both"), None),
        "properties 7d": ("GET", q("/properties"), None),
        "query event x date 7d": ("POST", f"{PREFIX}/query",
                                  {"project": P, "metrics": ["event_count", "unique_users"], "group_by": ["event", "date"]}),
        "funnel 3 steps, 7-day window, 30d": ("POST", f"{PREFIX}/funnel", FUNNEL),
        "retention 8 weekly cohorts": ("GET", q("/retention", period="week", cohorts=8), None),
    }


def request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def time_reports(url: str, repeat: int) -> list[dict[str, Any]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    rows = []
    for name, (method, path, body) in reports().items():
        status, answer = request(conn, method, path, body)  # warm-up
        if status != 200:
            raise SystemExit(f"{name}: {status} {answer[:300]!r}")
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            request(conn, method, path, body)
            samples.append(time.perf_counter() - t0)
        s = summarize_ms(samples)
        rows.append({"report": name, "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"], "bytes": len(answer)})
    conn.close()
    return rows


def prepare_db(path: Path, args: argparse.Namespace) -> None:
    if path.exists():
        print(f"# reusing {path}")
        return

    async def schema() -> None:
        store = SQLiteStore(path)
        await store.start()
        await store.close()

    asyncio.run(schema())
    now = datetime.now(UTC)
    tomorrow = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    t0 = time.perf_counter()
    # Data up to now: the generator spreads it over the days before `end`.
    generate(path, args.events, args.days, args.users, args.sessions, project=P, end=min(tomorrow, now))
    print(f"# generated in {time.perf_counter() - t0:.0f} s")


# -- the MongoDB cross-check -------------------------------------------------------------------


def tracked_batches(n: int, seed: int = 11) -> list[list[dict[str, Any]]]:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    events = []
    for _ in range(n):
        user = f"u{rnd.randrange(max(1, n // 8))}"
        at = now - timedelta(days=rnd.randrange(0, 28), minutes=rnd.randrange(0, 1440))
        path = rnd.choice(["/", "/pricing", "/docs", "/signup", "/checkout"])
        events.append({"event": rnd.choices(["pageview", "signup", "purchase"], [80, 15, 5])[0], "user_id": user,
                       "session_id": f"{user}-{at:%Y%m%d}", "timestamp": int(at.timestamp() * 1000),
                       "properties": {"path": path, "plan": rnd.choice(["free", "pro", None]),
                                      "referrer": rnd.choice(["https://www.google.com/", "", "https://t.co/x"])}})
    return [events[i:i + 100] for i in range(0, len(events), 100)]


def check_mongo(args: argparse.Namespace, n: int) -> int:
    from tests.mongo_server import SecantusServers  # the test suite's launcher (secantusdb is a test extra)

    root = Path(tempfile.mkdtemp(prefix="lensgraph-bench-mongo-"))
    servers = SecantusServers(root)
    answers: dict[str, dict[str, Any]] = {}
    batches = tracked_batches(n)  # once: both stores get exactly the same events
    try:
        mongo = servers.get(standalone=False)
        for label, database in (("sqlite", f"sqlite:///{root / 'check.db'}"), ("mongodb", mongo.url("bench_check"))):
            ns = argparse.Namespace(**{**vars(args), "spawn": True, "database": database, "keep": False})
            with Server(ns) as server:
                parts = urlsplit(server.url)
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                for batch in batches:
                    status, body = request(conn, "POST", f"{PREFIX}/track/batch", {"events": batch})
                    assert status == 202, body
                answers[label] = {}
                for name, (method, path, body) in reports().items():
                    status, answer = request(conn, method, path, body)
                    assert status == 200, (label, name, answer[:300])
                    answers[label][name] = _comparable(name, json.loads(answer))
                conn.close()
    finally:
        servers.stop_all()
        shutil.rmtree(root, ignore_errors=True)
    differ = [name for name in answers["sqlite"] if answers["sqlite"][name] != answers["mongodb"][name]]
    print(f"# MongoDB cross-check, {n:,} events: {len(answers['sqlite']) - len(differ)} of "
          f"{len(answers['sqlite'])} reports identical on SQLite and SecantusDB")
    for name in differ:
        print(f"#   DIFFERS: {name}\n#     sqlite : {str(answers['sqlite'][name])[:400]}\n"
              f"#     mongodb: {str(answers['mongodb'][name])[:400]}")
    return 1 if differ else 0


def _comparable(name: str, answer: Any) -> Any:
    """Event and session lists carry generated ids: compare what identifies them across stores."""
    if name == "events 100":
        return [(e["event"], e["user_id"], e["timestamp"]) for e in answer["events"]]
    if name == "live 60s":
        return {k: v for k, v in answer.items() if k != "recent_events"}
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_args(parser)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=40_000)
    parser.add_argument("--sessions", type=int, default=350_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--db", help="the generated SQLite file (default: a temp file); reused if it exists")
    parser.add_argument("--keep-db", action="store_true", help="keep the generated file")
    parser.add_argument("--check-mongo", type=int, default=0, metavar="N",
                        help="also compare every report on SQLite and SecantusDB over N tracked events")
    args = parser.parse_args()
    if not args.spawn:
        raise SystemExit("use --spawn: the bench generates its own data set")
    tmp = Path(tempfile.mkdtemp(prefix="lensgraph-analytics-"))
    db = Path(args.db) if args.db else tmp / "analytics.db"
    try:
        prepare_db(db, args)
        args.database = f"sqlite:///{db.resolve()}"
        print_header("analytics reports over HTTP", args, {"events": args.events, "days": args.days,
                                                            "repeat": args.repeat})
        with Server(args) as server:
            rows = time_reports(server.url, args.repeat)
        width = max(len(r["report"]) for r in rows)
        print(f"{'report':<{width}}  {'p50 ms':>8}  {'p99 ms':>8}")
        for r in rows:
            print(f"{r['report']:<{width}}  {r['p50_ms']:>8.1f}  {r['p99_ms']:>8.1f}")
        failed = check_mongo(args, args.check_mongo) if args.check_mongo else 0
    finally:
        if not args.keep_db:
            shutil.rmtree(tmp, ignore_errors=True)
    raise SystemExit(failed)


if __name__ == "__main__":
    main()
