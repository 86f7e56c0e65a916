"""The anomaly stream of the live bus, on the real SQLite store: each new anomaly once per process, whether
this process detected it or another stored it; nothing from before the subscriber came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from resolvers.live.feed import FeedBus
from storage.models.anomalies import Anomaly, Severity
from storage.sqlite.store import SQLiteStore
from storage.timeutil import now_ms
from tests.graph.test_lens_api import anomaly

P = "default"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "watch.db")
    await store.start()
    yield store
    await store.close()


def drain(sub: object) -> list[str]:
    queue = sub.queue  # type: ignore[attr-defined]
    out = []
    while not queue.empty():
        item = queue.get_nowait()
        if isinstance(item, Anomaly):
            out.append(item.id)
    return out


def fresh(hours_ago: float, project: str = P, **kw: object) -> Anomaly:
    """An anomaly of a window hours_ago, stored by a detector pass that began a moment ago."""
    return anomaly(project=project, hours_ago=hours_ago, **kw).model_copy(update={"detected_at": now_ms()})


async def test_new_anomalies_reach_subscribers_once_by_poll_or_at_once(store: SQLiteStore) -> None:
    bus = FeedBus(store.live, 100, store.anomalies, anomaly_poll_seconds=3600)  # polls only when the test says
    assert bus.anomalies is not None
    old = fresh(5)
    await store.anomalies.insert_anomaly(old)
    every = await bus.subscribe_anomalies(P)
    critical = await bus.subscribe_anomalies(P, frozenset({"critical"}))
    await bus.anomalies.poll()
    assert drain(every) == []  # what was stored before it subscribed is not news

    elsewhere = fresh(4, severity=Severity.LOW)  # stored by the detector in another process
    await store.anomalies.insert_anomaly(elsewhere)
    await bus.anomalies.poll()
    await bus.anomalies.poll()
    assert drain(every) == [elsewhere.id]
    assert drain(critical) == []  # not of its severity

    here = fresh(3)  # detected in this process: published at once, and not again by a poll
    await store.anomalies.insert_anomaly(here)
    bus.anomaly_detected(here)
    assert drain(every) == [here.id]
    await bus.anomalies.poll()
    assert drain(every) == []
    assert drain(critical) == [here.id]

    every.close()
    critical.close()
    await bus.anomalies.poll()
    assert bus.local.anomaly_projects() == set() and bus.subscriber_count == 0
    await bus.close()


async def test_another_projects_anomalies_are_not_streamed(store: SQLiteStore) -> None:
    bus = FeedBus(store.live, 100, store.anomalies, anomaly_poll_seconds=3600)
    assert bus.anomalies is not None
    sub = await bus.subscribe_anomalies(P)
    theirs = fresh(1, project="other")
    await store.anomalies.insert_anomaly(theirs)
    bus.anomaly_detected(theirs)
    await bus.anomalies.poll()
    assert drain(sub) == []
    ours = fresh(1)
    await store.anomalies.insert_anomaly(ours)
    await bus.anomalies.poll()
    assert drain(sub) == [ours.id]
    await bus.close()
