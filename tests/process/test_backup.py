"""lensgraph backup under load, and restore: copies open with every chain valid; bad input never damages anything."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp

from resolvers.traces.chain import verify
from storage.contract import Page, SessionQuery
from storage.sqlite.store import SQLiteStore
from tests.process.conftest import Spawn
from tests.process.test_two_processes import batch

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graph.app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


async def chains(path: Path) -> tuple[int, int, bool]:
    """(sessions, events, every chain valid) of a database file."""
    store = SQLiteStore(path)
    await store.start()
    try:
        sessions = (await store.traces.find_sessions("default", SessionQuery(), Page(limit=1000))).items
        valid, events = True, 0
        for session in sessions:
            chain = await store.traces.session_chain("default", session.id)
            events += len(chain)
            valid = valid and verify(chain) and len(chain) == session.event_count
        return len(sessions), events, valid
    finally:
        await store.close()


async def test_a_backup_taken_under_load_opens_with_every_chain_valid(spawn: Spawn, tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    server = await spawn(f"sqlite:///{database}")
    stop = asyncio.Event()
    sent = 0

    async def load() -> None:
        nonlocal sent
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                async with http.post(f"{server.url}/api/events", json=batch(sent, size=20)) as r:
                    assert r.status == 201
                sent += 1

    loading = asyncio.create_task(load())
    await asyncio.sleep(0.5)
    copies = []
    for n in range(3):  # several backups while ingest goes on
        target = tmp_path / f"backup-{n}.db"
        done = await asyncio.to_thread(cli, "backup", str(target), "--database", f"sqlite:///{database}")
        assert done.returncode == 0, done.stderr
        assert f"written to {target}" in done.stdout
        copies.append(target)
        await asyncio.sleep(0.2)
    stop.set()
    await loading
    assert sent > 10
    counts = [await chains(c) for c in copies]
    for sessions, events, valid in counts:
        assert valid and sessions > 0 and events % 20 == 0  # whole batches only: each copy is one snapshot
    assert counts[0][1] <= counts[1][1] <= counts[2][1] <= sent * 20

    # Restore refuses while the server holds the database, then puts the copy back once it is stopped.
    refused = cli("restore", str(copies[0]), "--database", f"sqlite:///{database}")
    assert refused.returncode == 2 and "in use by a running server" in refused.stderr
    await server.terminate()
    restored = cli("restore", str(copies[0]), "--database", f"sqlite:///{database}")
    assert restored.returncode == 0, restored.stderr
    assert await chains(database) == counts[0]


def test_bad_backup_and_restore_requests_are_one_line_and_damage_nothing(tmp_path: Path) -> None:
    database = tmp_path / "db.db"
    made = cli("demo", "--database", f"sqlite:///{database}")
    assert made.returncode == 0
    before = database.read_bytes()
    cases = [
        ("backup", "/proc/no/such/dir/x.db", "cannot write /proc/no/such/dir/x.db"),
        ("backup", str(database), "exists; choose a new file name"),
    ]
    not_ours = tmp_path / "other.db"
    sqlite3.connect(not_ours).execute("CREATE TABLE t (x)").connection.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all " * 100)
    future = tmp_path / "future.db"
    assert cli("backup", str(future), "--database", f"sqlite:///{database}").returncode == 0
    with sqlite3.connect(future) as db:
        db.execute("PRAGMA user_version = 99")
    cases += [
        ("restore", str(not_ours), "is not a LensGraph database"),
        ("restore", str(text), "is not a LensGraph database"),
        ("restore", str(future), "schema version 99"),
        ("restore", str(tmp_path / "missing.db"), "no backup at"),
    ]
    for verb, path, said in cases:
        done = cli(verb, path, "--database", f"sqlite:///{database}")
        assert done.returncode == 2, (verb, path, done.stderr)
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("lensgraph: ") and said in line, line
    assert database.read_bytes() == before
    mongo = cli("backup", str(tmp_path / "m"), "--database", "mongodb://127.0.0.1:1/x")
    assert mongo.returncode == 2 and "mongodump" in mongo.stderr


def test_a_backup_finishes_while_another_process_writes_without_pause(tmp_path: Path) -> None:
    """A copy of many pages while a writer commits without pause. Page-by-page copying restarted on
    every foreign write between two steps, so under such a writer it never finished (the CLI's timeout
    ended it); one step reads one snapshot."""
    database = tmp_path / "busy.db"
    assert cli("demo", "--database", f"sqlite:///{database}").returncode == 0
    db = sqlite3.connect(database)
    db.execute("CREATE TABLE filler (x BLOB)")
    db.executemany("INSERT INTO filler VALUES (randomblob(4000))", [()] * 3000)  # ~3,000 pages beyond the demo
    db.commit()
    db.close()
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
        "while True:\n"
        "    db.execute('INSERT INTO filler VALUES (randomblob(100))')\n"
    ), str(database)])
    try:
        target = tmp_path / "copy.db"
        done = cli("backup", str(target), "--database", f"sqlite:///{database}")
        assert done.returncode == 0, done.stderr
        assert writer.poll() is None, "the writer must still be writing when the copy is taken"
    finally:
        writer.kill()
        writer.wait()
    copy = sqlite3.connect(target)
    (rows,) = copy.execute("SELECT COUNT(*) FROM filler").fetchone()
    (events,) = copy.execute("SELECT COUNT(*) FROM events").fetchone()
    copy.close()
    assert rows >= 3000 and events > 0
