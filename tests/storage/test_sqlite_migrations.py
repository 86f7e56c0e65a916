"""SQLite migrations: a version 1 database (as the previous release wrote it) opens and reads back."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from resolvers.traces.chain import event_hash, verify
from storage.contract import EventQuery, Page, RecordQuery, SchemaTooNew, SessionQuery
from storage.models import Event, Experiment, Revenue, Variant
from storage.models.analytics import AnalyticsQuery, GroupBy, Metric, Ref, Row
from storage.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION, V1, _statements
from storage.sqlite.store import SQLiteStore
from storage.timeutil import to_ms

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def write_version_1(path: Path) -> list[Event]:
    """What the previous release did at start-up and on ingest: its DDL, its meta row, its rows."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in _statements(V1):
        db.execute(statement)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '1')")
    events: list[Event] = []
    prev = None
    for seq in range(1, 4):
        e = Event(project_id="p", id=f"e{seq}", session_id="s1", agent_id="a", type="custom",
                  timestamp=T0.replace(second=seq), received_at=T0, seq=seq, payload={"n": seq, "note": "héllo"},
                  prev_hash=prev)
        e.hash = event_hash(e, prev)
        prev = e.hash
        events.append(e)
        db.execute(
            "INSERT INTO events (rowid, project_id, id, session_id, agent_id, type, severity, ts, received_at, seq,"
            " payload, metadata, search_text, prev_hash, hash) VALUES (?, 'p', ?, 's1', 'a', 'custom', 'info', ?, ?, ?,"
            " ?, '{}', ?, ?, ?)",
            (seq, e.id, to_ms(e.timestamp), to_ms(T0), seq, orjson.dumps(e.payload), f"{seq}\nhéllo", e.prev_hash,
             e.hash),
        )
    # The tracker kept its user in agent_id, chained as such.
    tracked = Event(project_id="p", id="t1", session_id="visit", agent_id="user-9", type="page_view",
                    timestamp=T0, received_at=T0, seq=1, metadata={"source": "tracker"})
    tracked.hash = event_hash(tracked, None)
    db.execute(
        "INSERT INTO events (rowid, project_id, id, session_id, agent_id, type, severity, ts, received_at, seq,"
        " payload, metadata, search_text, prev_hash, hash) VALUES (4, 'p', 't1', 'visit', 'user-9', 'page_view',"
        " 'info', ?, ?, 1, '{}', '{\"source\": \"tracker\"}', '', NULL, ?)",
        (to_ms(T0), to_ms(T0), tracked.hash),
    )
    db.execute(
        "INSERT INTO sessions VALUES ('p', 's1', 'a', 'Agent A', 'completed', ?, ?, ?, '{\"env\": \"prod\"}', '[]',"
        " 3, 0, 0, 0, 10, 20, 1500000000, 0.0, ?, 3)",
        (to_ms(T0), to_ms(T0.replace(second=3)), to_ms(T0.replace(second=3)), prev),
    )
    db.close()
    return events


async def test_a_version_1_database_is_migrated_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    written = write_version_1(path)
    store = SQLiteStore(path)
    await store.start()
    try:
        (session,) = await store.traces.sessions_by_ids("p", ["s1"])
        assert (session.agent_name, session.event_count, session.cost_nanos, session.metadata) == (
            "Agent A", 3, 1_500_000_000, {"env": "prod"})
        chain = await store.traces.session_chain("p", "s1")
        assert [e.hash for e in chain] == [e.hash for e in written] and verify(chain)
        found = await store.traces.find_events("p", EventQuery(search="héllo"), Page(limit=10))
        assert found.total == 3
        listed = await store.traces.find_sessions("p", SessionQuery(statuses=("completed",)), Page())
        assert [s.id for s in listed.items] == ["s1"]
        # Version 3: the tracked event's user moves out of agent_id, and its chain still verifies.
        (visit,) = await store.traces.session_chain("p", "visit")
        assert (visit.kind, visit.user_id, visit.agent_id) == ("tracker", "user-9", None) and verify([visit])
        assert {e.kind for e in chain} == {"agent"} and all(e.user_id is None for e in chain)
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    # The new column is backfilled: the session's last change is its last event's commit position.
    assert db.execute("SELECT position FROM sessions WHERE id = 's1'").fetchone() == (3,)
    db.close()


def write_version_with_a_project(path: Path, version: int) -> Path:
    """A database as release `version` left it (its migrations applied, no later ones), with one project."""
    db = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:version]:
        for statement in _statements(script):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("INSERT INTO projects (id, name, created_at, allowed_origins, tracker_token) VALUES "
               "('old', 'old-site', ?, '[]', 'lgt_old')", (to_ms(T0),))
    db.close()
    return path


