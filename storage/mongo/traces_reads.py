"""Trace reads on MongoDB: lookups by id, pages, first pages per group, and commits after a position."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from storage.contract import EventQuery, Page, PageResult, SessionQuery
from storage.models import Agent, Event, Session
from storage.models.records import EventRecord, EventView, record_of, view_of
from storage.mongo.client import Mongo
from storage.mongo.layout import (
    AGENT_PROJECTION,
    EVENT_PROJECTION,
    SESSION_PROJECTION,
    doc_id,
    page_result,
)
from storage.search import normalize_term

# The store logs under one name, whichever of its modules speaks.
log = logging.getLogger("storage.mongo")

CHUNK = 500  # ids per $in list
EVENT_FIELDS = ("timestamp", "session_id", "seq")
SESSION_FIELDS = ("started_at", "id")
AGENT_FIELDS = ("last_seen", "id")

# A driver session: inside a transaction, or None for a plain operation.
DbSession = AsyncClientSession | None


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _all(*clauses: dict[str, Any] | None) -> dict[str, Any]:
    present = [c for c in clauses if c]
    return present[0] if len(present) == 1 else {"$and": present}


def _event_filter(project_id: str, q: EventQuery) -> dict[str, Any]:
    f: dict[str, Any] = {"project_id": project_id}
    for name, values in (
        ("session_id", q.session_ids),
        ("agent_id", q.agent_ids),
        ("type", q.types),
        ("severity", q.severities),
        ("kind", q.kinds),
        ("user_id", q.user_ids),
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
    for name, values in (
        ("agent_id", q.agent_ids), ("status", q.statuses), ("kind", q.kinds), ("user_id", q.user_ids)
    ):
        if values is not None:
            f[name] = {"$in": list(values)}
    if q.bounced is not None:
        f["event_count"] = 1 if q.bounced else {"$gt": 1}
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
            {**dict(zip(fields[:i], page.after[:i], strict=True)), name: {op: page.after[i]}}
            for i, name in enumerate(fields)
        ]
    }


def _sort(fields: Sequence[str], page: Page) -> list[tuple[str, int]]:
    direction = DESCENDING if page.descending else ASCENDING
    return [(name, direction) for name in fields]


async def _nothing() -> list[dict[str, Any]]:
    return []


class TraceReads:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    # -- lookups by id -----------------------------------------------------

    async def _by_ids(
        self, coll: Any, project_id: str, ids: Sequence[str], projection: dict[str, int], s: DbSession = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            keys = [doc_id(project_id, i) for i in chunk]
            out += await coll.find(
                {"_id": {"$in": keys}, "project_id": project_id}, projection, session=s
            ).to_list(None)
        return out

    async def _events_by_ids(self, project_id: str, ids: Sequence[str], s: DbSession = None) -> list[Event]:
        docs = await self._by_ids(self.m.events, project_id, ids, EVENT_PROJECTION, s)
        return [Event.model_validate(d) for d in docs]

    async def sessions_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Session]:
        docs = await self._by_ids(self.m.sessions, project_id, ids, SESSION_PROJECTION)
        return [Session.model_validate(d) for d in docs]

    async def events_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Event]:
        return await self._events_by_ids(project_id, ids)

    async def agents_by_ids(self, project_id: str, ids: Sequence[str]) -> list[Agent]:
        return [Agent.model_validate(d) for d in await self._by_ids(self.m.agents, project_id, ids, AGENT_PROJECTION)]

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
            self.m.events, _event_filter(project_id, query), EVENT_FIELDS, EVENT_PROJECTION, page
        )
        return page_result([Event.model_validate(d) for d in docs], total, page)

    async def find_sessions(self, project_id: str, query: SessionQuery, page: Page) -> PageResult[Session]:
        docs, total = await self._page(
            self.m.sessions, _session_filter(project_id, query), SESSION_FIELDS, SESSION_PROJECTION, page
        )
        return page_result([Session.model_validate(d) for d in docs], total, page)

    async def find_agents(self, project_id: str, page: Page) -> PageResult[Agent]:
        docs, total = await self._page(
            self.m.agents, {"project_id": project_id}, AGENT_FIELDS, AGENT_PROJECTION, page
        )
        return page_result([Agent.model_validate(d) for d in docs], total, page)

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
            self.m.events, "session_id", session_ids, _event_filter(project_id, query), EVENT_FIELDS,
            EVENT_PROJECTION, page,
        )
        return {
            k: PageResult([Event.model_validate(d) for d in docs], n, more) for k, (docs, n, more) in grouped.items()
        }

    async def sessions_for_agents(
        self, project_id: str, agent_ids: Sequence[str], query: SessionQuery, page: Page
    ) -> dict[str, PageResult[Session]]:
        grouped = await self._grouped(
            self.m.sessions, "agent_id", agent_ids, _session_filter(project_id, query), SESSION_FIELDS,
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
            docs = await self.m.events.find(match, EVENT_PROJECTION).sort([("timestamp", 1), ("seq", 1)]).to_list(None)
            out.extend(Event.model_validate(d) for d in docs)
        return out

    async def session_chain(self, project_id: str, session_id: str) -> list[Event]:
        docs = await self.m.events.find(
            {"project_id": project_id, "session_id": session_id}, EVENT_PROJECTION
        ).sort([("seq", 1)]).to_list(None)
        return [Event.model_validate(d) for d in docs]

    async def events_after(self, project_id: str, position: int, query: EventQuery, limit: int) -> list[Event]:
        if limit < 1:
            return []  # a limit of 0 means "no limit" to MongoDB
        docs = await self.m.events.find(
            _all(_event_filter(project_id, query), {"position": {"$gt": position}}), EVENT_PROJECTION
        ).sort([("position", 1)]).limit(limit).to_list(None)
        return [Event.model_validate(d) for d in docs]

    # Records from models here: MongoDB documents need their conversion anyway.
    async def find_event_records(self, project_id: str, query: EventQuery, page: Page) -> PageResult[EventRecord]:
        found = await self.find_events(project_id, query, page)
        return PageResult([record_of(e) for e in found.items], found.total, found.has_more)

    async def session_chain_records(self, project_id: str, session_id: str) -> list[EventRecord]:
        return [record_of(e) for e in await self.session_chain(project_id, session_id)]

    async def event_views_for_sessions(
        self, project_id: str, session_ids: Sequence[str], query: EventQuery, page: Page
    ) -> dict[str, PageResult[EventView]]:
        grouped = await self.events_for_sessions(project_id, session_ids, query, page)
        return {k: PageResult([view_of(e) for e in r.items], r.total, r.has_more) for k, r in grouped.items()}
