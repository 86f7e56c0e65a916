"""The full-text index in a file of its own, following the commits on a thread of its own
(storage/sqlite/search_index.py): search finds an event as soon as its batch is answered, ingest never waits
for the index, deletes keep it whole, and an index that does not match its database is rebuilt."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from resolvers.traces.planner import BatchPlanner
from storage.contract import EventQuery, Page
from storage.models import Event
from storage.sqlite.backup import backup, restore
from storage.sqlite.migrations import MIGRATIONS, _statements
from storage.sqlite.search_file import DATABASE, INDEXED, match_expression, search_path
from storage.sqlite.store import SQLiteStore
from tests.storage.batches import ev, steps

P = "proj"


@pytest.fixture
def store(sqlite_store: SQLiteStore) -> SQLiteStore:
    return sqlite_store


async def commit(store: SQLiteStore, events: list[Event]) -> Any:
    return await store.traces.commit_batch(P, events, BatchPlanner(P, {}, "agent"))


async def search(store: SQLiteStore, term: str) -> list[str]:
    found = await store.traces.find_events(P, EventQuery(search=term), Page(limit=100))
    return [e.id for e in found.items]


def index_state(db_path: Path, check: bool = True) -> tuple[int, list[int], list[int]]:
    """The index's mark, the rowids it holds, and the database's events' rowids; checks the index is whole."""
    db = sqlite3.connect(search_path(db_path), isolation_level=None)
    try:
        if check:
            db.execute("INSERT INTO events_fts (events_fts, rank) VALUES ('integrity-check', 1)")
        (mark,) = db.execute("SELECT COALESCE(MAX(value), 0) FROM search_meta WHERE key = ?", (INDEXED,)).fetchone()
        held = [r for (r,) in db.execute("SELECT rowid FROM events_fts ORDER BY rowid")]
    finally:
        db.close()
    main = sqlite3.connect(db_path)
    try:
        events = [r for (r,) in main.execute("SELECT rowid FROM events ORDER BY rowid")]
    finally:
        main.close()
    return int(mark), held, events


async def caught_up(db_path: Path) -> tuple[int, list[int], list[int]]:
    """The index's state once it holds every event (the follower gets there by itself)."""
    for _ in range(200):
        mark, held, events = index_state(db_path)
        if held == events and mark == (events[-1] if events else 0):
            return mark, held, events
        await asyncio.sleep(0.02)
    return index_state(db_path)


def test_a_term_asks_for_its_trigrams() -> None:
    assert match_expression("abc") == '"abc"'
    assert match_expression('ab"cd') == '"ab""" AND "b""c" AND """cd"'
    assert match_expression("aaaa") == '"aaa"'  # each once
    long = match_expression("the quick brown fox jumps over the lazy dog")
    assert long.count(" AND ") == 11 and long.startswith('"the"') and long.endswith('"dog"')


async def test_search_finds_an_event_as_soon_as_its_batch_is_answered(store: SQLiteStore, tmp_path: Path) -> None:
    for k in range(5):
        await commit(store, steps(f"s{k}", 0, 3, word=f"zebra{k}quokka"))
        assert sorted(await search(store, f"ZEBRA{k}quokka")) == [f"s{k}-{i:04d}" for i in range(3)]
    mark, held, events = await caught_up(tmp_path / "g.db")
    assert held == events == list(range(1, 16)) and mark == 15  # each event indexed once


async def test_searches_match_substrings_exactly(store: SQLiteStore) -> None:
    await commit(store, [
        ev(1, "s", id="a", payload={"text": "Deploy the zebra-crossing service"}),
        ev(2, "s", id="b", payload={"text": "crossing zebras"}),
        ev(3, "s", id="c", payload={"note": 'say "hi" to 100% of users'}),
        ev(4, "s", id="d", payload={"note": "grüße aus Köln"}),
    ])
    assert await search(store, "zebra-cross") == ["a"]
    assert sorted(await search(store, "zebra")) == ["a", "b"]
    assert await search(store, "ebras") == ["b"]  # every trigram of the term in "b" only
    assert await search(store, '"hi" to 100%') == ["c"]  # quotes and LIKE's wildcards are literal
    assert await search(store, "100_") == []
    assert await search(store, "KÖLN") == ["d"]
    assert await search(store, "ra c") == []  # trigrams in both, the phrase in neither


