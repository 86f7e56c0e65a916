"""Analytics reads straight on a SQLite store: generated product data, a handful of report queries, timed.

    .venv/bin/python bench/analytics_store.py                       # 1,000,000 events in a temp file
    .venv/bin/python bench/analytics_store.py --db /tmp/a.db --keep # keep the file; later runs reuse it
    .venv/bin/python bench/analytics_store.py --db /tmp/a.db --explain

The data: --events events over --days days (90% tracked pageviews, clicks, signups and purchases
from --users users in --sessions sessions, 10% agent steps), written with plain INSERTs in the
store's own row layout after the store has created its schema (no hash chains or search index:
this measures reads, not ingest). The report queries go through SQLiteStore.analytics, as the
engine calls it; each figure is the median of --repeat runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.models.analytics import (
    AnalyticsQuery,
    Filter,
    GroupBy,
    Metric,
    OrderBy,
    Ref,
    StepQuery,
)
from storage.models.traces import PRODUCT_FIELDS
from storage.sqlite.analytics import compile_aggregate, compile_steps
from storage.sqlite.rows import INSERT_EVENT_COLUMNS, SESSION_COLUMNS
from storage.sqlite.store import SQLiteStore

P = "bench"
END = datetime(2026, 4, 1, tzinfo=UTC)
PATHS = ["/", "/pricing", "/docs", "/blog", "/signup", "/login", "/about"] + [f"/docs/page-{i}" for i in range(40)]
REFERRERS = [None, None, None, "google.com", "bing.com", "news.ycombinator.com", "twitter.com", "github.com"] + [
    f"site{i}.example" for i in range(20)
]
COUNTRIES = ["US", "FR", "DE", "JP", "GB", "IN", "BR", "CA", "ES", "IT"] + [f"C{i}" for i in range(20)]
DEVICES, BROWSERS, OSES = ["desktop", "mobile", "tablet"], ["Chrome", "Firefox", "Safari", "Edge", "Opera"], [
    "Windows", "macOS", "Linux", "iOS", "Android"]
UTM = [None, None, None, None, "news", "ads", "twitter", "mail", "partner"]
PLANS = ["free", "pro", "team", None]


def generate(
    path: Path, events: int, days: int, users: int, sessions: int, seed: int = 7, project: str = P,
    end: datetime = END,
) -> None:
    rnd = random.Random(seed)
    start_ms = int((end - timedelta(days=days)).timestamp() * 1000)
    span = days * 86_400_000
    per_session = max(1, events // sessions)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    marks = ",".join("?" * len(INSERT_EVENT_COLUMNS.split(",")))
    insert = f"INSERT INTO events ({INSERT_EVENT_COLUMNS}) VALUES ({marks})"
    session_marks = ",".join("?" * (len(SESSION_COLUMNS.split(",")) + 1))
    insert_session = f"INSERT INTO sessions ({SESSION_COLUMNS}, position) VALUES ({session_marks})"
    rows: list[tuple] = []
    session_rows: list[tuple] = []
    rowid = 0
    made = 0
    s = 0
    # Sessions start through the period in time order, so rowids roughly follow time as ingest makes them.
    while made < events:
        n = min(events - made, max(1, int(rnd.expovariate(1 / per_session))))
        at = start_ms + (s * span) // sessions + rnd.randrange(0, 60_000)
        sid = f"s{s:07d}"
        s += 1
        agent = rnd.random() < 0.1
        user = None if agent or rnd.random() < 0.2 else f"u{rnd.randrange(users):06d}"
        ctx = (rnd.choice(REFERRERS), rnd.choice(UTM), rnd.choice(DEVICES), rnd.choice(BROWSERS), rnd.choice(OSES),
               rnd.choice(COUNTRIES))
        first = at
        entry = exit_ = None
        for k in range(n):
            rowid += 1
            at += rnd.randrange(1_000, 120_000)
            if agent:
                type_ = rnd.choice(["llm_call", "tool_call", "custom"])
                payload = {"step": k, "tool": rnd.choice(["search", "fetch", "write"])}
                product: tuple = ("agent",) + (None,) * (len(PRODUCT_FIELDS) - 1)
                row_extra = (rnd.choice(["gpt", "claude"]), rnd.randrange(10, 2000), rnd.randrange(1, 500),
                             rnd.random() * 2000, rnd.randrange(0, 50_000))
            else:
                type_ = "pageview" if k == 0 else rnd.choices(["pageview", "click", "signup", "purchase"],
                                                                [70, 22, 5, 3])[0]
                page = rnd.choice(PATHS)
                entry = entry or page
                exit_ = page
                payload = {"plan": rnd.choice(PLANS), "value": rnd.randrange(0, 200), "button": f"b{rnd.randrange(9)}"}
                referrer, utm, device, browser, os_, country = ctx
                product = ("tracker", user, f"anon{s}", "https://example.com" + page, page,
                           None if referrer is None else f"https://{referrer}/", referrer, utm, None, None, None,
                           None, device, browser, os_, country)
                row_extra = (None, None, None, None, None)
            model, tin, tout, dur, cost = row_extra
            rows.append((rowid, project, f"e{rowid:08d}", sid, "bot" if agent else None, type_, "info", at, at, k + 1,
                         None, model, tin, tout, dur, cost, orjson.dumps(payload), b"{}", "", None, None, *product))
        made += n
        ended = at if rnd.random() < 0.6 else None
        session_rows.append((project, sid, "bot" if agent else None, None, "completed" if ended else "active", first, ended,
                             at, orjson.dumps({"plan": rnd.choice(PLANS)}), b"[]", n, 0, 0, 0, 0, 0, 0, 0.0, None, n,
                             "agent" if agent else "tracker", user, entry, exit_, rowid))
        if len(rows) >= 50_000:
            conn.executemany(insert, rows)
            rows.clear()
    conn.executemany(insert, rows)
    conn.executemany(insert_session, session_rows)
    conn.commit()  # no ANALYZE: the store never runs it, so the planner works without statistics here too
    conn.close()
    print(f"generated {made:,} events in {s:,} sessions over {days} days")


def queries(days_long: int) -> dict[str, AnalyticsQuery | StepQuery]:
    tracker = (Filter(Ref("kind"), "eq", "tracker"),)
    series = (Metric("count"), Metric("unique_users"), Metric("unique_sessions"))
    week, month = END - timedelta(days=7), END - timedelta(days=days_long)
    signup = (Filter(Ref("type"), "eq", "signup"),)
    return {
        "series by day, 7 days": AnalyticsQuery(P, week, END, filters=tracker, group_by=(GroupBy(bucket="day"),),
                                                metrics=series),
        f"series by day, {days_long} days": AnalyticsQuery(P, month, END, filters=tracker,
                                                          group_by=(GroupBy(bucket="day"),), metrics=series),
        "series by hour, 7 days": AnalyticsQuery(P, week, END, filters=tracker, group_by=(GroupBy(bucket="hour"),),
                                                 metrics=series),
        "count by day, 30 days (no filter)": AnalyticsQuery(P, month, END, group_by=(GroupBy(bucket="day"),)),
        "by type, 30 days": AnalyticsQuery(P, month, END, filters=tracker, group_by=(GroupBy(Ref("type")),),
                                           metrics=(Metric("count"), Metric("unique_users"))),
        "top paths, 30 days": AnalyticsQuery(P, month, END, filters=tracker, group_by=(GroupBy(Ref("path")),),
                                             metrics=(Metric("count"), Metric("unique_users")),
                                             order_by=(OrderBy(metric=0),), limit=20),
        "by referrer_domain, 30 days": AnalyticsQuery(P, month, END, filters=tracker,
                                                      group_by=(GroupBy(Ref("referrer_domain")),),
                                                      order_by=(OrderBy(metric=0),), limit=20),
        "by country, 7 days": AnalyticsQuery(P, week, END, filters=tracker, group_by=(GroupBy(Ref("country")),),
                                             metrics=(Metric("count"), Metric("unique_users"))),
        "by utm_source x device, 30 days": AnalyticsQuery(
            P, month, END, filters=tracker, group_by=(GroupBy(Ref("utm_source")), GroupBy(Ref("device")))),
        "by property plan, 30 days": AnalyticsQuery(P, month, END, filters=tracker,
                                                    group_by=(GroupBy(Ref("plan", "property")),),
                                                    metrics=(Metric("count"), Metric("unique_users"))),
        "by property plan, 7 days": AnalyticsQuery(P, week, END, filters=tracker,
                                                   group_by=(GroupBy(Ref("plan", "property")),)),
        "signup rate by browser, 30 days": AnalyticsQuery(
            P, month, END, filters=tracker, group_by=(GroupBy(Ref("browser")),),
            metrics=(Metric("count"), Metric("rate", where=signup))),
        "p50/p95 value, 30 days": AnalyticsQuery(P, month, END, filters=tracker, metrics=(
            Metric("percentile", Ref("value", "property"), p=0.5),
            Metric("percentile", Ref("value", "property"), p=0.95))),
        "top users, 30 days": AnalyticsQuery(P, month, END, filters=tracker, group_by=(GroupBy(Ref("user_id")),),
                                             order_by=(OrderBy(metric=0),), limit=10),
        "sessions by day, 30 days": AnalyticsQuery(
            P, month, END, source="sessions", filters=(Filter(Ref("kind"), "eq", "tracker"),),
            group_by=(GroupBy(bucket="day"),),
            metrics=(Metric("count"), Metric("unique_users"), Metric("avg", Ref("duration_ms")))),
        "sessions by entry path, 30 days": AnalyticsQuery(
            P, month, END, source="sessions", filters=(Filter(Ref("kind"), "eq", "tracker"),),
            group_by=(GroupBy(Ref("entry_path")),), order_by=(OrderBy(metric=0),), limit=20),
        "funnel steps pageview > signup, 7 days": StepQuery(
            P, week, END, steps=((Filter(Ref("type"), "eq", "pageview"),), signup), filters=tracker),
    }


async def run(path: Path, repeat: int, days: int, explain: bool) -> None:
    store = SQLiteStore(path)
    await store.start()
    try:
        for name, query in queries(days).items():
            call = store.analytics.steps if isinstance(query, StepQuery) else store.analytics.aggregate
            result = await call(query)  # type: ignore[arg-type]
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await call(query)  # type: ignore[arg-type]
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{statistics.median(times):8.1f} ms  {name} ({len(result)} rows)")
            if explain:
                sql, args = compile_steps(query) if isinstance(query, StepQuery) else compile_aggregate(query)
                plan = await store.db.fetch("EXPLAIN QUERY PLAN " + sql, args)
                for row in plan:
                    print("            ", row[-1])
    finally:
        await store.close()


async def create_schema(path: Path) -> None:
    """An empty database at the current schema version, for the generators to fill."""
    store = SQLiteStore(path)
    await store.start()
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=40_000)
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="the SQLite file (generated unless it exists)")
    parser.add_argument("--keep", action="store_true", help="keep a generated --db")
    parser.add_argument("--explain", action="store_true", help="print each statement's query plan")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "analytics.db"
        fresh = not path.exists()
        if fresh:
            asyncio.run(create_schema(path))
            t0 = time.perf_counter()
            generate(path, args.events, args.days, args.users, args.sessions)
            print(f"  in {time.perf_counter() - t0:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
        try:
            asyncio.run(run(path, args.repeat, args.days, args.explain))
        finally:
            if fresh and args.db and not args.keep:
                path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
