"""Where one ingest batch's time goes, stage by stage, in-process (no HTTP, no event loop).

    .venv/bin/python bench/write_path.py                      # the code in this checkout
    .venv/bin/python bench/write_path.py --repo /tmp/snapshot -n 20000

Part 1, Python stages per batch, both formats, with the project's own functions:
decode (orjson.loads), validate (pydantic: validate_events / translate), to_event,
plan (BatchPlanner: session copies, counters, sha256 chain), rows (_event_row:
search_text + orjson.dumps of payload/metadata).

Part 2, the SQLite write of the same rows, one BEGIN IMMEDIATE ... COMMIT per
batch as SQLiteStore.commit_batch does (existing-id SELECT, session SELECT,
executemany INSERT, session upsert), against a fresh file per variant:
  as-is         the schema as it is (since version 11 the full-text index is in a file of its
                own, written by another thread: none of its cost is in this transaction)
  fts-per-batch the index back in the database, fed by one INSERT INTO events_fts ... SELECT
                per batch (what version 10 did, in a transaction of its own)
  fts-per-batch-detail-none  the same (detail=none is what every version since used)
  no-fts        no FTS table at all (the floor for the remaining indexes)
  no-fts-min-ix no FTS, and only the events indexes that uniqueness needs
  ids-in-order  the schema as it is, with each event's id replaced by an ascending one of the same
                length: what ids that arrive in random order (seed 002's client-made UUIDs) cost the
                unique index, whose inserts then land on a different page each
and, for comparison, the real SQLiteStore.commit_batch end to end (planner, row
building and aiosqlite's thread hops included), with --in-flight batches at a time
(default 1 and 8: with 8, the writer's group commit shares transactions as under
HTTP load; the batches are validated before the clock starts).
These are measurements of alternatives, not changes: the project's code is untouched.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402
from common import REPO, print_header, print_result, print_table  # noqa: E402


def stage_timer() -> tuple[dict[str, float], Any]:
    totals: dict[str, float] = {}

    class T:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            self.t0 = time.perf_counter()

        def __exit__(self, *exc: Any) -> None:
            totals[self.name] = totals.get(self.name, 0.0) + time.perf_counter() - self.t0

    return totals, T


def to_events(project: str, validated: list[Any], received: Any) -> list[Any]:
    """to_event over a validated batch, for either version of its signature (--repo may be older)."""
    from resolvers.traces.event_types import to_event
    from resolvers.traces.ingest import Incoming

    if validated and len(validated[0]) == 3:  # since ingest2: each with its payload document; ids per batch
        from resolvers.core.ids import new_ids  # type: ignore[attr-defined]

        ids = new_ids(len(validated))
        return [Incoming(*to_event(project, i, p, d, received, k)) for (i, p, d), k in zip(validated, ids)]
    return [Incoming(*to_event(project, i, p, received)) for i, p in validated]  # type: ignore[call-arg]


def python_stages(fmt: str, bodies: list[bytes], project: str = "default") -> tuple[dict[str, float], list[list[tuple]], list[list[tuple]]]:
    from resolvers.traces.event_types import validate_events
    from resolvers.traces.planner import BatchPlanner
    from storage.models import Event
    from storage.sqlite import rows as store_sqlite
    from storage.timeutil import now_ms

    totals, T = stage_timer()
    has_position = "position" in Event.model_fields
    position = 0
    current: dict[str, Any] = {}
    event_rows: list[list[tuple]] = []
    session_rows: list[list[tuple]] = []
    for body in bodies:
        with T("1 decode (orjson.loads)"):
            data = orjson.loads(body)
        if fmt == "typed":
            with T("2 validate (pydantic)"):
                validated = validate_events(data["events"], max_events=10_000)
            with T("3 to_event (+ULID, Event model)"):
                received = now_ms()
                items = to_events(project, validated, received)
        else:
            from graph.rest.agentlens.handlers import translate

            with T("2+3 translate (pydantic + Event model)"):
                items = translate(project, data["events"], now_ms(), 10_000)
        with T("4 plan (session copies, counters, sha256 chain)"):
            planner = BatchPlanner(project, {i.event.id: i.hint for i in items if i.hint is not None})
            touched = {i.event.session_id for i in items}
            plan = planner({k: v for k, v in current.items() if k in touched}, [i.event for i in items])
        if has_position:  # commit_batch numbers events by rowid before building rows
            for e in plan.events:
                position += 1
                e.position = position
        with T("5 rows (search_text + orjson.dumps)"):
            rows = [store_sqlite._event_row(e, store_sqlite._prepare(e)) for e in plan.events]
            srows = [store_sqlite._session_row(s) for s in plan.sessions]
        for s in plan.sessions:
            current[s.id] = s
        event_rows.append(rows)
        session_rows.append(srows)
    return totals, event_rows, session_rows


def variant_ddl(ddl: str, variant: str) -> str:
    if variant == "as-is":
        return ddl
    ddl = re.sub(r"CREATE TRIGGER IF NOT EXISTS events_fts_insert.*?END;", "", ddl, flags=re.S)
    if variant == "fts-per-batch-detail-none":
        ddl = ddl.replace("tokenize='trigram'", "tokenize='trigram', detail=none")
    if variant.startswith("fts-per-batch"):
        ddl += (
            "\nCREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5 (search_text, content='events',"
            " content_rowid='rowid', tokenize='trigram', detail='none');"
        )
    if variant.startswith("no-fts"):
        ddl = re.sub(r"CREATE VIRTUAL TABLE IF NOT EXISTS events_fts.*?\);", "", ddl, flags=re.S)
    if variant == "no-fts-min-ix":
        keep = ("events_by_id", "events_by_chain")
        ddl = "\n".join(
            line
            for line in ddl.splitlines()
            if not (re.match(r"CREATE (UNIQUE )?INDEX IF NOT EXISTS events_", line) and not any(k in line for k in keep))
            and not line.strip().startswith("WHERE call_id")
        )
    return ddl


def sqlite_write(variant: str, event_rows: list[list[tuple]], session_rows: list[list[tuple]], project: str) -> dict[str, float]:
    from storage.sqlite import rows as store_sqlite
    from storage.sqlite.migrations import MIGRATIONS

    DDL = "\n".join(MIGRATIONS)  # the schema as migrate() builds it, version after version

    ev_cols = getattr(store_sqlite, "INSERT_EVENT_COLUMNS", None) or store_sqlite.EVENT_COLUMNS.replace(
        "prev_hash", "search_text, prev_hash"
    )
    n_ev = len(ev_cols.split(","))
    ses_cols = store_sqlite.SESSION_COLUMNS
    n_ses = len(ses_cols.split(","))
    upsert = (
        f"INSERT INTO sessions ({ses_cols}) VALUES ({','.join('?' * n_ses)}) ON CONFLICT (project_id, id) DO UPDATE SET "
        + ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in ses_cols.split(",")[2:])
    )
    totals, T = stage_timer()
    with tempfile.TemporaryDirectory(prefix="lensgraph-wp-") as tmp:
        db = sqlite3.connect(Path(tmp) / "w.db", isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA cache_size=-65536",
        ):
            db.execute(pragma)
        db.executescript(variant_ddl(DDL, variant))
        t_all = time.perf_counter()
        for rows, srows in zip(event_rows, session_rows):
            db.execute("BEGIN IMMEDIATE")
            ids = [r[ev_cols.replace(" ", "").split(",").index("id")] for r in rows]
            with T("a select existing ids"):
                db.execute(
                    f"SELECT {store_sqlite.EVENT_COLUMNS} FROM events WHERE project_id = ? AND id IN ({','.join('?' * len(ids))})",
                    (project, *ids),
                ).fetchall()
                sids = [r[1] for r in srows]
                db.execute(
                    f"SELECT {ses_cols} FROM sessions WHERE project_id = ? AND id IN ({','.join('?' * len(sids))})",
                    (project, *sids),
                ).fetchall()
            with T("b insert events (executemany)"):
                before = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
                db.executemany(f"INSERT INTO events ({ev_cols}) VALUES ({','.join('?' * n_ev)})", rows)
            if variant.startswith("fts-per-batch"):
                with T("b2 fts insert (one statement)"):
                    db.execute(
                        "INSERT INTO events_fts (rowid, search_text) SELECT rowid, search_text FROM events WHERE rowid > ?",
                        (before,),
                    )
            with T("c upsert sessions"):
                db.executemany(upsert, srows)
            with T("d commit"):
                db.execute("COMMIT")
        totals["total"] = time.perf_counter() - t_all
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        totals["db_mb"] = db.execute("PRAGMA page_count").fetchone()[0] * page_size / 1e6
        db.close()
    return totals


def ids_in_order(event_rows: list[list[tuple]]) -> list[list[tuple]]:
    """The rows with each id replaced by an ascending one of the same length (the ids-in-order variant)."""
    from storage.sqlite import rows as store_sqlite

    columns = getattr(store_sqlite, "INSERT_EVENT_COLUMNS", None) or store_sqlite.EVENT_COLUMNS  # --repo may be older
    at = [c.strip() for c in columns.split(",")].index("id")
    n = 0
    out = []
    for batch in event_rows:
        rows = []
        for row in batch:
            n += 1
            rows.append((*row[:at], str(n).zfill(len(row[at])), *row[at + 1 :]))
        out.append(rows)
    return out


def store_commit(fmt: str, bodies: list[bytes], in_flight: int = 1, project: str = "default") -> dict[str, float]:
    """The real SQLiteStore.commit_batch, in_flight batches at a time (planner and aiosqlite hops included;
    above 1, the writer groups what is queued into shared transactions, as it does under HTTP load)."""
    import asyncio
    import collections

    from resolvers.traces.event_types import validate_events
    from resolvers.traces.planner import BatchPlanner
    from storage.sqlite.store import SQLiteStore
    from storage.timeutil import now_ms

    def items_of(body: bytes) -> list[Any]:
        data = orjson.loads(body)
        if fmt == "typed":
            received = now_ms()
            return to_events(project, validate_events(data["events"], max_events=10_000), received)
        from graph.rest.agentlens.handlers import translate

        return translate(project, data["events"], now_ms(), 10_000)

    async def go() -> dict[str, float]:
        batches = collections.deque(items_of(body) for body in bodies)  # untimed
        with tempfile.TemporaryDirectory(prefix="lensgraph-wp-") as tmp:
            store = SQLiteStore(Path(tmp) / "s.db", readers=1)
            await store.start()

            async def commit_next() -> None:
                while batches:
                    items = batches.popleft()
                    planner = BatchPlanner(project, {i.event.id: i.hint for i in items if i.hint is not None})
                    await store.traces.commit_batch(project, [i.event for i in items], planner)

            try:
                t0 = time.perf_counter()
                await asyncio.gather(*(commit_next() for _ in range(in_flight)))
                spent = time.perf_counter() - t0
            finally:
                await store.close()
            return {"total": spent}

    return asyncio.run(go())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repo", default=str(REPO), help="the source tree to import (default %(default)s)")
    p.add_argument("-n", "--events", type=int, default=20_000)
    p.add_argument("-b", "--batch", type=int, default=500)
    p.add_argument("-s", "--sessions", type=int, default=200)
    p.add_argument("--format", choices=("typed", "sdk", "both"), default="both")
    p.add_argument(
        "--variants", nargs="+", default=["as-is", "fts-per-batch", "fts-per-batch-detail-none", "no-fts", "no-fts-min-ix"],
        choices=["as-is", "fts-per-batch", "fts-per-batch-detail-none", "no-fts", "no-fts-min-ix", "ids-in-order"],
    )  # fmt: skip
    p.add_argument(
        "--in-flight", nargs="+", type=int, default=[1, 8], metavar="K",
        help="time store.commit_batch with K batches at a time, for each K given (default: 1 8)",
    )  # fmt: skip
    p.add_argument("--no-store", action="store_true", help="skip timing the real SQLiteStore.commit_batch")
    args = p.parse_args()
    if not 1 <= args.events <= 500_000:
        p.error("-n must be 1..500000")
    if not all(1 <= k <= 64 for k in args.in_flight):
        p.error("--in-flight must be 1..64")
    sys.path.insert(0, str(Path(args.repo).resolve()))
    from ingest import build_sdk, build_typed

    print_header("LensGraph write-path breakdown (in-process)", args, {"code from": Path(args.repo).resolve()})
    formats = ("typed", "sdk") if args.format == "both" else (args.format,)
    stage_rows: list[dict[str, Any]] = []
    sql_rows: list[dict[str, Any]] = []
    for fmt in formats:
        build = build_typed if fmt == "typed" else build_sdk
        w = build("wp", args.events, args.batch, args.sessions, 5, 0, 1)
        totals, event_rows, session_rows = python_stages(fmt, w.bodies)
        python_total = sum(totals.values())
        for name, secs in totals.items():
            stage_rows.append(
                {"format": fmt, "stage": name, "us_per_event": round(secs / w.events * 1e6, 1),
                 "ms_per_batch": round(secs / len(w.bodies) * 1e3, 2), "share": f"{100 * secs / python_total:.0f}%"}
            )  # fmt: skip
        stage_rows.append(
            {"format": fmt, "stage": "= python total", "us_per_event": round(python_total / w.events * 1e6, 1),
             "ms_per_batch": round(python_total / len(w.bodies) * 1e3, 2), "share": "100%"}
        )  # fmt: skip
        for variant in args.variants:
            if variant == "ids-in-order":
                t = sqlite_write("as-is", ids_in_order(event_rows), session_rows, "default")
            else:
                t = sqlite_write(variant, event_rows, session_rows, "default")
            row = {"format": fmt, "variant": variant, "events_s": round(w.events / t["total"], 0),
                   "ms_per_batch": round(t["total"] / len(w.bodies) * 1e3, 2)}  # fmt: skip
            for key in ("a select existing ids", "b insert events (executemany)", "b2 fts insert (one statement)", "c upsert sessions", "d commit"):
                row[key.split(" ")[0] + "_ms"] = round(t.get(key, 0.0) / len(w.bodies) * 1e3, 2)
            row["db_MB"] = round(t["db_mb"], 1)
            sql_rows.append(row)
        for in_flight in [] if args.no_store else args.in_flight:
            t = store_commit(fmt, w.bodies, in_flight)
            sql_rows.append(
                {"format": fmt, "variant": f"store.commit_batch, {in_flight} in flight (incl. plan+rows)",
                 "events_s": round(w.events / t["total"], 0), "ms_per_batch": round(t["total"] / len(w.bodies) * 1e3, 2)}
            )  # fmt: skip
    print()
    print_table(stage_rows, title="Python stages (single thread, per event and per batch):")
    print()
    print_table(
        sql_rows,
        title="SQLite write per batch (a=selects, b=insert events, b2=fts insert, c=session upsert, d=commit):",
    )
    print_result({"bench": "write_path", "events": args.events, "batch": args.batch, "stages": stage_rows, "sqlite": sql_rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