async def test_a_version_3_database_gains_accounts_and_keeps_its_projects(tmp_path: Path) -> None:
    path = write_version_with_a_project(tmp_path / "v3.db", 3)
    store = SQLiteStore(path)
    await store.start()
    try:
        (old,) = await store.projects.projects_by_ids(["old"])
        assert (old.name, old.account_id) == ("old-site", None)  # no account: the admin key manages it
        assert (await store.projects.find_projects(Page(limit=5), account_id="any")).total == 0
        assert await store.projects.accounts_by_ids(["any"]) == []
    finally:
        await store.close()


async def test_a_version_4_database_gains_experiments_and_keeps_its_projects(tmp_path: Path) -> None:
    path = write_version_with_a_project(tmp_path / "v4.db", 4)
    store = SQLiteStore(path)
    await store.start()
    try:
        (old,) = await store.projects.projects_by_ids(["old"])
        assert old.name == "old-site"
        assert await store.experiments.list_experiments("old") == []
        made = await store.experiments.create_experiment(Experiment(
            project_id="old", id="x1", name="hero", goal_event="signup", variants=[Variant(key="control", weight=100)],
            created_at=T0, updated_at=T0,
        ))
        assert await store.experiments.experiment_by_name("old", "hero") == made
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_a_version_5_database_gains_revenue_and_keeps_its_projects(tmp_path: Path) -> None:
    path = write_version_with_a_project(tmp_path / "v5.db", 5)
    store = SQLiteStore(path)
    await store.start()
    try:
        (old,) = await store.projects.projects_by_ids(["old"])
        assert old.name == "old-site"
        assert (await store.revenue.find_records(Revenue, "old", RecordQuery(), Page())).total == 0
        made = Revenue(project_id="old", id="r1", key="k", amount_nanos=12_340_000_000, agent_id="a",
                       recorded_at=T0, created_at=T0, updated_at=T0)
        await store.revenue.create_record(made)
        assert await store.revenue.records_by_ids(Revenue, "old", ["r1"]) == [made]
        assert await store.revenue.revenue_span("old") == (T0, T0)
        by_agent = AnalyticsQuery("old", T0, T0 + timedelta(days=1), source="revenues",
                                  group_by=(GroupBy(Ref("agent_id")),), metrics=(Metric("sum", Ref("amount_nanos")),))
        assert await store.analytics.aggregate(by_agent) == [Row(("a",), (12_340_000_000,))]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_opening_twice_migrates_once_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    write_version_1(path)
    for _ in range(2):
        store = SQLiteStore(path)
        await store.start()
        assert len(await store.traces.session_chain("p", "s1")) == 3
        await store.close()


async def test_a_database_from_a_newer_version_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    db.close()
    store = SQLiteStore(path)
    with pytest.raises(SchemaTooNew) as refused:
        await store.start()
    message = str(refused.value)
    assert f"schema version {SCHEMA_VERSION + 7}" in message and "\n" not in message
    assert f"this LensGraph's {SCHEMA_VERSION}" in message


async def test_a_version_7_database_gains_anomalies_and_keeps_its_projects(tmp_path: Path) -> None:
    path = write_version_with_a_project(tmp_path / "v7.db", 7)
    store = SQLiteStore(path)
    await store.start()
    try:
        (old,) = await store.projects.projects_by_ids(["old"])
        assert old.name == "old-site"
        assert await store.anomalies.list_rules("old") == []
        assert await store.anomalies.count_question("old", "2026-04-01", "ann") == 1
        assert [r.count for r in await store.anomalies.question_usage("old", "2026-04-01", "2026-04-01")] == [1]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (11,)
    db.close()


async def test_a_version_8_database_gains_webhooks_and_keeps_its_projects(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from storage.models.webhooks import Webhook

    path = write_version_with_a_project(tmp_path / "v8.db", 8)
    store = SQLiteStore(path)
    await store.start()
    try:
        (old,) = await store.projects.projects_by_ids(["old"])
        assert old.name == "old-site"
        at = datetime(2026, 4, 1, tzinfo=UTC)
        hook = Webhook(project_id="old", id="wh_1", url="https://example.com/h", events=["anomaly.detected"],
                       secret="s", created_at=at, updated_at=at)
        assert await store.webhooks.create_webhook(hook, 10)
        assert await store.webhooks.list_webhooks("old") == [hook]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (11,)
    db.close()
