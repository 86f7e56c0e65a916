"""The live bus of a running server: its store's change feed, fanned out to local subscribers.

Every commit reaches subscribers through the feed, in commit order, whichever
process made it (SQLite tails the file by commit position, MongoDB replica
sets stream changes); the feed hands this process's own commits over from
memory where it can. Nothing here knows which backend it runs on.
"""

from __future__ import annotations

import asyncio
import logging

from resolvers.live.anomalies import AnomalyWatch
from resolvers.live.bus import DEFAULT_QUEUE, EventFilter, LocalBus, SessionFilter, Subscription
from storage.contract.anomalies import AnomalyStore
from storage.contract.live import ChangeFeed
from storage.models.anomalies import Anomaly

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 30.0


class FeedBus:
    def __init__(self, feed: ChangeFeed, queue_size: int = DEFAULT_QUEUE, anomalies: AnomalyStore | None = None,
                 anomaly_poll_seconds: float | None = None) -> None:
        self.local = LocalBus(queue_size)
        self.feed = feed
        self.anomalies = None if anomalies is None else AnomalyWatch(
            anomalies, self.local, *(() if anomaly_poll_seconds is None else (anomaly_poll_seconds,)))
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return self.local.subscriber_count

    @property
    def shared(self) -> bool:
        return self.feed.shared

    @property
    def queued(self) -> int:
        return self.local.queued

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscribe_events(self, project_id: str, flt: EventFilter, maxsize: int | None = None) -> Subscription:
        return self.local.subscribe_events(project_id, flt, maxsize)

    def subscribe_sessions(self, project_id: str, flt: SessionFilter, maxsize: int | None = None) -> Subscription:
        return self.local.subscribe_sessions(project_id, flt, maxsize)

    async def subscribe_anomalies(
        self, project_id: str, severities: frozenset[str] | None = None, maxsize: int | None = None
    ) -> Subscription:
        if self.anomalies is None:
            raise RuntimeError("this bus was built without an anomaly store")
        sub = self.local.subscribe_anomaly_stream(project_id, severities, maxsize)
        try:
            await self.anomalies.watch(project_id)
        except BaseException:
            sub.close()
            raise
        return sub

    def anomaly_detected(self, anomaly: Anomaly) -> None:
        if self.anomalies is not None:
            self.anomalies.detected(anomaly)

    async def start(self) -> None:
        """Returns once the feed is open, so no commit after start-up is missed."""
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._pump(ready), name="lensgraph-live-feed")
        self._task.add_done_callback(_report_stop)
        opened = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({opened, self._task}, timeout=OPEN_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        if self._task in done:
            self._task.result()  # it stopped before opening: raise why
        elif not ready.is_set():
            log.warning("live feed not open after %.0f s; live events will flow once it opens", OPEN_TIMEOUT_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.anomalies is not None:
            await self.anomalies.close()
        await self.local.close()

    async def _pump(self, ready: asyncio.Event) -> None:
        async for change in self.feed.follow(ready, self.local.followed_projects):
            self.local.publish_batch(change.project_id, change.events, change.sessions)


def _report_stop(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live feed stopped: %r; subscribers get no new events", task.exception())
