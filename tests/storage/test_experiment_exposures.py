"""Experiment results (first_step_conversions of a results_query) against the reference walk, on every backend.

SQLite answers these from its experiment_exposures index (schema V7), fed by commit_batch and kept by
triggers on deletes and updates; MongoDB
walks the step rows. The data is random but seeded, committed through traces.commit_batch as ingest does,
in batches whose order is not time order, with ties to the millisecond between exposures and goals, repeat
and conflicting exposures, non-string variants, agent events of the same type, anonymous users, another
experiment and another project. Then deletes, updates and a database written before V7 must still agree.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from resolvers.traces.planner import BatchPlanner
from storage.models import Event
from storage.models.analytics import FirstStepGroup, first_step_groups
from storage.models.experiments import EXPOSURE_EVENT, results_query
from storage.sqlite.store import SQLiteStore

P, OTHER = "proj", "other"
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
START, END = T0 - timedelta(hours=1), T0 + timedelta(hours=2)
# (experiment, goal event, window): every shape the results take, a goal that is itself an exposure included
CASES = [
    ("hero", "signup", (START, END)),
    ("hero", "purchase", (START, END)),
    ("hero", "signup", (T0 + timedelta(minutes=20), T0 + timedelta(minutes=50))),
    ("pricing", "signup", (START, END)),
    ("hero", EXPOSURE_EVENT, (START, END)),
    ("absent", "signup", (START, END)),
]


def corpus(seed: int = 11) -> list[tuple[str, list[Event], BatchPlanner]]:
    rnd = random.Random(seed)
    ids = iter(range(1_000_000))
    batches: list[tuple[str, list[Event], BatchPlanner]] = []
    for batch in range(12):
        project = OTHER if batch == 11 else P
        events = []
        for _ in range(rnd.randint(20, 60)):
            user = rnd.choice([f"u{rnd.randint(0, 40)}", f"u{rnd.randint(0, 40)}", None])
            # a coarse clock (10 s steps over 80 minutes) makes same-millisecond ties common
            at = T0 + timedelta(seconds=10 * rnd.randint(-6, 480))
            roll = rnd.random()
            if roll < 0.45:
                type_ = EXPOSURE_EVENT
                payload: dict[str, Any] = {
                    "experiment": rnd.choice(["hero", "hero", "pricing", 7]),
                    "variant": rnd.choice(["control", "treatment", "treatment", 1, None, "b"]),
                }
                if rnd.random() < 0.05:
                    del payload["variant"]
            else:
                type_ = rnd.choice(["signup", "signup", "purchase", "pageview"])
                payload = {"experiment": "hero"} if rnd.random() < 0.1 else {}
            events.append(Event(
                project_id=project, id=f"e{next(ids):06d}", session_id=f"s{batch}-{user}", agent_id=None,
                type=type_, timestamp=at, received_at=at, kind="tracker", user_id=user, payload=payload,
            ))
        batches.append((project, events, BatchPlanner(project, kind="tracker")))
    # ties to the millisecond, decided by commit order: tie1's first exposure is control (committed first);
    # tie2's goal was committed before the exposure at its millisecond (no conversion), tie3's after (one)
    at = {user: T0 + timedelta(minutes=m) for user, m in (("tie1", 5), ("tie2", 7), ("tie3", 9))}

    def tie(user: str, type_: str, variant: str | None = None) -> Event:
        payload = {"experiment": "hero", "variant": variant} if variant else {}
        return Event(project_id=P, id=f"e{next(ids):06d}", session_id=f"tie-{user}", agent_id=None, type=type_,
                     timestamp=at[user], received_at=at[user], kind="tracker", user_id=user, payload=payload)

    batches.insert(3, (P, [tie("tie1", EXPOSURE_EVENT, "control"), tie("tie2", "signup"),
                           tie("tie3", EXPOSURE_EVENT, "treatment")], BatchPlanner(P, kind="tracker")))
    batches.insert(6, (P, [tie("tie1", EXPOSURE_EVENT, "treatment"), tie("tie2", EXPOSURE_EVENT, "control"),
                           tie("tie3", "signup"), tie("tie1", "signup")], BatchPlanner(P, kind="tracker")))
    # an agent's events of the same types never count
    agent = [Event(project_id=P, id=f"a{i}", session_id="agent-run", agent_id="bot", type=t, timestamp=T0,
                   received_at=T0, payload={"experiment": "hero", "variant": "control"})
             for i, t in enumerate([EXPOSURE_EVENT, "signup"])]
    batches.append((P, agent, BatchPlanner(P)))
    return batches


async def load(store: Any) -> None:
    for project, events, planner in corpus():
        await store.traces.commit_batch(project, events, planner)


async def reference(store: Any, experiment: str, goal: str, window: tuple[datetime, datetime]) -> list[FirstStepGroup]:
    query = replace(results_query(P, experiment, goal, *window), limit=10_000_000)
    return first_step_groups(await store.analytics.steps(query))


async def mismatches(store: Any) -> dict[str, Any]:
    out = {}
    for experiment, goal, window in CASES:
        expected = await reference(store, experiment, goal, window)
        found = await store.analytics.first_step_conversions(results_query(P, experiment, goal, *window))
        if found != expected:
            out[f"{experiment}/{goal}/{window[0]:%H:%M}"] = (found, expected)
    return out


async def test_results_are_the_reference_walk(store: Any) -> None:
    await load(store)
    assert await mismatches(store) == {}
    ties = replace(results_query(P, "hero", "signup", START, END), limit=10_000_000)
    ties_rows = [r for r in await store.analytics.steps(ties) if r.actor.startswith("tie")]
    assert first_step_groups(ties_rows) == [FirstStepGroup("control", 2, 1), FirstStepGroup("treatment", 1, 1)]
    hero = await reference(store, "hero", "signup", (START, END))
    # not vacuous: three string variants, conversions and non-conversions in each of the two main ones
    assert [g.value for g in hero] == ["b", "control", "treatment"]
    assert all(0 < g.converted < g.actors for g in hero if g.value != "b")
    # with the exposure type as goal, only another experiment's exposures convert, never the user's own
    own_goal = await reference(store, "hero", EXPOSURE_EVENT, (START, END))
    assert [g.actors for g in own_goal] == [g.actors for g in hero]
    assert 0 < sum(g.converted for g in own_goal) < sum(g.actors for g in hero)
    assert await store.analytics.first_step_conversions(results_query(OTHER, "hero", "signup", START, END)) != hero


def index_rows(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM experiment_exposures ORDER BY 1, 2, 3, 4, 5").fetchall()
    finally:
        db.close()


def expected_index(path: Path) -> list[tuple[Any, ...]]:
    """The index as its definition says, computed from events with Python's JSON reading."""
    import orjson

    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT project_id, user_id, ts, rowid, payload FROM events"
                          " WHERE type = ? AND kind = 'tracker' AND user_id IS NOT NULL", (EXPOSURE_EVENT,)).fetchall()
    finally:
        db.close()
    out = []
    for project, user, ts, rowid, payload in rows:
        body = orjson.loads(payload)
        if isinstance(body.get("experiment"), str) and isinstance(body.get("variant"), str):
            out.append((project, body["experiment"], user, ts, rowid, body["variant"]))
    return sorted(out)


