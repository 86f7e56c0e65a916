"""The MongoDB store: PyMongo's native async driver, one collection per document kind.

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
see watch() and resolvers/live_mongo.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from storage.contract import (
    BatchPlan,
    CommitConflict,
    CommitResult,
    Conflict,
    EventQuery,
    Page,
    PageResult,
    Planner,
    SessionQuery,
    StoreUnavailable,
)
from storage.models import Agent, ApiKey, Event, IdempotentResponse, Project, Session
from storage.search import normalize_term, search_text

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

DEFAULT_DATABASE = "lensgraph"
DATABASE_ENV = "LENSGRAPH_MONGODB_DB"
SERVER_SELECTION_MS = 15_000
START_TIMEOUT_S = 25  # bounds ping + hello however the server misbehaves
CHUNK = 500  # ids per $in list
MAX_ATTEMPTS = 25
DUPLICATE_KEY = 11000
CHANGE_STREAM_HISTORY_LOST = 286

EVENTS, SESSIONS, AGENTS, COUNTERS = "events", "sessions", "agents", "counters"
PROJECTS, KEYS, IDEMPOTENCY = "projects", "api_keys", "idempotency"
EVENT_FIELDS = ("timestamp", "session_id", "seq")
SESSION_FIELDS = ("started_at", "id")
AGENT_FIELDS = ("last_seen", "id")
EVENT_PROJECTION = {"_id": 0, "search_text": 0}
SESSION_PROJECTION = {"_id": 0, "pending": 0}
AGENT_PROJECTION = {"_id": 0}
NO_ID = {"_id": 0}


def _index(name: str, *fields: str, **options: Any) -> IndexModel:
    return IndexModel([(f, ASCENDING) for f in fields], name=name, **options)


# The SQLite indexes, one for one; _id stands in for the (project_id, id) keys.
# Search has none: a substring of any length needs a scan, bounded by the
# other filters' index.
INDEXES: dict[str, list[IndexModel]] = {
    EVENTS: [
        _index("events_by_chain", "project_id", "session_id", "seq", unique=True),
        _index("events_by_time", "project_id", "timestamp", "session_id", "seq"),
        _index("events_by_session", "project_id", "session_id", "timestamp", "seq"),
        _index("events_by_agent", "project_id", "agent_id", "timestamp"),
        _index("events_by_type", "project_id", "type", "timestamp"),
        _index("events_by_severity", "project_id", "severity", "timestamp"),
        _index("events_by_position", "project_id", "position"),
        _index(
            "events_by_call",
            "project_id",
            "session_id",
            "call_id",
            partialFilterExpression={"call_id": {"$type": "string"}},
        ),
    ],
    SESSIONS: [
        _index("sessions_by_start", "project_id", "started_at", "id"),
        _index("sessions_by_agent", "project_id", "agent_id", "started_at", "id"),
        _index("sessions_by_status", "project_id", "status", "started_at", "id"),
        _index("sessions_by_tag", "project_id", "tags", "started_at", "id"),
    ],
    AGENTS: [_index("agents_by_seen", "project_id", "last_seen", "id")],
    # Projects and keys are looked up before a request has a project: not scoped by one.
    PROJECTS: [
        _index("projects_by_name", "name", unique=True),
        _index("projects_by_tracker_token", "tracker_token", unique=True),
        _index("projects_by_created", "created_at", "_id"),
    ],
    KEYS: [
        _index("api_keys_by_id", "id", unique=True),
        _index("api_keys_by_project", "project_id", "created_at", "id"),
    ],
    IDEMPOTENCY: [
        _index("idempotency_by_key", "project_id", "key", unique=True),
        # The server drops records once they expire; recall_response checks expiry itself as well.
        _index("idempotency_expiry", "expires_at", expireAfterSeconds=0),
    ],
}
# Everything delete_project removes. The position counter stays, so a project
# id used again never hands out a position a client already saw.
OWNED = (EVENTS, SESSIONS, AGENTS, KEYS, IDEMPOTENCY)


class _Conflict(Exception):
    """A session changed since it was read: re-read, re-plan, retry."""


def database_name(url: str) -> str:
    """The URL's path, else $LENSGRAPH_MONGODB_DB, else "lensgraph"."""
    return unquote(urlsplit(url).path.lstrip("/")) or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE


def url_hosts(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2] or "localhost"


def _key(project_id: str, id_: str) -> dict[str, str]:
    return {"p": project_id, "i": id_}


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _all(*clauses: dict[str, Any] | None) -> dict[str, Any]:
    present = [c for c in clauses if c]
    return present[0] if len(present) == 1 else {"$and": present}


def _event_doc(e: Event) -> dict[str, Any]:
    return {"_id": _key(e.project_id, e.id), **e.model_dump(), "search_text": search_text(e.payload)}


def _session_doc(s: Session) -> dict[str, Any]:
    return {"_id": _key(s.project_id, s.id), **s.model_dump(), "status": s.status.value}


def _event_filter(project_id: str, q: EventQuery) -> dict[str, Any]:
    f: dict[str, Any] = {"project_id": project_id}
    for name, values in (
        ("session_id", q.session_ids),
        ("agent_id", q.agent_ids),
        ("type", q.types),
        ("severity", q.severities),
    ):
        if values is not None:
            f[name] = {"$in": list(values)}
    span = {op: at for op, at in (("$gte", q.since), ("$lte", q.until)) if at is not None}
    if span:
        f["timestamp"] = span
    if q.search:
        # search_text is lower-cased and so is the term: a literal regex is the exact substring test.
        f["search_text"] = {"$regex": re.escape(normalize_term(q.search))}
    return f


def _session_filter(project_id: str, q: SessionQuery) -> dict[str, Any]:
    f: dict[str, Any] = {"project_id": project_id}
    for name, values in (("agent_id", q.agent_ids), ("status", q.statuses)):
        if values is not None:
            f[name] = {"$in": list(values)}
    span = {op: at for op, at in (("$gte", q.since), ("$lte", q.until)) if at is not None}
    if span:
        f["started_at"] = span
    if q.tags:
        f["tags"] = {"$all": list(q.tags)}
    return f


def _after(fields: Sequence[str], page: Page) -> dict[str, Any] | None:
    """Keyset: rows strictly past page.after in the page's order (a row-value comparison)."""
    if page.after is None:
        return None
    op = "$lt" if page.descending else "$gt"
    return {
        "$or": [
            {**dict(zip(fields[:i], page.after[:i])), name: {op: page.after[i]}}
            for i, name in enumerate(fields)
        ]
    }


def _sort(fields: Sequence[str], page: Page) -> list[tuple[str, int]]:
    direction = DESCENDING if page.descending else ASCENDING
    return [(name, direction) for name in fields]


@dataclass(slots=True)
class _Prepared:
    existing: dict[str, Event]  # batch ids already stored
    current: dict[str, Session]  # the touched sessions as read
    plan: BatchPlan | None  # None when nothing in the batch is new


@dataclass(slots=True)
class _Progress:
    """What one commit_batch call has stored so far, across its retries."""

    existing: dict[str, Event] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)

    def record(self, events: list[Event], sessions: Iterable[Session]) -> None:
        self.events.extend(events)
        self.sessions.update((s.id, s) for s in sessions)


# A driver session: inside a transaction, or None for a plain operation.
DbSession = AsyncClientSession | None
_Commit = Callable[[str, list[Event], Planner, _Progress], Awaitable[None]]


