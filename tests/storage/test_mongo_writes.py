"""MongoStore's one write, commit_batch, on real servers: transactions, races, crashes, rollback, claims.

Replica set (SecantusDB, or a real one): one multi-document transaction per
batch. Standalone (SecantusDB --standalone): a compare-and-set per session
that carries the batch's events, copied out afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from resolvers.traces.chain import verify
from resolvers.traces.planner import BatchPlanner
from storage.contract import BatchPlan, Claim, CommitResult, EventQuery, Page, StoreUnavailable
from storage.models import Event, Session
from storage.mongo.store import MongoStore
from storage.timeutil import now_ms
from tests.mongo_server import MongoServer, OpenStore, new_database_name
from tests.storage.batches import P, ev, race

HANG_GUARD_S = 60  # only stops a broken test from hanging the run; nothing here is timed


class CountingPlanner(BatchPlanner):
    """Counts its calls: every call past the first of a commit is a retry after a conflict."""

    def __init__(self, project_id: str) -> None:
        super().__init__(project_id)
        self.calls = 0

    def __call__(self, current: Mapping[str, Session], events: list[Event]) -> BatchPlan:
        self.calls += 1
        return super().__call__(current, events)


async def _counter(store: MongoStore) -> int | None:
    doc = await store.mongo.counters.find_one({"_id": P})
    return None if doc is None else doc["position"]


# -- transactions on a replica set ----------------------------------------------------


class Recorder(CommandListener):
    """Every command the client sends, as sent."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


WRITES = {"insert", "update", "findAndModify", "delete"}


async def _recorded_commit(server: MongoServer, open_mongo: OpenStore) -> list[tuple[str, dict[str, Any]]]:
    recorder = Recorder()
    name = new_database_name()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        server.url(name), tz_aware=True, event_listeners=[recorder]
    )
    store = await open_mongo(server, name, client=client)
    recorder.commands.clear()  # start-up's own commands are not the batch's
    await store.traces.commit_batch(P, [ev(1), ev(2), ev(1, session="s2")], BatchPlanner(P))
    return recorder.commands


async def test_a_batch_is_one_transaction_on_a_replica_set(replset_server: MongoServer, open_mongo: OpenStore) -> None:
    commands = await _recorded_commit(replset_server, open_mongo)
    names = [name for name, _ in commands]
    assert names[-1] == "commitTransaction" and names.count("commitTransaction") == 1
    in_txn = commands[: len(commands) - 1]
    writes = [(name, cmd) for name, cmd in in_txn if name in WRITES]
    # agents upsert, two sessions, the position counter, the events
    assert [name for name, _ in writes] == ["update", "insert", "insert", "findAndModify", "insert"]
    txn = {(str(cmd["lsid"]["id"]), cmd["txnNumber"]) for _, cmd in in_txn}
    assert len(txn) == 1, "every command of the batch belongs to one transaction"
    assert all(cmd["autocommit"] is False for _, cmd in in_txn)
    assert in_txn[0][1].get("startTransaction") is True


async def test_no_transaction_on_a_standalone_server(standalone_server: MongoServer, open_mongo: OpenStore) -> None:
    commands = await _recorded_commit(standalone_server, open_mongo)
    names = [name for name, _ in commands]
    assert "commitTransaction" not in names and not any("autocommit" in cmd for _, cmd in commands)
    # agents upsert, position counter, then per session: compare-and-set with the events, copy, unset
    writes = [name for name, _ in commands if name in WRITES]
    assert writes == ["update", "findAndModify", "insert", "insert", "update", "insert", "insert", "update"]


# -- concurrent batches on one session -------------------------------------------------