async def test_the_sqlite_index_follows_deletes_and_updates_and_is_what_answers(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SQLiteStore(path)
    await store.start()
    try:
        await load(store)
        loaded = index_rows(path)
        assert loaded == expected_index(path) and len(loaded) > 50
        # retention deletes whole sessions: their exposures leave the index in the same transaction
        assert await store.traces.delete_sessions_before(P, T0 + timedelta(minutes=40), limit=150) > 0
        await store.db.run(lambda db: db.execute(
            "UPDATE events SET payload = json_set(payload, '$.variant', 'treatment') WHERE rowid % 7 = 0"
            " AND type = ?", (EXPOSURE_EVENT,)))
        await store.db.run(lambda db: db.execute(
            "UPDATE events SET type = 'pageview' WHERE rowid % 11 = 0 AND type = ?", (EXPOSURE_EVENT,)))
        assert index_rows(path) == expected_index(path) != loaded
        assert await mismatches(store) == {}
        # and the answer comes from the index: emptying it empties the results
        await store.db.run(lambda db: db.execute("DELETE FROM experiment_exposures"))
        assert await store.analytics.first_step_conversions(results_query(P, "hero", "signup", START, END)) == []
    finally:
        await store.close()


async def test_a_version_6_database_gains_the_index_of_its_exposures(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    store = SQLiteStore(path)
    await store.start()
    try:
        await load(store)
        before = await mismatches(store)
        wanted = index_rows(path)
    finally:
        await store.close()
    assert before == {} and wanted
    # what version 6 left: the same events, no index and no triggers
    db = sqlite3.connect(path, isolation_level=None)
    for trigger in ("delete", "update"):
        db.execute(f"DROP TRIGGER experiment_exposures_{trigger}")
    db.execute("DROP TABLE experiment_exposures")
    db.execute("PRAGMA user_version = 6")
    db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    db.close()
    store = SQLiteStore(path)
    await store.start()
    try:
        assert index_rows(path) == wanted
        assert await mismatches(store) == {}
    finally:
        await store.close()
