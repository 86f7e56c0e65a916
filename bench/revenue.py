"""Revenue attribution on a SQLite store: 1,000,000 revenues beside 1,000,000 events, timed.

    .venv/bin/python bench/revenue.py                        # temp file, 1M revenues, 1M events
    .venv/bin/python bench/revenue.py --db /tmp/r.db --keep  # keep the file; later runs reuse it

The events are bench/analytics_store.py's (10% of sessions are agent traces); those traces are spread
over --agents agents with an LLM cost each. The revenues are written with plain INSERTs in the store's
row layout (after the store made its schema): --agents agents (5% with none), 500 goals of 20 goal
types, 20,000 customers, 4 sources, 3 currencies, over the same 30 days, a quarter naming an event.
Each report goes through resolvers/revenue/attribution.py as the API calls it; each figure is the
median (p50) and the slowest (max) of --repeat runs after one warm-up run.
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
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.analytics_store import END, P, create_schema, generate
from resolvers.core.services import Services
from resolvers.revenue import attribution
from resolvers.revenue.ids import new_short_id
from storage.contract import RecordQuery
from storage.models.revenue import DAY_MS, Revenue
from storage.sqlite.revenue import TABLES
from storage.sqlite.store import SQLiteStore

DAYS = 30
SOURCES = ["Manual", "Stripe", "Shopify", "API"]
CURRENCIES = ["USD"] * 8 + ["EUR", "GBP"]


def generate_revenue(path: Path, revenues: int, agents: int, seed: int = 11) -> None:
    rnd = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    # The agent traces of the events get real agents and an LLM cost, so ROI has something to set against.
    conn.execute("UPDATE sessions SET agent_id = 'agent-' || (abs(random()) % ?),"
                 " cost_nanos = abs(random()) % 50000000 WHERE kind = 'agent'", (agents,))
    conn.execute("UPDATE events SET agent_id = (SELECT s.agent_id FROM sessions s WHERE s.project_id = events.project_id"
                 " AND s.id = events.session_id) WHERE kind = 'agent'")
    agent_sessions = [r[0] for r in conn.execute("SELECT id FROM sessions WHERE kind = 'agent' LIMIT 20000")]
    now_ms = int(END.timestamp() * 1000)
    types = [new_short_id() for _ in range(20)]
    goals = [new_short_id() for _ in range(500)]
    customers = [new_short_id() for _ in range(20_000)]
    for i, t in enumerate(types):
        conn.execute("INSERT INTO goal_types (project_id, id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                     (P, t, f"type-{i}", now_ms, now_ms))
    for i, g in enumerate(goals):
        conn.execute("INSERT INTO goals (project_id, id, name, goal_type_id, created_at, updated_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (P, g, f"goal-{i}", types[i % len(types)], now_ms, now_ms))
    table = TABLES[Revenue]
    insert = f"INSERT INTO revenues ({table.columns}) VALUES ({','.join('?' * len(table.columns.split(',')))})"
    start_ms = now_ms - DAYS * DAY_MS
    rows: list[tuple[Any, ...]] = []
    for i in range(revenues):
        at = start_ms + (i * DAYS * DAY_MS) // revenues
        session = rnd.choice(agent_sessions) if rnd.random() < 0.25 else None
        record = Revenue.model_construct(
            project_id=P, id=new_short_id(), key=f"k{i}", amount_nanos=rnd.randrange(1, 50_000) * 10_000_000,
            currency=rnd.choice(CURRENCIES), agent_id=None if rnd.random() < 0.05 else f"agent-{rnd.randrange(agents)}",
            customer_id=rnd.choice(customers), description=None, event_id=None, session_id=session,
            goal_id=rnd.choice(goals) if rnd.random() < 0.7 else None, source=rnd.choice(SOURCES),
            recorded_at=END - timedelta(milliseconds=now_ms - at), created_at=END, updated_at=END,
        )
        rows.append(table.row(record))
        if len(rows) >= 50_000:
            conn.executemany(insert, rows)
            rows.clear()
    conn.executemany(insert, rows)
    conn.commit()
    conn.close()
    print(f"generated {revenues:,} revenues over {agents} agents, {len(goals)} goals, {len(customers):,} customers")


async def run(path: Path, repeat: int, agents: int) -> None:
    store = SQLiteStore(path)
    await store.start()
    services = Services.build(store)
    since, until = END - timedelta(days=DAYS), END + timedelta(days=1)
    every_agent = [f"agent-{i}" for i in range(agents)]
    reports: dict[str, Callable[[], Awaitable[Any]]] = {
        "revenue by agent (all time)": lambda: attribution.totals(services, P, "agent"),
        "revenue by agent (last 7 days)": lambda: attribution.totals(
            services, P, "agent", RecordQuery(since=END - timedelta(days=7), until=until)),
        "revenue by goal type": lambda: attribution.totals(services, P, "goalType"),
        "revenue by customer": lambda: attribution.totals(services, P, "customer"),
        "revenue by month": lambda: attribution.totals(services, P, "month"),
        "revenue by source, USD": lambda: attribution.totals(services, P, "source", RecordQuery({"currency": "USD"})),
        f"ROI of {agents} agents (revenue + trace cost)": lambda: attribution.agent_earnings(
            services, P, every_agent, since, until),
        "ROI of one agent": lambda: attribution.agent_earnings(services, P, ["agent-7"], since, until),
    }
    try:
        print(f"{'p50 ms':>8} {'max ms':>8}  report")
        for name, report in reports.items():
            result = await report()
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await report()
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{statistics.median(times):8.1f} {max(times):8.1f}  {name} ({len(result)} rows)")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revenues", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", type=Path, help="the SQLite file (generated unless it exists)")
    parser.add_argument("--keep", action="store_true", help="keep a generated --db")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "revenue.db"
        fresh = not path.exists()
        if fresh:
            asyncio.run(create_schema(path))
            t0 = time.perf_counter()
            generate(path, args.events, DAYS, 40_000, 300_000)
            generate_revenue(path, args.revenues, args.agents)
            print(f"  in {time.perf_counter() - t0:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
        try:
            asyncio.run(run(path, args.repeat, args.agents))
        finally:
            if fresh and args.db and not args.keep:
                path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