async def test_concurrent_batches_on_one_session_from_two_processes_retry_into_one_chain(
    mongo_server: MongoServer, open_mongo: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await open_mongo(mongo_server)
    second = await open_mongo(mongo_server, first.database_name)  # another LensGraph process, its own client
    # The project's position counter exists before the race. SecantusDB 0.7.0b3 answers the loser of two
    # concurrent findAndModify upserts creating one document with value null (MongoDB retries it as an
    # update and returns the document), which the standalone path, outside a transaction, would meet.
    await first.traces.commit_batch(P, [ev(0, session="warm-up")], BatchPlanner(P))
    race(monkeypatch, first, second)
    planners = [CountingPlanner(P), CountingPlanner(P)]
    batches = [[ev(b * 10 + i) for i in range(5)] for b in range(2)]
    async with asyncio.timeout(HANG_GUARD_S):
        results = await asyncio.gather(
            *(store.traces.commit_batch(P, batch, planner)
              for store, batch, planner in zip((first, second), batches, planners, strict=True))
        )
    assert sum(p.calls for p in planners) >= 3, "both planned from the same state: one of them must have re-planned"
    chain = await first.traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == list(range(1, 11)) and verify(chain)
    (session,) = await second.traces.sessions_by_ids(P, ["s1"])
    assert (session.event_count, session.chain_seq, session.chain_head) == (10, 10, chain[-1].hash)
    assert sorted(e.id for r in results for e in r.inserted) == sorted(e.id for b in batches for e in b)
    # Each batch's events stay together in the chain, in batch order: a re-plan appends, never interleaves.
    assert [e.id for e in chain] in ([e.id for e in batches[0] + batches[1]], [e.id for e in batches[1] + batches[0]])
    positions = [e.position for e in chain]
    assert positions == sorted(set(positions)) and await _counter(first) == positions[-1]
    if mongo_server.replicated:
        # The loser's counter increment was rolled back with its transaction: no gap. On a standalone
        # server the positions it took before losing the compare-and-set stay unused (either batch may
        # have won, so the chain starts at 2 or 7 there).
        assert positions == list(range(2, 12))
    else:
        assert positions in ([*range(2, 7), *range(12, 17)], [*range(7, 17)])


async def test_many_concurrent_batches_chain_in_commit_order(
    replset_server: MongoServer, open_mongo: OpenStore
) -> None:
    stores = [await open_mongo(replset_server)]
    stores.append(await open_mongo(replset_server, stores[0].database_name))
    async with asyncio.timeout(HANG_GUARD_S):
        await asyncio.gather(*(
            stores[b % 2].traces.commit_batch(P, [ev(b * 100 + i) for i in range(10)], BatchPlanner(P))
            for b in range(8)
        ))
    chain = await stores[0].traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == list(range(1, 81)) and verify(chain)
    # One transaction per batch, serialized on the project's counter: positions follow the chain, across processes.
    assert [e.position for e in chain] == list(range(1, 81))


# -- the standalone path: a batch cut off mid-commit ---------------------------------------


class LosesOneInsert:
    """The events collection, whose next insert_many is lost with the connection, as a process dying there."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def insert_many(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed:
            self.armed = False
            raise AutoReconnect("connection lost")
        return await self.inner.insert_many(*args, **kwargs)


async def _cut_off(server: MongoServer, open_mongo: OpenStore, monkeypatch: pytest.MonkeyPatch) -> MongoStore:
    """Commits s1-e0000..2 on a process that dies between its commit point and storing the events.

    Returns another process on the same database, which the client's retry (or anyone's next batch) reaches.
    """
    dying = await open_mongo(server)
    monkeypatch.setattr(dying.mongo, "events", LosesOneInsert(dying.mongo.events))
    with pytest.raises(StoreUnavailable) as lost:  # the driver's error, as the store contract says it
        await dying.traces.commit_batch(P, [ev(i) for i in range(3)], BatchPlanner(P))
    assert isinstance(lost.value.__cause__, AutoReconnect) and lost.value.retry_after == 5
    await dying.close()
    survivor = await open_mongo(server, dying.database_name)
    raw = await survivor.mongo.sessions.find_one({"id": "s1"})
    # Committed: the session moved on and holds its sealed events; the events collection has none yet.
    assert raw["chain_seq"] == 3 and [p["id"] for p in raw["pending"]] == ["s1-e0000", "s1-e0001", "s1-e0002"]
    assert await survivor.mongo.events.count_documents({}) == 0
    return survivor


async def test_a_retry_completes_a_batch_cut_off_mid_commit(
    standalone_server: MongoServer, open_mongo: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _cut_off(standalone_server, open_mongo, monkeypatch)
    retry = await store.traces.commit_batch(P, [ev(i) for i in range(3)], BatchPlanner(P))
    assert retry.inserted == [] and [(e.id, e.seq) for e in retry.events] == [
        ("s1-e0000", 1), ("s1-e0001", 2), ("s1-e0002", 3)
    ]
    chain = await store.traces.session_chain(P, "s1")
    assert [e.id for e in chain] == ["s1-e0000", "s1-e0001", "s1-e0002"] and verify(chain)
    assert [e.hash for e in chain] == [e.hash for e in retry.events]
    (session,) = await store.traces.sessions_by_ids(P, ["s1"])
    assert (session.event_count, session.chain_head) == (3, chain[-1].hash)
    assert "pending" not in await store.mongo.sessions.find_one({"id": "s1"})
    assert (await store.traces.find_events(P, EventQuery(search="item number 2"), Page())).total == 1


async def test_the_next_batch_completes_a_batch_cut_off_mid_commit(
    standalone_server: MongoServer, open_mongo: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _cut_off(standalone_server, open_mongo, monkeypatch)
    await store.traces.commit_batch(P, [ev(3)], BatchPlanner(P))
    chain = await store.traces.session_chain(P, "s1")
    assert [(e.id, e.seq, e.position) for e in chain] == [
        ("s1-e0000", 1, 1), ("s1-e0001", 2, 2), ("s1-e0002", 3, 3), ("s1-e0003", 4, 4)
    ]
    assert verify(chain)
    assert "pending" not in await store.mongo.sessions.find_one({"id": "s1"})


# -- rollback on a replica set ------------------------------------------------------------


def _plan_that_breaks_at_the_events(current: Mapping[str, Session], events: list[Event]) -> BatchPlan:
    """A valid plan, except that its last event holds an integer BSON cannot store (beyond 64 bits signed).

    The transaction writes the agents, the sessions and the position counter before it reaches the
    events, so the failure comes midway, after all of those writes.
    """
    plan = BatchPlanner(P)(current, events)
    plan.events[-1].payload = {"too_big": 2**63}
    return plan


async def test_a_batch_failing_midway_is_rolled_back_whole(replset_server: MongoServer, open_mongo: OpenStore) -> None:
    store = await open_mongo(replset_server)
    await store.traces.commit_batch(P, [ev(i) for i in range(3)], BatchPlanner(P))
    before = {
        name: await store.mongo.db[name].find({}, sort=[("_id", 1)]).to_list()
        for name in ("events", "sessions", "agents", "counters", "idempotency")
    }
    batch = [ev(3), ev(0, session="s2", agent_id="beta"), ev(1, session="s2", agent_id="beta")]
    with pytest.raises(OverflowError):
        await store.traces.commit_batch(P, batch, _plan_that_breaks_at_the_events)
    after = {name: await store.mongo.db[name].find({}, sort=[("_id", 1)]).to_list() for name in before}
    assert after == before
    assert await _counter(store) == 3
    assert await store.traces.sessions_by_ids(P, ["s2"]) == [] and await store.traces.agents_by_ids(P, ["beta"]) == []
    (s1,) = await store.traces.sessions_by_ids(P, ["s1"])
    assert (s1.event_count, s1.chain_seq) == (3, 3)
    # And the store goes on from where it was.
    retried = await store.traces.commit_batch(P, batch, BatchPlanner(P))
    assert [(e.id, e.seq, e.position) for e in retried.inserted] == [("s1-e0003", 4, 4), ("s2-e0000", 1, 5),
                                                                      ("s2-e0001", 2, 6)]


# -- idempotency claims -----------------------------------------------------------------------


def _claim(key: str) -> Claim:
    now = now_ms()

    def answer(result: CommitResult) -> tuple[int, bytes, str]:
        return 201, orjson.dumps({"stored": [e.id for e in result.inserted]}), "application/json"

    return Claim(project_id=P, key=key, fingerprint="fp", created_at=now, expires_at=now + timedelta(days=1),
                 answer=answer)


async def _claimed_twice(first: MongoStore, second: MongoStore) -> None:
    batch = [ev(i) for i in range(3)]
    claim = _claim("retry-me")
    async with asyncio.timeout(HANG_GUARD_S):
        results = await asyncio.gather(first.traces.commit_batch(P, batch, BatchPlanner(P), claim),
                                       second.traces.commit_batch(P, batch, BatchPlanner(P), claim))
    body = b'{"stored":["s1-e0000","s1-e0001","s1-e0002"]}'
    assert sorted(r.replayed for r in results) == [False, True]
    applied, replayed = sorted(results, key=lambda r: r.replayed)
    assert [e.id for e in applied.inserted] == ["s1-e0000", "s1-e0001", "s1-e0002"]
    assert (replayed.inserted, replayed.events) == ([], [])
    for r in results:
        assert r.response is not None
        assert (r.response.status, r.response.body, r.response.key) == (201, body, "retry-me")
    chain = await first.traces.session_chain(P, "s1")
    assert [e.id for e in chain] == ["s1-e0000", "s1-e0001", "s1-e0002"] and verify(chain)
    (session,) = await first.traces.sessions_by_ids(P, ["s1"])
    assert session.event_count == 3 and await _counter(first) == 3
    stored = await first.mongo.idempotency.find({}, {"_id": 0, "key": 1, "body": 1}).to_list()
    assert stored == [{"key": "retry-me", "body": body}]


async def test_one_key_claimed_by_two_processes_at_once_is_applied_once(
    replset_server: MongoServer, open_mongo: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await open_mongo(replset_server)
    second = await open_mongo(replset_server, first.database_name)
    race(monkeypatch, first, second)  # both check the key before either records it
    await _claimed_twice(first, second)


async def test_one_key_claimed_twice_at_once_on_a_standalone_server_is_applied_once(
    standalone_server: MongoServer, open_mongo: OpenStore
) -> None:
    # One process only on a standalone server (its commits take turns): the second call finds the record.
    store = await open_mongo(standalone_server)
    await _claimed_twice(store, store)
