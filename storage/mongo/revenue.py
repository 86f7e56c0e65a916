"""Revenue attribution records on MongoDB: one collection per kind, _id {p: project, i: id}.

A create with a claim records the key in the record's transaction on a replica set. A standalone
server has no transactions: the claim is read first and recorded after the insert, and a retry
after a crash in between finds the record already inserted (the id of a keyed create is derived
from the key by the caller) and records the answer then, so it is still created once.
Revenue totals come from the analytics engine (storage/mongo/analytics.py sums amounts exactly).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from storage.contract import Claim, Conflict, Created, Page, PageResult, RecordQuery
from storage.models import IdempotentResponse
from storage.models.revenue import (
    DAY_MS,
    KINDS,
    Customer,
    Goal,
    GoalType,
    Outcome,
    Revenue,
    RevenueRecord,
)
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.idempotency import recall, remember
from storage.mongo.layout import CUSTOMERS, GOAL_TYPES, GOALS, OUTCOMES, REVENUES, doc_id
from storage.timeutil import to_ms

R = TypeVar("R", bound=RevenueRecord)
NEWEST_FIRST = [("created_at", DESCENDING), ("id", DESCENDING)]
COLLECTIONS: dict[type[RevenueRecord], str] = {
    Customer: CUSTOMERS, GoalType: GOAL_TYPES, Goal: GOALS, Outcome: OUTCOMES, Revenue: REVENUES,
}
# Fields only the store uses, left out of the models.
PROJECTION = {"_id": 0, "day": 0}


def _doc(record: RevenueRecord) -> dict[str, Any]:
    doc = {"_id": doc_id(record.project_id, record.id), **record.model_dump()}
    if isinstance(record, Revenue):
        doc["day"] = to_ms(record.recorded_at) // DAY_MS
    return doc


def _filter(kind: type[RevenueRecord], project_id: str, query: RecordQuery) -> dict[str, Any]:
    match: dict[str, Any] = {"project_id": project_id}
    for name, value in query.where.items():
        if name not in KINDS[kind]:
            raise ValueError(f"{kind.__name__} has no filter {name!r}")
        match[name] = {"$in": list(value)} if isinstance(value, tuple) else value
    if kind in (Outcome, Revenue) and (query.since is not None or query.until is not None):
        recorded: dict[str, Any] = {}
        if query.since is not None:
            recorded["$gte"] = query.since
        if query.until is not None:
            recorded["$lt"] = query.until
        match["recorded_at"] = recorded
    return match


@translated
class MongoRevenue:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    def _of(self, kind: type[RevenueRecord]) -> Any:
        return self.m.db[COLLECTIONS[kind]]

    async def create_record(self, record: R, claim: Claim[R] | None = None) -> Created[R]:
        if claim is None:
            await self._insert(record, None)
            return Created(record)
        if self.m.replicated:
            return await self._create_atomic(record, claim)
        prior = await recall(self.m, claim.project_id, claim.key, claim.created_at, None)
        if prior is not None:
            return Created(None, prior, replayed=True)
        # Inserted already by an attempt that died before recording its answer: answer for it now.
        with contextlib.suppress(Conflict):
            await self._insert(record, None)
        response = await remember(self.m, claim.record(record), None)
        return Created(record, response)

    async def _create_atomic(self, record: R, claim: Claim[R]) -> Created[R]:
        async def attempt(s: AsyncClientSession) -> Created[R]:
            prior = await recall(self.m, claim.project_id, claim.key, claim.created_at, s)
            if prior is not None:
                return Created(None, prior, replayed=True)
            await self._insert(record, s)
            answer: IdempotentResponse = claim.record(record)
            # In the transaction: a second process holding the same key conflicts here and, retried by
            # with_transaction, finds this answer.
            await self.m.idempotency.insert_one(answer.model_dump(), session=s)
            return Created(record, answer)

        return await self.m.in_transaction(attempt)

    async def _insert(self, record: RevenueRecord, s: AsyncClientSession | None) -> None:
        try:
            await self._of(type(record)).insert_one(_doc(record), session=s)
        except DuplicateKeyError:
            raise Conflict(f"{type(record).__name__} {record.id!r} exists") from None

    async def records_by_ids(self, kind: type[R], project_id: str, ids: Sequence[str]) -> list[R]:
        keys = [doc_id(project_id, i) for i in dict.fromkeys(ids)]
        cursor = self._of(kind).find({"_id": {"$in": keys}}, PROJECTION)
        return [kind.model_validate(d) for d in await cursor.to_list(None)]

    async def find_records(self, kind: type[R], project_id: str, query: RecordQuery, page: Page) -> PageResult[R]:
        match = _filter(kind, project_id, query)
        cursor = self._of(kind).find(match, PROJECTION).sort(NEWEST_FIRST).skip(page.offset).limit(page.limit + 1)
        docs = await cursor.to_list(None)
        total = await self._of(kind).count_documents(match) if page.count_total else -1
        return PageResult([kind.model_validate(d) for d in docs[: page.limit]], total, len(docs) > page.limit)

    async def find_records_per_group(
        self, kind: type[R], project_id: str, field: str, values: Sequence[str], page: Page
    ) -> dict[str, PageResult[R]]:
        if field not in KINDS[kind]:
            raise ValueError(f"{kind.__name__} has no filter {field!r}")
        out: dict[str, PageResult[R]] = {v: PageResult([], 0, False) for v in values}
        unique = list(dict.fromkeys(values))
        if not unique:
            return out
        # One aggregation: each group's _ids newest first, counted, sliced to the page (and one more, for
        # has_more); only _ids travel through $group, the page's documents follow by _id.
        pipeline = [
            {"$match": {"project_id": project_id, field: {"$in": unique}}},
            {"$sort": {field: 1, **dict(NEWEST_FIRST)}},
            {"$group": {"_id": f"${field}", "keys": {"$push": "$_id"}, "n": {"$sum": 1}}},
            {"$project": {"n": 1, "keys": {"$slice": ["$keys", page.offset, page.limit + 1]}}},
        ]
        cursor = await self._of(kind).aggregate(pipeline)
        groups = await cursor.to_list(None)
        wanted = [k for g in groups for k in g["keys"]]
        docs = await self._of(kind).find({"_id": {"$in": wanted}}, PROJECTION).to_list(None) if wanted else []
        by_id = {d["id"]: d for d in docs}
        for g in groups:
            found = [kind.model_validate(by_id[k["i"]]) for k in g["keys"] if k["i"] in by_id]
            out[g["_id"]] = PageResult(found[: page.limit], g["n"], len(found) > page.limit)
        return out

    async def update_record(self, record: RevenueRecord) -> bool:
        result = await self._of(type(record)).replace_one({"_id": doc_id(record.project_id, record.id)}, _doc(record))
        return result.matched_count > 0

    async def delete_record(self, kind: type[RevenueRecord], project_id: str, record_id: str) -> bool:
        result = await self._of(kind).delete_one({"_id": doc_id(project_id, record_id)})
        return result.deleted_count > 0

    async def revenue_span(self, project_id: str) -> tuple[datetime, datetime] | None:
        ends = []
        for direction in (ASCENDING, DESCENDING):  # each one step along revenues_by_time
            doc = await self.m.db[REVENUES].find_one(
                {"project_id": project_id}, {"_id": 0, "recorded_at": 1}, sort=[("recorded_at", direction)])
            if doc is None:
                return None
            ends.append(doc["recorded_at"])
        return ends[0], ends[1]

    async def outcome_counts(self, project_id: str, goal_ids: Sequence[str]) -> dict[str, int]:
        pipeline = [
            {"$match": {"project_id": project_id, "goal_id": {"$in": list(dict.fromkeys(goal_ids))}}},
            {"$group": {"_id": "$goal_id", "n": {"$sum": 1}}},
        ]
        cursor = await self.m.db[OUTCOMES].aggregate(pipeline)
        return {r["_id"]: r["n"] for r in await cursor.to_list(None)}
