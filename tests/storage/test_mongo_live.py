"""MongoDB's change feed under the live bus (FeedBus), on real servers.

A replica set's feed is its change stream: every process's commits, in commit
order, each once. A standalone server has none: the feed carries this
process's own commits only, and says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from resolvers.live.bus import EventFilter, SessionFilter, Subscription
from resolvers.live.feed import FeedBus
from resolvers.traces.planner import BatchPlanner
from storage.contract import CommitResult
from storage.contract.live import Change
from storage.models import Event, Session
from storage.mongo.store import MongoStore
from tests.mongo_server import MongoServer, OpenStore
from tests.storage.batches import P, ev

HANG_GUARD_S = 60  # only stops a broken test from hanging the run; nothing here is timed
END = "end-e0000"  # a last commit: whatever was delivered twice or out of order arrives before it


async def test_the_feed_is_shared_on_a_replica_set_only(mongo_server: MongoServer, open_mongo: OpenStore) -> None:
    store = await open_mongo(mongo_server)
    expected = {"mongodb-replset": True, "mongodb-standalone": False}.get(mongo_server.name, mongo_server.replicated)
    assert store.live.shared is expected
    assert FeedBus(store.live).shared is expected


async def test_only_a_standalone_feed_warns_once_that_it_is_not_shared(
    mongo_server: MongoServer, open_mongo: OpenStore, buses: list[FeedBus], caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_mongo(mongo_server)
    with caplog.at_level(logging.WARNING, logger="storage.mongo"):
        await _bus(store, buses)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if store.live.shared:
        assert warnings == []
    else:
        assert warnings == [
            f"MongoDB at {store.hosts} is a standalone server: live events are not shared across replicas "
            "(run one LensGraph process, or use a replica set for change streams)"
        ]


@pytest.fixture
async def buses() -> AsyncIterator[list[FeedBus]]:
    started: list[FeedBus] = []
    yield started
    for bus in started:
        await bus.close()


async def _bus(store: MongoStore, buses: list[FeedBus]) -> tuple[Subscription, Subscription]:
    bus = FeedBus(store.live, 1000)
    buses.append(bus)
    await bus.start()  # returns once the feed is open: nothing committed from here on is missed
    return bus.subscribe_events(P, EventFilter()), bus.subscribe_sessions(P, SessionFilter())


async def _until_end(events: Subscription, sessions: Subscription) -> tuple[list[Event], list[Session]]:
    got: list[Event] = []
    async with asyncio.timeout(HANG_GUARD_S):
        while not got or got[-1].id != END:
            got.append(await events.get())  # type: ignore[arg-type]
        session_list: list[Session] = []
        while not session_list or session_list[-1].id != "end":
            session_list.append(await sessions.get())  # type: ignore[arg-type]
    assert events.queue.empty() and sessions.queue.empty()
    return got, session_list


def _events(*results: CommitResult) -> list[tuple[str, int, int]]:
    return [(e.id, e.seq, e.position) for r in results for e in r.inserted]


def _sessions(*results: CommitResult) -> list[tuple[str, int]]:
    return [(s.id, s.event_count) for r in results for s in r.sessions]


async def test_a_replica_set_feed_delivers_every_process_commits_in_commit_order(
    replset_server: MongoServer, open_mongo: OpenStore, buses: list[FeedBus]
) -> None:
    here = await open_mongo(replset_server)
    there = await open_mongo(replset_server, here.database_name)  # another process: its own client
    yielded: list[str] = []  # the project of every change the feed built models for
    follow = here.live.follow

    async def recording(*args: Any) -> AsyncIterator[Change]:
        async for change in follow(*args):
            yielded.append(change.project_id)
            yield change

    here.live.follow = recording  # type: ignore[method-assign]
    events, sessions = await _bus(here, buses)
    results = [
        await there.traces.commit_batch(P, [ev(1), ev(2), ev(1, session="s2")], BatchPlanner(P)),
        await there.traces.commit_batch("other", [ev(1, project_id="other")], BatchPlanner("other")),
        await here.traces.commit_batch(P, [ev(3)], BatchPlanner(P)),  # this process's own: delivered once
        await there.traces.commit_batch(P, [ev(2, session="s2"), ev(4)], BatchPlanner(P)),
        await there.traces.commit_batch(P, [ev(0, session="end")], BatchPlanner(P)),
    ]
    got_events, got_sessions = await _until_end(events, sessions)
    mine = [r for r in results if r.inserted[0].project_id == P]
    assert [(e.id, e.seq, e.position) for e in got_events] == _events(*mine)
    assert [e.position for e in got_events] == [1, 2, 3, 4, 5, 6, 7]
    assert [(s.id, s.event_count) for s in got_sessions] == _sessions(*mine)
    assert got_events[0] == mine[0].inserted[0]  # whole events, as stored
    assert set(yielded) == {P}  # "other" has no listener here: the stream's change was skipped, not decoded


async def test_a_standalone_feed_delivers_this_process_commits_only(
    standalone_server: MongoServer, open_mongo: OpenStore, buses: list[FeedBus]
) -> None:
    here = await open_mongo(standalone_server)
    there = await open_mongo(standalone_server, here.database_name)
    events, sessions = await _bus(here, buses)
    first = await here.traces.commit_batch(P, [ev(1), ev(2), ev(1, session="s2")], BatchPlanner(P))
    await there.traces.commit_batch(P, [ev(1, session="elsewhere")], BatchPlanner(P))  # not shared: not seen
    second = await here.traces.commit_batch(P, [ev(3)], BatchPlanner(P))
    end = await here.traces.commit_batch(P, [ev(0, session="end")], BatchPlanner(P))
    got_events, got_sessions = await _until_end(events, sessions)
    assert [(e.id, e.seq, e.position) for e in got_events] == _events(first, second, end)
    assert [(s.id, s.event_count) for s in got_sessions] == _sessions(first, second, end)
