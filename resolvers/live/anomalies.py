"""New anomalies on the live bus, in every process: what the anomalyDetected subscription streams.

The detector runs in one process per database (its window is claimed in the store), but subscribers may be
connected to any. The detector's own process hears each anomaly at once (AnomalyWatch.detected); every
process also polls the store for the projects it has anomaly subscribers in, one query per project and poll
however many subscribers there are. Each anomaly is published once per process: ids seen within LOOKBACK
are remembered, and a project's first poll only marks what already exists, so a new subscriber is sent
anomalies detected after it subscribed, not the project's history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from resolvers.live.bus import LocalBus
from storage.contract import AnomalyQuery, Page
from storage.contract.anomalies import AnomalyStore
from storage.models.anomalies import Anomaly
from storage.timeutil import now_ms

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
# How far back a poll looks. An anomaly's detected_at is when its detector pass began, so a pass may store it
# later than that; a pass over every project's rules takes far less than this.
LOOKBACK = timedelta(hours=1)
PAGE = 200


class AnomalyWatch:
    def __init__(self, store: AnomalyStore, local: LocalBus, poll_seconds: float = POLL_SECONDS,
                 clock: Callable[[], datetime] = now_ms) -> None:
        self.store = store
        self.local = local
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._seen: dict[str, dict[str, datetime]] = {}  # project -> anomaly id -> detected_at
        self._priming: set[str] = set()  # projects whose existing anomalies are being marked as known
        self._task: asyncio.Task[None] | None = None

    async def watch(self, project_id: str) -> None:
        """Called once a subscriber is added: what the store already holds is not news to it."""
        if project_id not in self._seen:
            seen = self._seen.setdefault(project_id, {})  # detected() publishes from now on
            self._priming.add(project_id)
            try:
                known = await self._recent(project_id)
            finally:
                self._priming.discard(project_id)
            for a in known:
                seen.setdefault(a.id, a.detected_at)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll_forever(), name="lensgraph-anomaly-watch")

    def detected(self, anomaly: Anomaly) -> None:
        """An anomaly this process just stored: published now, and not again when a poll finds it."""
        seen = self._seen.get(anomaly.project_id)
        if seen is None or anomaly.id in seen:
            return  # nobody here watches the project (a later watch() marks it as known)
        seen[anomaly.id] = anomaly.detected_at
        self.local.publish_anomaly(anomaly)

    async def _recent(self, project_id: str) -> list[Anomaly]:
        found = await self.store.find_anomalies(
            project_id, AnomalyQuery(since=self.clock() - LOOKBACK), Page(limit=PAGE, offset=0))
        return found.items

    async def poll(self) -> None:
        watched = self.local.anomaly_projects()
        for project_id in list(self._seen):
            if project_id not in watched:
                del self._seen[project_id]  # its last subscriber left
        cutoff = self.clock() - LOOKBACK
        for project_id in (watched & set(self._seen)) - self._priming:
            fresh = [a for a in reversed(await self._recent(project_id)) if a.id not in self._seen[project_id]]
            seen = self._seen.get(project_id)
            if seen is None:
                continue  # unwatched while the store answered
            for a in fresh:
                seen[a.id] = a.detected_at
                self.local.publish_anomaly(a)
            for known, at in list(seen.items()):
                if at < cutoff:
                    del seen[known]

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down or slow: subscribers wait, the next poll tries again
                log.warning("anomaly watch poll failed: %r", exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