class MongoStore:
    def __init__(self, url: str, *, client: AsyncMongoClient[dict[str, Any]] | None = None) -> None:
        """client: an already built client (tests pass a stand-in with the same async interface)."""
        self.url = url
        self.database_name = database_name(url)
        self.hosts = url_hosts(url)
        self.replicated = False  # replica set or mongos: transactions and change streams; set by start()
        self._client = client
        # Without transactions, commits in this process take turns, as on SQLite:
        # positions then follow commit order, and ingest publishes in that order.
        self._writer = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        try:
            if self._client is None:
                self._client = self._connect()
            db = self._client.get_database(self.database_name)
            # serverSelectionTimeoutMS covers an unreachable server; this, one that accepts and stalls.
            async with asyncio.timeout(START_TIMEOUT_S):
                await db.command("ping")
                hello = await db.command("hello")
            self.replicated = "setName" in hello or hello.get("msg") == "isdbgrid"
            self._db = db
            self._events, self._sessions, self._agents, self._counters = (
                db[EVENTS], db[SESSIONS], db[AGENTS], db[COUNTERS]
            )
            self._projects, self._keys, self._idempotency = db[PROJECTS], db[KEYS], db[IDEMPOTENCY]
            for name, indexes in INDEXES.items():
                await db[name].create_indexes(indexes)
        except (PyMongoError, ValueError, TimeoutError) as exc:
            await self.close()
            raise StoreUnavailable(self._unavailable(exc)) from exc

    def _connect(self) -> AsyncMongoClient[dict[str, Any]]:
        options = {k.lower() for k in parse_qs(urlsplit(self.url).query)}
        # Keyword options override the URL's; only fill in what it leaves out.
        extra = {} if "serverselectiontimeoutms" in options else {"serverSelectionTimeoutMS": SERVER_SELECTION_MS}
        return AsyncMongoClient(self.url, tz_aware=True, appname="lensgraph", **extra)

    def _unavailable(self, exc: Exception) -> str:
        reason = str(exc) or f"no answer within {START_TIMEOUT_S} s"
        if isinstance(exc, ServerSelectionTimeoutError):
            reason = reason.split(", Timeout:")[0]  # the rest is a topology dump
        elif isinstance(exc, OperationFailure):
            reason = (exc.details or {}).get("errmsg") or reason
        reason = re.sub(r" \(configured timeouts:[^)]*\)", "", reason)
        password = urlsplit(self.url).password
        for secret in filter(None, {password, password and unquote(password)}):
            reason = reason.replace(secret, "***")
        return " ".join(f"MongoDB unavailable at {self.hosts} (database {self.database_name!r}): {reason}".split())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    # -- the one write -----------------------------------------------------

    async def commit_batch(self, project_id: str, events: list[Event], plan: Planner) -> CommitResult:
        if self.replicated:
            return await self._with_retries(self._commit_atomic, project_id, events, plan)
        async with self._writer:
            return await self._with_retries(self._commit_idempotent, project_id, events, plan)

    async def _with_retries(self, commit: _Commit, project_id: str, events: list[Event], plan: Planner) -> CommitResult:
        progress = _Progress()
        for attempt in range(MAX_ATTEMPTS):
            try:
                await commit(project_id, events, plan, progress)
            except _Conflict:
                # Jittered backoff, so batches racing for one session stop colliding.
                await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
                continue
            stored = {e.id: e for e in progress.events} | progress.existing
            return CommitResult(
                events=[stored[e.id] for e in events],
                sessions=list(progress.sessions.values()),
                inserted=progress.events,
            )
        raise CommitConflict(
            f"the sessions of this batch changed under {MAX_ATTEMPTS} concurrent commits in a row; retry it"
        )

    async def _commit_atomic(self, project_id: str, events: list[Event], plan: Planner, progress: _Progress) -> None:
        async def attempt(s: AsyncClientSession) -> _Prepared:
            prepared = await self._prepare(project_id, events, plan, s)
            if prepared.plan is None:
                return prepared
            await self._upsert_agents(prepared.plan.agents, s)
            for new in prepared.plan.sessions:
                await self._write_session(new, prepared.current.get(new.id), s)
            # Last before the inserts: the counter is what every batch of the
            # project contends for, so it is held for as short a time as possible.
            await self._number(project_id, prepared.plan.events, s)
            try:
                await self._events.insert_many([_event_doc(e) for e in prepared.plan.events], session=s)
            except BulkWriteError as exc:
                if _only_duplicates(exc):  # an id or chain slot another commit just took
                    raise _Conflict from exc
                raise
            return prepared

        async with self._client.start_session() as s:
            prepared = await s.with_transaction(attempt)
        progress.existing = prepared.existing
        if prepared.plan is not None:
            progress.record(prepared.plan.events, prepared.plan.sessions)

    async def _commit_idempotent(
        self, project_id: str, events: list[Event], plan: Planner, progress: _Progress
    ) -> None:
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
            pending = [{k: v for k, v in _event_doc(e).items() if k != "search_text"} for e in sealed]
            await self._write_session(new, prepared.current.get(new.id), None, pending)
            progress.record(sealed, [new])
            await self._materialize(new, pending)

    async def _number(self, project_id: str, events: list[Event], s: DbSession) -> None:
        """Give the events the next positions of their project, in batch order."""
        counter = await self._counters.find_one_and_update(
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
        for doc in await self._by_ids(self._sessions, project_id, session_ids, {"_id": 0}, s):
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
        doc = _session_doc(new)
        if pending is not None:
            doc["pending"] = pending
        if before is None:
            try:
                await self._sessions.insert_one(doc, session=s)
            except DuplicateKeyError as exc:
                raise _Conflict from exc
            return
        result = await self._sessions.replace_one(
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
            await self._events.insert_many(
                [{**p, "search_text": search_text(p["payload"])} for p in pending], ordered=False
            )
        except BulkWriteError as exc:
            if not _only_duplicates(exc):
                raise
        await self._sessions.update_one(
            {
                "_id": _key(session.project_id, session.id),
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
            await self._agents.update_one(
                {"_id": _key(a.project_id, a.id), "project_id": a.project_id, "id": a.id},
                update,
                upsert=True,
                session=s,
            )

    # -- lookups by id -----------------------------------------------------

    async def _by_ids(
        self, coll: Any, project_id: str, ids: Sequence[str], projection: dict[str, int], s: DbSession = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            keys = [_key(project_id, i) for i in chunk]
            out += await coll.find(
                {"_id": {"$in": keys}, "project_id": project_id}, projection, session=s
            ).to_list(None)
        return out

    async def _events_by_ids(self, project_id: str, ids: Sequence[str], s: DbSession = None) -> list[Event]:
        return [Event.model_validate(d) for d in await self._by_ids(self._events, project_id, ids, EVENT_PROJECTION, s)]

    async def sessions_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Session]:
        docs = await self._by_ids(self._sessions, project_id, ids, SESSION_PROJECTION)
        return [Session.model_validate(d) for d in docs]

    async def events_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Event]:
        return await self._events_by_ids(project_id, ids)

    async def agents_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Agent]:
        return [Agent.model_validate(d) for d in await self._by_ids(self._agents, project_id, ids, AGENT_PROJECTION)]

    # -- lists -------------------------------------------------------------

    async def _page(
        self, coll: Any, match: dict[str, Any], fields: Sequence[str], projection: dict[str, int], page: Page
    ) -> tuple[list[dict[str, Any]], int]:
        cursor = (
            coll.find(_all(match, _after(fields, page)), projection)
            .sort(_sort(fields, page))
            .skip(page.offset)
            .limit(page.limit + 1)
        )
        if not page.count_total:
            return await cursor.to_list(None), 0
        docs, total = await asyncio.gather(cursor.to_list(None), coll.count_documents(match))
        return docs, total

    async def find_events(self, project_id: str, query: EventQuery, page: Page) -> PageResult[Event]:
        docs, total = await self._page(
            self._events, _event_filter(project_id, query), EVENT_FIELDS, EVENT_PROJECTION, page
        )
        return _result([Event.model_validate(d) for d in docs], total, page)

    async def find_sessions(self, project_id: str, query: SessionQuery, page: Page) -> PageResult[Session]:
        docs, total = await self._page(
            self._sessions, _session_filter(project_id, query), SESSION_FIELDS, SESSION_PROJECTION, page
        )
        return _result([Session.model_validate(d) for d in docs], total, page)

    async def find_agents(self, project_id: str, page: Page) -> PageResult[Agent]:
        docs, total = await self._page(
            self._agents, {"project_id": project_id}, AGENT_FIELDS, AGENT_PROJECTION, page
        )
        return _result([Agent.model_validate(d) for d in docs], total, page)

    # -- grouped lists, for the DataLoaders ---------------------------------

    async def _grouped(
        self,
        coll: Any,
        group: str,
        keys: Sequence[str],
        match: dict[str, Any],
        fields: Sequence[str],
        projection: dict[str, int],
        page: Page,
    ) -> dict[str, tuple[list[dict[str, Any]], int, bool]]:
        """First page per group: (docs, total, has_more) for every key."""
        out: dict[str, tuple[list[dict[str, Any]], int, bool]] = {k: ([], 0, False) for k in keys}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            in_chunk = _all(match, {group: {"$in": list(chunk)}})
            # Only _ids travel through $group, so a group costs a few bytes per
            # document however large the documents are; whole documents follow by _id.
            pipeline = [
                {"$match": _all(in_chunk, _after(fields, page))},
                {"$sort": {group: ASCENDING, **{f: d for f, d in _sort(fields, page) if f != group}}},
                {"$group": {"_id": f"${group}", "keys": {"$push": "$_id"}}},
                {"$project": {"keys": {"$slice": ["$keys", page.offset, page.limit + 1]}}},
            ]
            counting = [{"$match": in_chunk}, {"$group": {"_id": f"${group}", "n": {"$sum": 1}}}]
            pages, totals = await asyncio.gather(
                self._aggregate(coll, pipeline),
                self._aggregate(coll, counting) if page.count_total else _nothing(),
            )
            wanted = [k for row in pages for k in row["keys"]]
            docs = await coll.find({"_id": {"$in": wanted}}, projection).to_list(None) if wanted else []
            by_id = {d["id"]: d for d in docs}
            counts = {row["_id"]: row["n"] for row in totals}
            for key, n in counts.items():
                out[key] = ([], n, False)
            for row in pages:
                found = [by_id[k["i"]] for k in row["keys"] if k["i"] in by_id]
                out[row["_id"]] = (found[: page.limit], counts.get(row["_id"], 0), len(found) > page.limit)
        return out

    async def _aggregate(self, coll: Any, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cursor = await coll.aggregate(pipeline, allowDiskUse=True)
        return await cursor.to_list(None)

    async def events_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[Event]]:
        grouped = await self._grouped(
            self._events, "session_id", session_ids, _event_filter(project_id, query), EVENT_FIELDS,
            EVENT_PROJECTION, page,
        )
        return {
            k: PageResult([Event.model_validate(d) for d in docs], n, more) for k, (docs, n, more) in grouped.items()
        }

    async def sessions_for_agents(
        self, project_id: str, agent_ids: Sequence[str], query: SessionQuery, page: Page
    ) -> dict[str, PageResult[Session]]:
        grouped = await self._grouped(
            self._sessions, "agent_id", agent_ids, _session_filter(project_id, query), SESSION_FIELDS,
            SESSION_PROJECTION, page,
        )
        return {
            k: PageResult([Session.model_validate(d) for d in docs], n, more) for k, (docs, n, more) in grouped.items()
        }

    async def events_by_call_ids(self, project_id: str, keys: Sequence[tuple[str, str]]) -> list[Event]:
        out: list[Event] = []
        for chunk in _chunks(list(dict.fromkeys(keys)), 250):
            calls: dict[str, list[str]] = {}
            for session_id, call_id in chunk:
                calls.setdefault(session_id, []).append(call_id)
            match = {
                "project_id": project_id,
                "$or": [{"session_id": sid, "call_id": {"$in": ids}} for sid, ids in calls.items()],
            }
            docs = await self._events.find(match, EVENT_PROJECTION).sort([("timestamp", 1), ("seq", 1)]).to_list(None)
            out.extend(Event.model_validate(d) for d in docs)
        return out

    async def session_chain(self, project_id: str, session_id: str) -> list[Event]:
        docs = await self._events.find(
            {"project_id": project_id, "session_id": session_id}, EVENT_PROJECTION
        ).sort([("seq", 1)]).to_list(None)
        return [Event.model_validate(d) for d in docs]

    async def events_after(self, project_id: str, position: int, query: EventQuery, limit: int) -> list[Event]:
        if limit < 1:
            return []  # a limit of 0 means "no limit" to MongoDB
        docs = await self._events.find(
            _all(_event_filter(project_id, query), {"position": {"$gt": position}}), EVENT_PROJECTION
        ).sort([("position", 1)]).limit(limit).to_list(None)
        return [Event.model_validate(d) for d in docs]

    # -- projects, keys, idempotency ------------------------------------------

    async def create_project(self, project: Project) -> Project:
        try:
            await self._projects.insert_one({"_id": project.id, **project.model_dump()})
        except DuplicateKeyError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def projects_by_ids(self, ids: Sequence[str]) -> list[Project]:
        if not ids:
            return []
        docs = await self._projects.find({"_id": {"$in": list(ids)}}, NO_ID).to_list(None)
        return [Project.model_validate(d) for d in docs]

    async def project_by_name(self, name: str) -> Project | None:
        return _maybe(Project, await self._projects.find_one({"name": name}, NO_ID))

    async def project_by_tracker_token(self, token: str) -> Project | None:
        return _maybe(Project, await self._projects.find_one({"tracker_token": token}, NO_ID))

    async def find_projects(self, page: Page) -> PageResult[Project]:
        cursor = self._projects.find({}, NO_ID).sort([("created_at", 1), ("_id", 1)])
        docs, total = await asyncio.gather(
            cursor.skip(page.offset).limit(page.limit + 1).to_list(None), self._projects.count_documents({})
        )
        return _result([Project.model_validate(d) for d in docs], total, page)

    async def update_project(self, project: Project) -> Project:
        try:
            await self._projects.update_one(
                {"_id": project.id},
                {"$set": {"name": project.name, "allowed_origins": project.allowed_origins,
                          "tracker_token": project.tracker_token}},
            )
        except DuplicateKeyError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def delete_project(self, project_id: str) -> bool:
        # Owned documents first: a delete cut short is finished by running it again.
        for name in OWNED:
            await self._db[name].delete_many({"project_id": project_id})
        return (await self._projects.delete_one({"_id": project_id})).deleted_count > 0

    async def add_key(self, key: ApiKey) -> None:
        await self._keys.insert_one({"_id": key.hash, **key.model_dump()})

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        return _maybe(ApiKey, await self._keys.find_one({"_id": key_hash}, NO_ID))

    async def keys_for_project(self, project_id: str) -> list[ApiKey]:
        cursor = self._keys.find({"project_id": project_id}, NO_ID).sort([("created_at", 1), ("id", 1)])
        docs = await cursor.to_list(None)
        return [ApiKey.model_validate(d) for d in docs]

    async def revoke_keys(self, project_id: str, revoked_at: datetime) -> int:
        result = await self._keys.update_many(
            {"project_id": project_id, "revoked_at": None}, {"$set": {"revoked_at": revoked_at}}
        )
        return result.modified_count

    async def has_keys(self) -> bool:
        return await self._keys.find_one({"revoked_at": None}, {"_id": 1}) is not None

    async def remember_response(self, record: IdempotentResponse) -> IdempotentResponse:
        where = {"project_id": record.project_id, "key": record.key}
        await self._idempotency.delete_one({**where, "expires_at": {"$lte": record.created_at}})
        try:
            await self._idempotency.insert_one(record.model_dump())
        except DuplicateKeyError:
            pass  # a live record holds the key: it is the answer
        return await self.recall_response(record.project_id, record.key, record.created_at) or record

    async def recall_response(self, project_id: str, key: str, now: datetime) -> IdempotentResponse | None:
        live = {"project_id": project_id, "key": key, "expires_at": {"$gt": now}}
        return _maybe(IdempotentResponse, await self._idempotency.find_one(live, NO_ID))

    # -- live --------------------------------------------------------------

    async def watch(self, ready: asyncio.Event | None = None) -> AsyncIterator[tuple[str, Event | Session]]:
        """(project_id, document) for every inserted event and written session, from every process.

        Needs a replica set or sharded cluster. Sets ready once the stream is
        open: commits after that are not missed. Reopens after a failure from
        where it stopped, or from now if the server no longer has that point.
        """
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
                async with await self._db.watch(pipeline, resume_after=token) as stream:
                    if ready is not None:
                        ready.set()
                    async for change in stream:
                        token = stream.resume_token
                        doc = change["fullDocument"]
                        model = Event if change["ns"]["coll"] == EVENTS else Session
                        yield doc["project_id"], model.model_validate(doc)
            except PyMongoError as exc:
                if isinstance(exc, OperationFailure) and exc.code == CHANGE_STREAM_HISTORY_LOST:
                    token = None
                log.warning("change stream on %s interrupted (%s); reopening", self.hosts, exc)
                await asyncio.sleep(1)


async def _nothing() -> list[dict[str, Any]]:
    return []


def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors") or []
    return bool(errors) and not exc.details.get("writeConcernErrors") and all(
        err.get("code") == DUPLICATE_KEY for err in errors
    )


def _maybe(model: type[M], doc: dict[str, Any] | None) -> M | None:
    return None if doc is None else model.model_validate(doc)


def _result(items: list[Any], total: int, page: Page) -> PageResult[Any]:
    return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)
