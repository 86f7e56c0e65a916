"""Full-text search on a SQLite store, in process: ingest, then time searches once the index has caught up.

    .venv/bin/python bench/search.py                          # this checkout, 50,000 events
    .venv/bin/python bench/search.py --repo /tmp/snapshot -n 100000

Events go through SQLiteStore.traces.commit_batch in batches of 100 (the planner, the chain and the
search index as ingest runs them), each payload a dozen words drawn from a small vocabulary, and one
event in a thousand carrying a rare word. The searches (SQLiteStore.traces.find_events, a page of 50 and
the total) are timed --repeat times each after the index holds every event; the table gives each term's
matches and p50/max in ms, and how long the index took to catch up once ingest stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import REPO, code_version, print_header, print_result, print_table  # noqa: E402

P = "bench"
T0 = datetime(2026, 4, 1, tzinfo=UTC)
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
         "mike", "november", "oscar", "papa"]
RARE = "zanzibar"
TERMS = (RARE, "november oscar", "kilo lima mike", "xyzzy")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from resolvers.traces.planner import BatchPlanner
    from storage.contract import EventQuery, Page
    from storage.models import Event
    from storage.sqlite.store import SQLiteStore

    rnd = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="lensgraph-search-") as tmp:
        store = SQLiteStore(Path(tmp) / "s.db")
        await store.start()
        try:
            started = time.perf_counter()
            for first in range(0, args.events, 100):
                events = []
                for n in range(first + 1, min(first + 100, args.events) + 1):
                    text = " ".join(rnd.choice(WORDS) for _ in range(12)) + (f" {RARE}" if n % 1000 == 0 else "")
                    events.append(Event(project_id=P, id=f"e{n}", session_id=f"s{n % 200}", agent_id="a",
                                        type="custom", timestamp=T0 + timedelta(seconds=n), received_at=T0,
                                        payload={"text": text, "n": n}))
                await store.traces.commit_batch(P, events, BatchPlanner(P, {}, "agent"))
            ingested = time.perf_counter() - started
            started = time.perf_counter()
            while not await store.traces.search.ready():
                await asyncio.sleep(0.05)
            caught_up = time.perf_counter() - started
            rows = []
            for term in TERMS:
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    found = await store.traces.find_events(P, EventQuery(search=term), Page(limit=50))
                    times.append((time.perf_counter() - t) * 1000)
                rows.append({"term": term, "matches": found.total, "p50_ms": round(statistics.median(times), 2),
                             "max_ms": round(max(times), 2)})
        finally:
            await store.close()
    return {"events": args.events, "ingest_ev_s": round(args.events / ingested), "catch_up_s": round(caught_up, 2),
            "searches": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repo", type=Path, default=REPO, help="the source tree to import, e.g. a snapshot")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    print_header("LensGraph search (in-process, SQLite)", args,
                 {"code from": f"{args.repo}{code_version(args.repo)}"})
    result = asyncio.run(run(args))
    print(f"ingest {result['ingest_ev_s']:,} ev/s in process; index caught up {result['catch_up_s']} s after")
    print_table(result["searches"], title="find_events(search=term), page of 50 with total:")
    print_result({"bench": "search", **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
