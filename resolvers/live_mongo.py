"""Live events across server replicas, from MongoDB change streams.

Each replica subscribes to the database's change stream and fans out what it
reads through its own LocalBus, so a subscriber connected to any replica sees
the commits of every replica, in commit order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from resolvers.live import DEFAULT_QUEUE, Bus, EventFilter, LocalBus, SessionFilter, Subscription
from storage.models import Event, Session
from storage.mongo import MongoStore

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 30.0


class ChangeStreamBus:
    def __init__(self, store: MongoStore, queue_size: int = DEFAULT_QUEUE) -> None:
        self.local = LocalBus(queue_size)
        self._store = store
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return self.local.subscriber_count

    def publish_batch(self, project_id: str, events: Iterable[Event], sessions: Iterable[Session]) -> None:
        # This replica's own commits come back through the change stream like
        # everyone else's; publishing them here too would deliver them twice.
        return None

    def subscribe_events(self, project_id: str, flt: EventFilter, maxsize: int | None = None) -> Subscription:
        return self.local.subscribe_events(project_id, flt, maxsize)

    def subscribe_sessions(self, project_id: str, flt: SessionFilter, maxsize: int | None = None) -> Subscription:
        return self.local.subscribe_sessions(project_id, flt, maxsize)

    async def start(self) -> None:
        """Returns once the stream is open, so no commit after start-up is missed."""
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._pump(ready), name="lensgraph-change-stream")
        self._task.add_done_callback(_report_stop)
        opened = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({opened, self._task}, timeout=OPEN_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        if self._task in done:
            self._task.result()  # it stopped before opening: raise why
        elif not ready.is_set():
            log.warning("change stream not open after %.0f s; live events will flow once it opens", OPEN_TIMEOUT_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.local.close()

    async def _pump(self, ready: asyncio.Event) -> None:
        async for project_id, doc in self._store.watch(ready):
            if isinstance(doc, Event):
                self.local.publish_batch(project_id, [doc], [])
            else:
                self.local.publish_batch(project_id, [], [doc])


def _report_stop(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live change stream stopped: %r; subscribers get no new events", task.exception())


def choose_bus(store: object, queue_size: int = DEFAULT_QUEUE) -> Bus:
    """The bus for a started store: change streams where MongoDB can share them, else in-process."""
    if isinstance(store, MongoStore):
        if store.replicated:
            return ChangeStreamBus(store, queue_size)
        log.warning(
            "MongoDB at %s is a standalone server: live events are not shared across replicas "
            "(run one LensGraph process, or use a replica set for change streams)",
            store.hosts,
        )
    return LocalBus(queue_size)
