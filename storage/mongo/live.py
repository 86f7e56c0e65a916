"""The MongoDB change feed.

On a replica set or sharded cluster it is the database's change stream: every
process's commits, in commit order, this process's own included (so commits
are never delivered twice). A standalone server has no change streams: the
feed then carries this process's own commits only, and says so (shared is
False), so run one LensGraph process against it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

from storage.contract.live import Change, Followed
from storage.models import Event, Session
from storage.mongo.client import Mongo
from storage.mongo.layout import EVENTS, SESSIONS

log = logging.getLogger("storage.mongo")

CHANGE_STREAM_HISTORY_LOST = 286
REOPEN_SECONDS = 1.0


class MongoFeed:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo
        self._pending: deque[Change] = deque()
        self._wake = asyncio.Event()
        self._following = False

    @property
    def shared(self) -> bool:
        return self.m.replicated

    def committed(self, project_id: str, events: Sequence[Event], sessions: Sequence[Session]) -> None:
        if self.m.replicated or not self._following:
            return  # the change stream brings our own commits back, in order with everyone else's
        self._pending.append(Change(project_id, list(events), list(sessions)))
        self._wake.set()

    async def follow(self, ready: asyncio.Event, followed: Followed | None = None) -> AsyncIterator[Change]:
        if self.m.replicated:
            async for change in self._watch(ready, followed):
                yield change
            return
        # The one place a standalone server's limit shows at run time: say it once, when live events start.
        log.warning(
            "MongoDB at %s is a standalone server: live events are not shared across replicas "
            "(run one LensGraph process, or use a replica set for change streams)",
            self.m.hosts,
        )
        self._following = True
        ready.set()
        try:
            while True:
                while self._pending:
                    yield self._pending.popleft()
                await self._wake.wait()
                self._wake.clear()
        finally:
            self._following = False
            self._pending.clear()

    async def _watch(self, ready: asyncio.Event, followed: Followed | None) -> AsyncIterator[Change]:
        """Every inserted event and written session. Sets ready once the stream is open: commits after
        that are not missed. Reopens after a failure from where it stopped, or from now if the server no
        longer has that point."""
        pipeline = [
            {
                "$match": {
                    "$or": [
                        {"operationType": "insert", "ns.coll": EVENTS},
                        {"operationType": {"$in": ["insert", "replace"]}, "ns.coll": SESSIONS},
                    ]
                }
            },
            {"$project": {"fullDocument.search_text": 0, "fullDocument.pending": 0}},
        ]
        token: Any = None
        while True:
            try:
                async with await self.m.db.watch(pipeline, resume_after=token) as stream:
                    ready.set()
                    async for change in stream:
                        token = stream.resume_token
                        doc = change["fullDocument"]
                        # Asked on arrival, after the commit: whoever listened before it is asked about.
                        if followed is not None and doc["project_id"] not in followed():
                            continue  # nobody here listens to this project: not worth a model
                        if change["ns"]["coll"] == EVENTS:
                            yield Change(doc["project_id"], events=[Event.model_validate(doc)])
                        else:
                            yield Change(doc["project_id"], sessions=[Session.model_validate(doc)])
            except PyMongoError as exc:
                if isinstance(exc, OperationFailure) and exc.code == CHANGE_STREAM_HISTORY_LOST:
                    token = None
                log.warning("change stream on %s interrupted (%s); reopening", self.m.hosts, exc)
                await asyncio.sleep(REOPEN_SECONDS)
