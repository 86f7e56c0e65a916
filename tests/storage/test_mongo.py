"""MongoStore beyond the shared contract: start-up, indexes, concurrency, crash recovery, parity, live events.

Tests marked real_server need LENSGRAPH_TEST_MONGODB_URL (a replica set, for
transactions and change streams); the rest run on mongomock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from resolvers.traces.chain import verify
from resolvers.live.bus import EventFilter, LocalBus, SessionFilter
from resolvers.live.feed import ChangeStreamBus, choose_bus
from resolvers.traces.planner import BatchPlanner, Lifecycle
from storage.contract import Conflict, EventQuery, Page, SessionQuery
from storage.models import ApiKey, Event, IdempotentResponse, Project, Session, SessionStatus
from storage.mongo.store import INDEXES, MongoStore, StoreUnavailable
from storage.sqlite.store import SQLiteStore
from storage.timeutil import now_ms
from tests.storage.conftest import MONGODB_URL, mongomock_store, with_database
from tests.storage.mongomock_async import AsyncMongomockClient

P = "proj"
T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)

real_server = pytest.mark.skipif(
    not MONGODB_URL, reason="real-server test: set LENSGRAPH_TEST_MONGODB_URL to a MongoDB replica set"
)


def ev(i: int, session: str = "s1", type_: str = "custom", **kw: Any) -> Event:
    return Event(
        project_id=P,
        id=kw.pop("id", f"{session}-e{i:04d}"),
        session_id=session,
        agent_id=kw.pop("agent_id", "agent"),
        type=type_,
        timestamp=T0 + timedelta(seconds=kw.pop("second", i)),
        received_at=T0,
        payload=kw.pop("payload", {"i": i, "text": f"Item number {i}", "nested": [{"k": f"v{i % 3}"}]}),
        **kw,
    )


@pytest.fixture
def mock_client() -> AsyncMongomockClient:
    return AsyncMongomockClient()


@pytest.fixture
async def mock_store(mock_client: AsyncMongomockClient) -> AsyncIterator[MongoStore]:
    store = mongomock_store(f"t{uuid.uuid4().hex[:8]}", mock_client)
    await store.start()
    yield store
    await store.close()


# -- configuration and start-up ------------------------------------------------


def test_database_name_from_url_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LENSGRAPH_MONGODB_DB", raising=False)
    assert MongoStore("mongodb://h:27017/analytics?replicaSet=rs0").database_name == "analytics"
    assert MongoStore("mongodb://h:27017/?replicaSet=rs0").database_name == "lensgraph"
    monkeypatch.setenv("LENSGRAPH_MONGODB_DB", "from_env")
    assert MongoStore("mongodb://h:27017").database_name == "from_env"
    assert MongoStore("mongodb+srv://u:p@cluster.example.net/in_url").database_name == "in_url"


async def test_unreachable_server_fails_fast_naming_the_host_not_the_password() -> None:
    store = MongoStore("mongodb://user:secret@127.0.0.1:1/db?serverSelectionTimeoutMS=500")
    began = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        await store.start()
    message = str(caught.value)
    assert time.monotonic() - began < 10
    assert "127.0.0.1:1" in message and "secret" not in message
    assert "\n" not in message


async def test_malformed_url_is_reported_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        await MongoStore("mongodb://user:pa@ssw0rd@db.example.net/x").start()
    assert "db.example.net" in str(caught.value) and "ssw0rd" not in str(caught.value)


async def test_indexes_are_created_idempotently(mock_store: MongoStore, mock_client: AsyncMongomockClient) -> None:
    await mock_store.start()  # a second start, e.g. another replica booting
    db = mock_client.sync.get_database(mock_store.database_name)
    for name, indexes in INDEXES.items():
        assert set(db[name].index_information()) == {"_id_", *(i.document["name"] for i in indexes)}
    chain = db["events"].index_information()["events_by_chain"]
    assert list(chain["key"]) == [("project_id", 1), ("session_id", 1), ("seq", 1)] and chain["unique"]


async def test_a_standalone_store_gets_a_local_bus_and_one_warning(
    mock_store: MongoStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="resolvers.live_mongo"):
        bus = choose_bus(mock_store, 10)
    assert isinstance(bus, LocalBus)
    (record,) = caplog.records
    assert "live events are not shared across replicas" in record.getMessage()


async def test_a_replica_set_store_gets_the_change_stream_bus(caplog: pytest.LogCaptureFixture) -> None:
    store = mongomock_store(client=AsyncMongomockClient(replica_set=True))
    await store.start()
    with caplog.at_level(logging.WARNING):
        assert isinstance(choose_bus(store, 10), ChangeStreamBus)
    assert caplog.records == []


class ScriptedStream:
    """Stands in for MongoStore.watch (mongomock has no change streams): yields what the test feeds it."""

    def __init__(self) -> None:
        self.feed: asyncio.Queue[tuple[str, Event | Session]] = asyncio.Queue()

    async def watch(self, ready: asyncio.Event | None = None) -> AsyncIterator[tuple[str, Event | Session]]:
        if ready is not None:
            ready.set()
        while True:
            yield await self.feed.get()


async def test_change_stream_bus_delivers_the_stream_not_local_publishes() -> None:
    stream = ScriptedStream()
    bus = ChangeStreamBus(stream, 10)  # type: ignore[arg-type]
    await bus.start()
    events = bus.subscribe_events(P, EventFilter(session_id="s1"))
    sessions = bus.subscribe_sessions(P, SessionFilter())
    assert bus.subscriber_count == 2
    bus.publish_batch(P, [ev(1)], [])  # this replica's own commit: it comes back through the stream
    session = Session(project_id=P, id="s1", started_at=T0)
    for item in ((P, ev(2)), ("other", ev(3)), (P, ev(4, session="s2")), (P, session)):
        stream.feed.put_nowait(item)
    async with asyncio.timeout(5):
        assert (await events.get()).id == "s1-e0002"
        assert await sessions.get() == session
    assert events.queue.empty()
    task = bus._task
    await bus.close()
    assert task is not None and task.cancelled() and bus.subscriber_count == 0


# -- the standalone write path: optimistic concurrency and crash recovery -------


class CountingPlanner(BatchPlanner):
    calls = 0

    def __call__(self, current, events):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        return super().__call__(current, events)


async def test_concurrent_batches_on_one_session_retry_into_one_chain(
    mock_store: MongoStore, mock_client: AsyncMongomockClient
) -> None:
    # One process takes turns on a standalone server; two processes race and must retry.
    other_process = mongomock_store(mock_store.database_name, mock_client)
    await other_process.start()
    CountingPlanner.calls = 0
    batches = [[ev(b * 10 + i) for i in range(5)] for b in range(2)]
    results = await asyncio.gather(
        *(store.traces.commit_batch(P, b, CountingPlanner(P)) for store, b in zip((mock_store, other_process), batches))
    )
    assert CountingPlanner.calls > 2, "the two commits never conflicted: the test proves nothing"
    chain = await mock_store.traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == list(range(1, 11)) and verify(chain)
    (session,) = await mock_store.traces.sessions_by_ids(P, ["s1"])
    assert (session.event_count, session.chain_head) == (10, chain[-1].hash)
    assert sorted(e.id for r in results for e in r.inserted) == sorted(e.id for b in batches for e in b)
    assert sorted(e.position for e in chain) == sorted({e.position for e in chain})


async def _crash_after_session_commit(
    store: MongoStore, client: AsyncMongomockClient, monkeypatch: pytest.MonkeyPatch, batch: list[Event]
) -> None:
    events = client.get_database(store.database_name)["events"]
    original = events.insert_many

    async def lost_connection(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(events, "insert_many", original)
        raise AutoReconnect("connection lost")

    monkeypatch.setattr(events, "insert_many", lost_connection)
    with pytest.raises(AutoReconnect):
        await store.traces.commit_batch(P, batch, BatchPlanner(P))
    (session,) = await store.traces.sessions_by_ids(P, ["s1"])
    assert session.chain_seq == len(batch)  # committed, but its events are not stored yet
    assert await store.traces.session_chain(P, "s1") == []


async def test_a_retry_completes_a_batch_cut_off_mid_commit(
    mock_store: MongoStore, mock_client: AsyncMongomockClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _crash_after_session_commit(mock_store, mock_client, monkeypatch, [ev(i) for i in range(3)])
    retry = await mock_store.traces.commit_batch(P, [ev(i) for i in range(3)], BatchPlanner(P))
    assert retry.inserted == [] and [e.seq for e in retry.events] == [1, 2, 3]
    chain = await mock_store.traces.session_chain(P, "s1")
    assert [e.id for e in chain] == ["s1-e0000", "s1-e0001", "s1-e0002"] and verify(chain)
    (session,) = await mock_store.traces.sessions_by_ids(P, ["s1"])
    assert session.event_count == 3


async def test_the_next_batch_completes_a_batch_cut_off_mid_commit(
    mock_store: MongoStore, mock_client: AsyncMongomockClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _crash_after_session_commit(mock_store, mock_client, monkeypatch, [ev(i) for i in range(3)])
    await mock_store.traces.commit_batch(P, [ev(3)], BatchPlanner(P))
    chain = await mock_store.traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == [1, 2, 3, 4] and verify(chain)


# -- parity: the same fixture answers the same on SQLite and on MongoStore -------


async def _load(store: Any) -> None:
    hints = {
        "s1-e0000": Lifecycle(agent_name="Alpha", tags=["x", "y"], metadata={"env": "prod"}),
        "s2-e0000": Lifecycle(agent_name="Beta", tags=["y"]),
        "s1-e0011": Lifecycle(end_status=SessionStatus.ERROR),
    }
    first = [ev(0, "s1", "session_started", agent_id="alpha"), ev(0, "s2", "session_started", agent_id="beta")]
    first += [ev(i, "s1", "tool_call" if i % 2 else "llm_call", call_id=f"c{i // 2}", agent_id="alpha",
                 tokens_in=i, cost_nanos=i * 1000, duration_ms=i / 4) for i in range(1, 8)]
    await store.traces.commit_batch(P, first, BatchPlanner(P, hints))
    # Same timestamps across sessions: the (timestamp, session_id, seq) tie-break matters.
    second = [ev(i, "s2", "tool_response" if i % 2 else "error", severity="error" if i == 4 else "info",
                 call_id=f"c{i // 2}", agent_id="beta") for i in range(1, 9)]
    second += [ev(i, "s3", agent_id="alpha", second=5) for i in range(4)]
    second += [ev(11, "s1", "session_ended", agent_id="alpha")]
    await store.traces.commit_batch(P, second, BatchPlanner(P, hints))
    await store.traces.commit_batch("other", [ev(1, "s1").model_copy(update={"project_id": "other"})], BatchPlanner("other"))


def _dump(result: Any) -> Any:
    if isinstance(result, dict):
        return {k: _dump(v) for k, v in sorted(result.items())}
    if isinstance(result, list):
        return [_dump(v) for v in result]
    if hasattr(result, "items") and hasattr(result, "has_more"):
        return (_dump(result.items), result.total, result.has_more)
    return result.model_dump()


async def _answers(store: Any, now: datetime) -> list[Any]:
    await _load(store)
    all_events = (await store.traces.find_events(P, EventQuery(), Page(limit=100))).items
    all_sessions = (await store.traces.find_sessions(P, SessionQuery(), Page(limit=100))).items
    agents = (await store.traces.find_agents(P, Page(limit=100))).items
    pages = [
        Page(), Page(limit=3), Page(limit=4, offset=2), Page(limit=3, descending=True),
        Page(limit=2, offset=1, descending=True, count_total=False), Page(limit=0),
    ]
    e_mid, s_mid, a_mid = all_events[9], all_sessions[1], agents[0]
    event_pages = [*pages, Page(limit=5, after=(e_mid.timestamp, e_mid.session_id, e_mid.seq)),
                   Page(limit=5, descending=True, after=(e_mid.timestamp, e_mid.session_id, e_mid.seq))]
    session_pages = [*pages, Page(after=(s_mid.started_at, s_mid.id)),
                     Page(descending=True, after=(s_mid.started_at, s_mid.id))]
    agent_pages = [*pages, Page(after=(a_mid.last_seen, a_mid.id)),
                   Page(descending=True, after=(a_mid.last_seen, a_mid.id))]
    event_queries = [
        EventQuery(), EventQuery(session_ids=("s2", "s3")), EventQuery(agent_ids=("beta",)),
        EventQuery(types=("tool_call", "error")), EventQuery(severities=("error",)), EventQuery(types=()),
        EventQuery(since=T0 + timedelta(seconds=3), until=T0 + timedelta(seconds=6)),
        EventQuery(search="ITEM NUMBER 1"), EventQuery(search="v2"), EventQuery(search=" r 5 "),
        EventQuery(search="(."), EventQuery(session_ids=("s1",), search="number"),
    ]
    session_queries = [
        SessionQuery(), SessionQuery(tags=("y",)), SessionQuery(tags=("x", "y")), SessionQuery(tags=()),
        SessionQuery(statuses=("error",)), SessionQuery(agent_ids=("alpha",)), SessionQuery(statuses=()),
        SessionQuery(since=T0 + timedelta(seconds=1)), SessionQuery(until=T0),
    ]
    out: list[Any] = []
    for q in event_queries:
        out += [_dump(await store.traces.find_events(P, q, p)) for p in event_pages]
        out += [_dump(await store.traces.events_for_sessions(P, ["s1", "s2", "s3", "none"], q, p)) for p in event_pages]
    for q in session_queries:
        out += [_dump(await store.traces.find_sessions(P, q, p)) for p in session_pages]
        out += [_dump(await store.traces.sessions_for_agents(P, ["alpha", "beta", "none"], q, p)) for p in session_pages]
    out += [_dump(await store.traces.find_agents(P, p)) for p in agent_pages]
    by_id = lambda items: sorted(_dump(items), key=lambda d: (d["project_id"], d["id"]))  # noqa: E731
    out.append(by_id(await store.traces.events_by_call_ids(P, [("s1", "c1"), ("s2", "c1"), ("s2", "c3"), ("s3", "c0")])))
    out.append(by_id(await store.traces.sessions_by_ids(P, ["s1", "s2", "s3", "nope"])))
    out.append(by_id(await store.traces.events_by_ids(P, ["s1-e0003", "s2-e0004", "s3-e0000", "nope"])))
    out.append(by_id(await store.traces.agents_by_ids(P, ["alpha", "beta", "nope"])))
    out += [_dump(await store.traces.session_chain(P, s)) for s in ("s1", "s2", "s3")]
    for q in event_queries:
        out += [_dump(await store.traces.events_after(P, after, q, n)) for after, n in ((0, 500), (5, 3), (12, 0), (99, 5))]
    return out + await _tenancy_answers(store, now)


async def _tenancy_answers(store: Any, now: datetime) -> list[Any]:
    def project(i: int, name: str) -> Project:
        return Project(project_id=f"p{i}", id=f"p{i}", name=name, created_at=T0 + timedelta(seconds=i % 2),
                       allowed_origins=[f"https://{name}.example"], tracker_token=f"tok{i}")

    def key(i: int, project_id: str) -> ApiKey:
        return ApiKey(project_id=project_id, id=f"k{i}", prefix=f"lg_{i}", hash=f"h{i}", created_at=T0)

    out: list[Any] = [await store.has_keys()]
    for i, name in enumerate(["a", "b", "c"]):
        await store.projects.create_project(project(i, name))
    for clash in (project(9, "a"), project(8, "fresh").model_copy(update={"tracker_token": "tok1"})):
        with pytest.raises(Conflict):
            await store.projects.create_project(clash)
    with pytest.raises(Conflict):
        await store.projects.update_project(project(2, "b"))
    await store.projects.update_project(project(2, "c2"))
    for i, owner in enumerate(["p0", "p0", "p1"]):
        await store.projects.add_key(key(i, owner))
    out += [
        _dump(await store.projects.projects_by_ids(["p2", "nope"])), await store.projects.projects_by_ids([]),
        _dump(await store.projects.project_by_name("c2")), await store.projects.project_by_name("c"),
        _dump(await store.projects.project_by_tracker_token("tok1")), await store.projects.project_by_tracker_token("nope"),
        _dump(await store.projects.find_projects(Page(limit=2))), _dump(await store.projects.find_projects(Page(limit=2, offset=2))),
        _dump(await store.projects.key_by_hash("h1")), await store.projects.key_by_hash("nope"), await store.has_keys(),
        await store.projects.revoke_keys("p0", T0 + timedelta(hours=1)), await store.projects.revoke_keys("p0", T0),
        _dump(await store.projects.keys_for_project("p0")), await store.has_keys(),
    ]
    # now is real time: MongoDB's TTL index really drops records whose expiry has passed.
    first = IdempotentResponse(project_id="p1", key="k", fingerprint="f1", status=201, body=b"\x00{}",
                               content_type="application/json", created_at=now, expires_at=now + timedelta(days=1))
    later = first.model_copy(update={"fingerprint": "f2", "created_at": now + timedelta(hours=1)})
    replacing = first.model_copy(update={"fingerprint": "f3", "created_at": now + timedelta(days=2),
                                         "expires_at": now + timedelta(days=3)})
    out += [_dump(await store.idempotency.remember_response(first)), _dump(await store.idempotency.remember_response(later)),
            _dump(await store.idempotency.recall_response("p1", "k", now)),
            await store.idempotency.recall_response("p1", "k", now + timedelta(days=1)),
            await store.idempotency.recall_response("p0", "k", now), _dump(await store.idempotency.remember_response(replacing))]
    out += [await store.projects.delete_project("p1"), await store.projects.delete_project("p1"), await store.projects.keys_for_project("p1"),
            await store.idempotency.recall_response("p1", "k", now + timedelta(days=2)), await store.has_keys()]
    out += [await store.projects.delete_project(P), (await store.traces.find_events(P, EventQuery(), Page())).total,
            await store.traces.sessions_by_ids(P, ["s1"]), (await store.traces.find_agents(P, Page())).total,
            len(await store.traces.session_chain("other", "s1"))]
    return out


@pytest.mark.parametrize("replica_set", [False, True], ids=["mongomock", "mongomock-txn"])
async def test_mongo_answers_exactly_as_sqlite(tmp_path: Path, replica_set: bool) -> None:
    mongo = mongomock_store("parity", AsyncMongomockClient(replica_set=replica_set))
    await mongo.start()
    now = now_ms()
    sqlite = SQLiteStore(tmp_path / "parity.db")
    await sqlite.start()
    try:
        expected = await _answers(sqlite, now)
    finally:
        await sqlite.close()
    actual = await _answers(mongo, now)
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert a == e, f"answer {i} differs"


# -- real MongoDB only -----------------------------------------------------------


@pytest.fixture
async def real_store() -> AsyncIterator[MongoStore]:
    assert MONGODB_URL is not None
    url = with_database(MONGODB_URL, f"lensgraph_test_{uuid.uuid4().hex[:12]}")
    store = MongoStore(url)
    await store.start()
    yield store
    await store.close()
    async with AsyncMongoClient(MONGODB_URL) as admin:
        await admin.drop_database(store.database_name)


@real_server
async def test_real_server_uses_transactions_and_concurrent_batches_chain(real_store: MongoStore) -> None:
    if not real_store.replicated:
        pytest.skip("LENSGRAPH_TEST_MONGODB_URL is a standalone server: no transactions to test")
    await asyncio.gather(*(real_store.traces.commit_batch(P, [ev(b * 100 + i) for i in range(10)], BatchPlanner(P))
                           for b in range(8)))
    chain = await real_store.traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == list(range(1, 81)) and verify(chain)
    positions = [e.position for e in chain]
    assert positions == sorted(set(positions)), "positions must follow commit order"


@real_server
async def test_change_stream_delivers_every_replicas_commits(real_store: MongoStore) -> None:
    if not real_store.replicated:
        pytest.skip("LENSGRAPH_TEST_MONGODB_URL is a standalone server: change streams need a replica set")
    other = MongoStore(real_store.url)  # a second LensGraph replica on the same database
    await other.start()
    bus = choose_bus(other, 100)
    assert isinstance(bus, ChangeStreamBus)
    await bus.start()
    try:
        events = bus.subscribe_events(P, EventFilter(session_id="s1"))
        sessions = bus.subscribe_sessions(P, SessionFilter())
        bus.publish_batch(P, [ev(99)], [])  # a no-op: delivery comes from the stream
        await real_store.traces.commit_batch(P, [ev(1), ev(2), ev(1, session="s2")], BatchPlanner(P))
        async with asyncio.timeout(10):
            got = [await events.get(), await events.get()]
            session_ids = {(await sessions.get()).id, (await sessions.get()).id}
        assert [(e.id, e.seq) for e in got] == [("s1-e0001", 1), ("s1-e0002", 2)]
        assert session_ids == {"s1", "s2"}
        assert events.queue.empty()
    finally:
        await bus.close()
        await other.close()
