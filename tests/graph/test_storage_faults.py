"""Storage faults are answered, not crashed on: 503 with Retry-After in each family's shape, UNAVAILABLE in
GraphQL, nothing partial stored, and recovery in place, without a restart, once the fault clears."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from resolvers.core.services import DEFAULT_PROJECT
from storage.sqlite.faults import FULL
from tests.conftest import Api, ApiFactory
from tests.faults import drop_filler, fill_to, note, typed_batch, write_lock

LIMIT = 2 * 1024 * 1024  # the database's size limit: the "disk" these tests fill
MAX_BATCHES = 400  # hang guard for the loops that fill the database

FULL_ERROR = f"Service unavailable: {FULL} (SQLITE_FULL); retry after 30 s"
INGEST = """mutation($events: [EventInput!]!) { ingestEvents(events: $events) {
    ... on IngestSuccess { ingested }
} }"""


def db_path(api: Api) -> Path:
    return Path(api.store.inner.path)


async def post(api: Api, path: str, body: Any, key: str | None = None, **headers: str) -> tuple[int, Any, Any]:
    if key is not None:
        headers["Idempotency-Key"] = key
    resp = await api.client.post(path, json=body, headers=headers)
    return resp.status, await resp.json(), resp.headers


async def fill_with_ingest(api: Api, prefix: str, size: int, text_bytes: int) -> tuple[int, str]:
    """POST batches of `size` events until one is refused; returns (batches stored, the refused batch's key)."""
    for n in range(MAX_BATCHES):
        key = f"{prefix}-{n}"
        status, body, headers = await post(api, "/api/events", typed_batch(key, size, text_bytes), key)
        if status != 201:
            assert (status, body, headers["Retry-After"]) == (503, {"error": FULL_ERROR}, "30")
            return n, key
    raise AssertionError(f"still taking writes after {MAX_BATCHES} batches")


async def chains(api: Api) -> dict[str, tuple[int, bool]]:
    """Each session's event count (its counter) and whether its hash chain verifies."""
    out = {}
    for session in (await api.get("/api/sessions", limit=500))["sessions"]:
        timeline = await api.get(f"/api/sessions/{session['id']}/timeline")
        assert len(timeline["events"]) == session["eventCount"]  # the counter agrees with the rows
        out[session["id"]] = (session["eventCount"], timeline["chainValid"])
    return out


async def test_a_full_disk_answers_503_stores_nothing_partial_and_recovers_in_place(
    make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api = await make_api(sqlite_max_bytes=LIMIT, rate_limits=True)
    fill_to(db_path(api), LIMIT, leave_bytes=600 * 1024)

    # Ingest fills what is left: big batches until one does not fit, then single events until none does.
    caplog.clear()
    big, refused = await fill_with_ingest(api, "big", 20, 1500)
    small, _ = await fill_with_ingest(api, "small", 1, 10)
    assert big >= 3, (big, small)  # the disk filled up under ingest, not before it
    warnings = [r for r in caplog.records if r.name == "lensgraph.rest"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]  # one line per refused request
    line = f"unavailable POST /api/events: 503 {FULL} (SQLITE_FULL) [OperationalError: database or disk is full]"
    assert warnings[0].getMessage() == line
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback anywhere
    assert all(r.exc_info is None for r in caplog.records)

    # Nothing of a refused batch was stored: counters, rows and hash chains agree with the answered batches.
    stored = 20 * big + small
    assert (await api.get("/api/events", limit=1))["total"] == stored
    sessions = await chains(api)
    assert sum(count for count, _ in sessions.values()) == stored
    assert all(valid for _, valid in sessions.values())
    assert (await api.get("/api/events", search=f"{refused}-0", limit=1))["total"] == 0

    # Every family answers the write with 503 and Retry-After, in its own error shape; GraphQL says UNAVAILABLE.
    sdk = {"events": [{"event_type": "tool_call", "session_id": "sdk", "input_data": {"text": "x" * 2000}}]}
    assert (await post(api, "/events", sdk))[:2] == (503, {"error": FULL_ERROR})
    status, body, headers = await post(api, "/agent-analytics/track/batch", {"events": [
        {"event": "page_view", "properties": {"text": "y" * 2000}, "session_id": "v1"}]})
    assert (status, body, headers["Retry-After"]) == (503, {"error": FULL_ERROR}, "30")
    answer = await api.gql(INGEST, {"events": [note("g", "graphql", 0, 2000)]})
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert error["message"] == f"{FULL} (SQLITE_FULL)"
    assert error["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 30}

    # Reads are served throughout, a keyed read too (its rate-limit count is a write: counted in memory instead).
    resp = await api.client.get("/api/events", params={"limit": 1}, headers={"Authorization": "Bearer any-key"})
    assert resp.status == 200 and (await resp.json())["total"] == stored
    assert (await api.data("{ sessions { totalCount } }"))["sessions"]["totalCount"] == len(sessions)
    resp = await api.client.get("/readyz")
    assert resp.status == 503
    assert await resp.json() == {"status": "degraded", "live_subscribers": 0, "pid": os.getpid(),
                                 "checks": {"store": f"read-only: {FULL} (SQLITE_FULL)", "live": "ok"}}

    # Space is freed: readiness returns without any write from a client, then the client's retry is stored once.
    drop_filler(db_path(api))
    resp = await api.client.get("/readyz")
    assert (resp.status, (await resp.json())["status"]) == (200, "ready")
    retry = typed_batch(refused, 20)
    status, first, headers = await post(api, "/api/events", retry, refused)
    assert (status, first["ingested"], "Idempotent-Replayed" in headers) == (201, 20, False)
    status, again, headers = await post(api, "/api/events", retry, refused)
    assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")
    assert (await api.get("/api/events", limit=1))["total"] == stored + 20
    after = await chains(api)
    assert sum(count for count, _ in after.values()) == stored + 20 and all(v for _, v in after.values())


async def test_a_write_lock_held_past_the_busy_timeout_answers_503_and_then_the_retry_succeeds(
    make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api = await make_api(sqlite_busy_timeout_ms=100)
    assert (await post(api, "/api/events", typed_batch("before", 5)))[0] == 201
    busy = "the database stayed locked by another writer for over 100 ms (SQLITE_BUSY)"
    caplog.clear()
    with write_lock(db_path(api)):  # another process's transaction, held longer than the server waits
        status, body, headers = await post(api, "/api/events", typed_batch("during", 5), "during")
        assert (status, headers["Retry-After"]) == (503, "1")
        assert body == {"error": f"Service unavailable: {busy}; retry after 1 s"}
        answer = await api.gql(INGEST, {"events": [note("g", "graphql", 0, 10)]})
        assert answer["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 1}
        # Readers do not wait for the writer's lock, and contention is not a read-only store.
        assert (await api.get("/api/events", limit=1))["total"] == 5
        resp = await api.client.get("/readyz")
        assert (resp.status, (await resp.json())["status"]) == (200, "ready")
    assert [r.levelno for r in caplog.records if r.name.startswith("lensgraph")] == [logging.WARNING] * 2
    status, body, _ = await post(api, "/api/events", typed_batch("during", 5), "during")
    assert (status, body["ingested"]) == (201, 5)
    assert (await api.get("/api/events", limit=1))["total"] == 10
    assert all(valid for _, valid in (await chains(api)).values())


async def test_the_server_starts_beside_a_held_write_lock_and_makes_its_default_project_once_it_can(
    make_api: ApiFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Start-up writes nothing to a current database, and tolerates a store that cannot write yet: a default
    project it could not create is created in the background once writes succeed."""
    path = tmp_path / "locked.db"
    first = await make_api(database_url=f"sqlite:///{path}")
    assert (await post(first, "/api/events", typed_batch("before", 4)))[0] == 201
    await first.client.close()
    with sqlite3.connect(path) as db:  # a database whose default project is missing: start-up must write it
        db.execute("DELETE FROM projects WHERE id = ?", (DEFAULT_PROJECT,))

    with write_lock(path):
        api = await make_api(database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=100)
        (line,) = [r.getMessage() for r in caplog.records if "default project" in r.getMessage()]
        assert line.startswith("the default project cannot be created yet (the database stayed locked by another "
                               "writer for over 100 ms (SQLITE_BUSY) [OperationalError: database is locked]")
        assert (await api.get("/api/events"))["total"] == 4
        assert (await api.get("/agent-analytics/projects"))["projects"] == []
    for _ in range(300):  # hang guard: the start-up's retry runs every second
        listed = (await api.get("/agent-analytics/projects"))["projects"]
        if listed:
            break
        await asyncio.sleep(0.05)
    assert [p["id"] for p in listed] == [DEFAULT_PROJECT]
    assert (await post(api, "/api/events", typed_batch("after", 4)))[0] == 201