async def test_ingest_does_not_wait_for_the_index(store: SQLiteStore, tmp_path: Path) -> None:
    await commit(store, steps("s", 0, 2, word="pangolin"))
    await caught_up(tmp_path / "g.db")
    # Another connection holds the index's write lock: its follower cannot write.
    blocker = sqlite3.connect(search_path(tmp_path / "g.db"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        for k in range(5):
            await commit(store, steps("s", 2 + 3 * k, 3, word="armadillo"))
        assert time.monotonic() - started < 5  # the follower's busy timeout is 10 s: nothing waited on it
        # A search does not wait for an index that cannot catch up: it scans, and finds everything.
        assert len(await search(store, "armadillo")) == 15
        assert len(await search(store, "pangolin")) == 2
        mark, _, _ = index_state(tmp_path / "g.db", check=False)
        assert mark == 2
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    mark, held, events = await caught_up(tmp_path / "g.db")
    assert held == events and mark == 17


async def test_the_index_stays_whole_through_deletes(store: SQLiteStore, tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    await commit(store, steps("old", 0, 3, word="ancient"))
    await caught_up(path)
    # The newest events are deleted before the index could hold them.
    blocker = sqlite3.connect(search_path(path), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    await commit(store, steps("new", 0, 3, word="recent"))
    assert await store.traces.delete_sessions_before(P, datetime(2030, 1, 1, tzinfo=UTC), 100) == 2
    blocker.execute("ROLLBACK")
    blocker.close()
    # New events never take a position an event had: the index may hold it.
    result = await commit(store, steps("later", 0, 2, word="ancient"))
    assert [e.position for e in result.inserted] == [7, 8]
    assert sorted(await search(store, "ancient")) == ["later-0000", "later-0001"]
    assert await search(store, "recent") == []
    mark, held, events = await caught_up(path)
    assert held == events == [7, 8] and mark == 8
    # The delete log is trimmed behind the index.
    for _ in range(100):
        db = sqlite3.connect(path)
        (left,) = db.execute("SELECT COUNT(*) FROM search_deletes").fetchone()
        db.close()
        if left == 0:
            break
        await asyncio.sleep(0.02)
    assert left == 0


async def reopen(path: Path) -> SQLiteStore:
    s = SQLiteStore(path, readers=2)
    await s.start()
    return s


async def test_an_index_of_another_database_or_of_a_later_history_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    s = await reopen(path)
    try:
        await commit(s, steps("a", 0, 4, word="walrus"))
        await caught_up(path)
        backup(path, tmp_path / "early.db")
        await commit(s, steps("b", 0, 4, word="narwhal"))
        await caught_up(path)
    finally:
        await s.close()

    # A restored backup is older than the index: restore drops the index, and it is built again.
    restore(tmp_path / "early.db", path)
    assert not search_path(path).exists()
    s = await reopen(path)
    try:
        assert await search(s, "narwhal") == []
        assert len(await search(s, "walrus")) == 4
        result = await commit(s, steps("c", 0, 2, word="narwhal"))
        assert [e.position for e in result.inserted] == [5, 6]
        assert sorted(await search(s, "narwhal")) == ["c-0000", "c-0001"]
        mark, held, events = await caught_up(path)
        assert held == events == [1, 2, 3, 4, 5, 6] and mark == 6
    finally:
        await s.close()

    # An index left ahead of its database (its mark past every position), or the file of another database,
    # is emptied and rebuilt for this one.
    for key, value, term, matches in ((INDEXED, 99, "narwhal", 2), (DATABASE, "elsewhere", "walrus", 4)):
        db = sqlite3.connect(search_path(path))
        db.execute("UPDATE search_meta SET value = ? WHERE key = ?", (value, key))
        db.commit()
        db.close()
        s = await reopen(path)
        try:
            assert len(await search(s, term)) == matches
            mark, held, events = await caught_up(path)
            assert held == events and mark == 6
            assert owner(path) == owner(path, search_path(path))  # written by the rebuild only
        finally:
            await s.close()


def owner(path: Path, index: Path | None = None) -> str:
    """The database's search_id, or (index given) the one its index file says it belongs to."""
    db = sqlite3.connect(index or path)
    try:
        query = "SELECT value FROM search_meta WHERE key = 'database'" if index else (
            "SELECT value FROM meta WHERE key = 'search_id'")
        (value,) = db.execute(query).fetchone()
    finally:
        db.close()
    return str(value)


async def test_a_version_10_database_moves_its_index_out(tmp_path: Path) -> None:
    """Version 10 kept events_fts in the database, with a mark; version 11 drops it and builds the new file."""
    path = tmp_path / "v10.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:10]:
        for statement in _statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 10")
    for rowid in range(1, 5):
        db.execute(
            "INSERT INTO events (rowid, project_id, id, session_id, type, severity, ts, received_at, seq, payload,"
            " metadata, search_text, hash) VALUES (?, ?, ?, 's', 'custom', 'info', 0, 0, ?, '{}', '{}', ?, 'h')",
            (rowid, P, f"e{rowid}", rowid, f"otter {rowid}"),
        )
    db.execute("INSERT INTO events_fts (rowid, search_text) SELECT rowid, search_text FROM events")
    db.execute("UPDATE meta SET value = '4' WHERE key = 'search_indexed'")
    db.execute("DELETE FROM events WHERE rowid = 4")  # the newest: its position must not be given again
    db.close()

    s = await reopen(path)
    try:
        assert sorted(await search(s, "OTTER")) == ["e1", "e2", "e3"]
        result = await commit(s, steps("n", 0, 1, word="otter"))
        assert result.inserted[0].position == 5
        mark, held, events = await caught_up(path)
        assert held == events == [1, 2, 3, 5] and mark == 5
    finally:
        await s.close()
    db = sqlite3.connect(path)
    names = {n for (n,) in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "events_fts" not in names and "search_deletes" in names


async def test_the_follower_stops_with_the_store(tmp_path: Path) -> None:
    s = await reopen(tmp_path / "g.db")
    await commit(s, steps("s", 0, 2, word="lemur"))
    thread = s.traces.search._thread
    assert thread is not None and thread.is_alive()
    await s.close()
    assert not thread.is_alive() and s.traces.search._thread is None
