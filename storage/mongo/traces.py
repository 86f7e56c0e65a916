"""Trace writes on MongoDB: commit_batch, the one event write.

Documents keep the API's ids and field names. Each carries ``_id = {"p":
project_id, "i": id}``: derived from the id, so an event id is unique per
project on every topology. A secondary unique index on (project_id, id) would
do the same on one server but is not allowed once events are sharded by
{project_id, session_id} (a unique index must start with the shard key),
whereas _id stays unique on the shard that owns the session, and a retried
event always carries its session. A sub-document rather than "project:id"
keeps two projects from ever sharing a key, whatever characters ids hold.

What commit_batch guarantees depends on the server, read once in start():

* Replica set or sharded cluster: the whole batch runs in one multi-document
  transaction. It is atomic; concurrent batches conflict on the session
  documents and are retried with fresh state, so the hash chain never forks.
* Standalone server (no transactions): each session's new state, together
  with the sealed events it gained, is written by one compare-and-set on the
  previous chain_seq; the events are then copied into the events collection
  and the copy dropped from the session. The compare-and-set is the commit
  point: a conflict re-reads and re-plans, and a crash after it leaves the
  events stored only on their session, which the next commit touching that
  session (a retry, or any other batch) copies out without duplicates. A
  batch spanning several sessions is therefore committed session by session:
  retry-safe and idempotent, not atomic. One session's share of one batch
  must fit in a 16 MB document there.

Event positions (commit order, what live streams resume from) come from one
counter document per project. In a transaction every batch of a project
increments it, so concurrent batches of one project serialize on it and
positions follow commit order across all processes. On a standalone server
commits are serialized within the process, which keeps that order for one
LensGraph process; several processes on one standalone server are not ordered.

Live events need a change stream, so a replica set or sharded cluster too:
see storage/mongo/live.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.contract import BatchPlan, Claim, CommitConflict, CommitResult, Planner
from storage.models import Agent, Event, IdempotentResponse, Session
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.idempotency import recall, remember
from storage.mongo.layout import doc_id, event_doc, session_doc
from storage.mongo.live import MongoFeed
from storage.mongo.traces_reads import DbSession, TraceReads
from storage.retention import whole_sessions_within
from storage.search import search_text

MAX_ATTEMPTS = 25
DUPLICATE_KEY = 11000
class _Conflict(Exception):
    """A session changed since it was read: re-read, re-plan, retry."""


@dataclass(slots=True)
class _Prepared:
    existing: dict[str, Event]  # batch ids already stored
    current: dict[str, Session]  # the touched sessions as read
    plan: BatchPlan | None  # None when nothing in the batch is new
    response: IdempotentResponse | None = None


@dataclass(slots=True)
class _Progress:
    """What one commit_batch call has stored so far, across its retries."""

    existing: dict[str, Event] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    claim: Claim | None = None
    replay: IdempotentResponse | None = None  # the key was already answered: nothing was written
    response: IdempotentResponse | None = None

    @classmethod
    def of(cls, prepared: _Prepared) -> _Progress:
        progress = cls(existing=prepared.existing)
        if prepared.plan is not None:
            progress.record(prepared.plan.events, prepared.plan.sessions)
        return progress

    def record(self, events: list[Event], sessions: Iterable[Session]) -> None:
        self.events.extend(events)
        self.sessions.update((s.id, s) for s in sessions)

    def result(self, events: list[Event]) -> CommitResult:
        stored = {e.id: e for e in self.events} | self.existing
        return CommitResult(
            events=[stored[e.id] for e in events], sessions=list(self.sessions.values()), inserted=list(self.events)
        )


_Commit = Callable[[str, list[Event], Planner, _Progress], Awaitable[None]]



@translated
class MongoTraces(TraceReads):
    def __init__(self, mongo: Mongo, feed: MongoFeed) -> None:
        super().__init__(mongo)
        self.feed = feed
        # Without transactions, commits in this process take turns, as on SQLite:
        # positions then follow commit order, and the feed delivers in that order.
        self._writer = asyncio.Lock()

    async def commit_batch(
        self, project_id: str, events: list[Event], plan: Planner, claim: Claim | None = None
    ) -> CommitResult:
        if self.m.replicated:
            result = await self._with_retries(self._commit_atomic, project_id, events, plan, claim)
        else:
            async with self._writer:
                result = await self._with_retries(self._commit_idempotent, project_id, events, plan, claim)
        if result.inserted:
            self.feed.committed(project_id, result.inserted, result.sessions)
        return result

    async def _with_retries(
        self, commit: _Commit, project_id: str, events: list[Event], plan: Planner, claim: Claim | None
    ) -> CommitResult:
        progress = _Progress(claim=claim)
        for attempt in range(MAX_ATTEMPTS):
            try:
                await commit(project_id, events, plan, progress)
            except _Conflict:
                # Jittered backoff, so batches racing for one session stop colliding.
                await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
                continue
            if progress.replay is not None:
                return CommitResult(events=[], sessions=[], inserted=[], response=progress.replay, replayed=True)
            result = progress.result(events)
            if claim is not None and progress.response is None:  # standalone: recorded after the work
                progress.response = await remember(self.m, claim.record(result), None)
            result.response = progress.response
            return result
        raise CommitConflict(
            f"the sessions of this batch changed under {MAX_ATTEMPTS} concurrent commits in a row; retry it"
        )

    async def _commit_atomic(self, project_id: str, events: list[Event], plan: Planner, progress: _Progress) -> None:
        claim = progress.claim

        async def attempt(s: AsyncClientSession) -> _Prepared | IdempotentResponse:
            if claim is not None:
                prior = await recall(self.m, claim.project_id, claim.key, claim.created_at, s)
                if prior is not None:
                    return prior
            prepared = await self._prepare(project_id, events, plan, s)
            if claim is not None:
                # Recorded in the transaction: a second process holding the same key conflicts here and,
                # retried, finds this record.
                record = claim.record(_Progress.of(prepared).result(events))
                try:
                    await self.m.idempotency.insert_one(record.model_dump(), session=s)
                except DuplicateKeyError as exc:
                    raise _Conflict from exc
                prepared.response = record
            if prepared.plan is None:
                return prepared
            await self._upsert_agents(prepared.plan.agents, s)
            for new in prepared.plan.sessions:
                await self._write_session(new, prepared.current.get(new.id), s)
            # Last before the inserts: the counter is what every batch of the
            # project contends for, so it is held for as short a time as possible.
            await self._number(project_id, prepared.plan.events, s)
            try:
                await self.m.events.insert_many([event_doc(e) for e in prepared.plan.events], session=s)
            except BulkWriteError as exc:
                if _only_duplicates(exc):  # an id or chain slot another commit just took
                    raise _Conflict from exc
                raise
            return prepared

        prepared = await self.m.in_transaction(attempt)
        if isinstance(prepared, IdempotentResponse):
            progress.replay = prepared
            return
        progress.response = prepared.response
        progress.existing = prepared.existing
        if prepared.plan is not None:
            progress.record(prepared.plan.events, prepared.plan.sessions)

    async def _commit_idempotent(
        self, project_id: str, events: list[Event], plan: Planner, progress: _Progress
    ) -> None:
        claim = progress.claim
        if claim is not None:
            progress.replay = await recall(self.m, claim.project_id, claim.key, claim.created_at, None)
            if progress.replay is not None:
                return
        prepared = await self._prepare(project_id, events, plan, None)
        progress.existing = prepared.existing
        if prepared.plan is None:
            return
        # Agent upserts only ever widen first/last seen, so writing them before
        # the sessions is safe to repeat and leaves nothing for a retry to miss.
        await self._upsert_agents(prepared.plan.agents, None)
        await self._number(project_id, prepared.plan.events, None)
        by_session: dict[str, list[Event]] = {}
        for e in prepared.plan.events:
            by_session.setdefault(e.session_id, []).append(e)
        for new in prepared.plan.sessions:
            sealed = by_session[new.id]
            pending = [{k: v for k, v in event_doc(e).items() if k != "search_text"} for e in sealed]
            await self._write_session(new, prepared.current.get(new.id), None, pending)
            progress.record(sealed, [new])
            await self._materialize(new, pending)

    async def _number(self, project_id: str, events: list[Event], s: DbSession) -> None:
        """Give the events the next positions of their project, in batch order."""
        counter = await self.m.counters.find_one_and_update(
            {"_id": project_id},
            {"$inc": {"position": len(events)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=s,
        )
        first = counter["position"] - len(events) + 1
        for offset, event in enumerate(events):
            event.position = first + offset

    async def _prepare(self, project_id: str, events: list[Event], plan: Planner, s: DbSession) -> _Prepared:
        ids = list(dict.fromkeys(e.id for e in events))
        existing = {e.id: e for e in await self._events_by_ids(project_id, ids, s)}
        candidates = [e for e in events if e.id not in existing]
        session_ids = list(dict.fromkeys(e.session_id for e in candidates))
        current: dict[str, Session] = {}
        wanted = set(ids)
        for doc in await self._by_ids(self.m.sessions, project_id, session_ids, {"_id": 0}, s):
            current[doc["id"]] = Session.model_validate(doc)
            if doc.get("pending"):
                # Committed by a writer that stopped before storing its events: finish its work.
                await self._materialize(current[doc["id"]], doc["pending"])
                existing.update((p["id"], Event.model_validate(p)) for p in doc["pending"] if p["id"] in wanted)
        fresh: list[Event] = []
        seen = set(existing)
        for e in events:
            if e.id not in seen:
                seen.add(e.id)
                # The planner completes events in place; a retry must start from the originals.
                fresh.append(e.model_copy())
        return _Prepared(existing, current, plan(current, fresh) if fresh else None)

    async def _write_session(
        self, new: Session, before: Session | None, s: DbSession, pending: list[dict[str, Any]] | None = None
    ) -> None:
        """Compare-and-set on chain_seq; a replacement, so free-form metadata keys are stored as inserts allow."""
        doc = session_doc(new)
        if pending is not None:
            doc["pending"] = pending
        if before is None:
            try:
                await self.m.sessions.insert_one(doc, session=s)
            except DuplicateKeyError as exc:
                raise _Conflict from exc
            return
        result = await self.m.sessions.replace_one(
            {"_id": doc["_id"], "project_id": new.project_id, "id": new.id, "chain_seq": before.chain_seq},
            doc,
            session=s,
        )
        if result.matched_count != 1:
            raise _Conflict

    async def _materialize(self, session: Session, pending: list[dict[str, Any]]) -> None:
        """Copy a session's committed events into the events collection, then drop the copy.

        Runs outside any transaction: duplicate keys here mean another writer
        got there first, which must not abort anything.
        """
        try:
            await self.m.events.insert_many(
                [{**p, "search_text": search_text(p["payload"])} for p in pending], ordered=False
            )
        except BulkWriteError as exc:
            if not _only_duplicates(exc):
                raise
        await self.m.sessions.update_one(
            {
                "_id": doc_id(session.project_id, session.id),
                "project_id": session.project_id,
                "id": session.id,
                "chain_seq": session.chain_seq,
            },
            {"$unset": {"pending": ""}},
        )

    async def _upsert_agents(self, agents: list[Agent], s: DbSession) -> None:
        for a in agents:
            update: dict[str, Any] = {"$min": {"first_seen": a.first_seen}, "$max": {"last_seen": a.last_seen}}
            if a.name is not None:
                update["$set"] = {"name": a.name}
            else:
                update["$setOnInsert"] = {"name": None}
            await self.m.agents.update_one(
                {"_id": doc_id(a.project_id, a.id), "project_id": a.project_id, "id": a.id},
                update,
                upsert=True,
                session=s,
            )

    async def delete_sessions_before(self, project_id: str, cutoff: datetime, limit: int) -> int:
        """Oldest sessions first, whole sessions within limit events; events before their session, so a
        deletion cut short leaves no event without its session and is finished by the next run."""
        docs = await self.m.sessions.find(
            {"project_id": project_id, "last_event_at": {"$lt": cutoff}}, {"_id": 0, "id": 1, "event_count": 1}
        ).sort([("last_event_at", 1)]).limit(max(limit, 1)).to_list(None)
        ids = whole_sessions_within(((d["id"], d.get("event_count", 0)) for d in docs), limit)
        if not ids:
            return 0
        await self.m.events.delete_many({"project_id": project_id, "session_id": {"$in": ids}})
        await self.m.sessions.delete_many({"project_id": project_id, "id": {"$in": ids}})
        return len(ids)

def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors") or []
    return bool(errors) and not exc.details.get("writeConcernErrors") and all(
        err.get("code") == DUPLICATE_KEY for err in errors
    )

