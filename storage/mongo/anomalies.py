"""Anomaly rules, anomalies, reports and question usage (seed 001) on MongoDB.

As on SQLite, each model is kept whole (`doc`, its JSON form) beside the fields listings filter and sort on;
_id is {p: project, i: id}, so an anomaly's derived id makes a detector's retry a duplicate key, not a copy.
The webhook deliveries announcing a new anomaly or report, or a status change, are written in its transaction
on a replica set, and just after it on a standalone server (_announced).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession as Session
from pymongo.errors import DuplicateKeyError

from storage.contract import Conflict, Page, PageResult
from storage.contract.anomalies import AnomalyQuery, RuleTriggers
from storage.models.anomalies import Anomaly, AnomalyRule, AnomalyStatus, Report, UsageRow
from storage.models.webhooks import Delivery
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import ANOMALIES, ANOMALY_RULES, QUESTION_USAGE, REPORTS, doc_id
from storage.mongo.webhooks import store_deliveries

T = TypeVar("T")
NEWEST_FIRST = [("detected_at", DESCENDING), ("id", DESCENDING)]
DOC_ONLY = {"_id": 0, "doc": 1}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _rule_doc(r: AnomalyRule) -> dict[str, Any]:
    return {"_id": doc_id(r.project_id, r.id), "project_id": r.project_id, "id": r.id, "created_at": r.created_at,
            "doc": r.model_dump(mode="json")}


def _anomaly_doc(a: Anomaly) -> dict[str, Any]:
    return {"_id": doc_id(a.project_id, a.id), "project_id": a.project_id, "id": a.id, "rule_id": a.rule_id,
            "severity": a.severity.value, "status": a.status.value, "detected_at": a.detected_at,
            "doc": a.model_dump(mode="json")}


def _match(project_id: str, query: AnomalyQuery) -> dict[str, Any]:
    match: dict[str, Any] = {"project_id": project_id}
    if query.severities:
        match["severity"] = {"$in": list(query.severities)}
    if query.statuses:
        match["status"] = {"$in": list(query.statuses)}
    if query.rule_id is not None:
        match["rule_id"] = query.rule_id
    detected: dict[str, Any] = {}
    if query.since is not None:
        detected["$gte"] = query.since
    if query.until is not None:
        detected["$lt"] = query.until
    if detected:
        match["detected_at"] = detected
    return match


@translated
class MongoAnomalies:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    def _c(self, name: str) -> Any:
        return self.m.db[name]

    # -- rules

    async def create_rule(self, rule: AnomalyRule) -> AnomalyRule:
        try:
            await self._c(ANOMALY_RULES).insert_one(_rule_doc(rule))
        except DuplicateKeyError:
            raise Conflict(f"a rule with id {rule.id!r} exists") from None
        return rule

    async def save_rule(self, rule: AnomalyRule) -> AnomalyRule:
        await self._c(ANOMALY_RULES).replace_one({"_id": doc_id(rule.project_id, rule.id)}, _rule_doc(rule),
                                                 upsert=True)
        return rule

    async def rule_by_id(self, project_id: str, rule_id: str) -> AnomalyRule | None:
        doc = await self._c(ANOMALY_RULES).find_one({"_id": doc_id(project_id, rule_id)}, DOC_ONLY)
        return None if doc is None else AnomalyRule.model_validate(doc["doc"])

    async def list_rules(self, project_id: str) -> list[AnomalyRule]:
        cursor = self._c(ANOMALY_RULES).find({"project_id": project_id}, DOC_ONLY).sort([("created_at", 1),
                                                                                         ("id", 1)])
        return [AnomalyRule.model_validate(d["doc"]) for d in await cursor.to_list(None)]

    async def rule_triggers(self, project_id: str, since: datetime) -> list[RuleTriggers]:
        cursor = await self._c(ANOMALIES).aggregate([
            {"$match": {"project_id": project_id}},
            {"$group": {"_id": "$rule_id", "last": {"$max": "$detected_at"},
                        "count": {"$sum": {"$cond": [{"$gte": ["$detected_at", since]}, 1, 0]}}}},
            {"$sort": {"_id": 1}},
        ])
        return [RuleTriggers(d["_id"], _utc(d["last"]), int(d["count"])) for d in await cursor.to_list(None)]

    # -- anomalies

    async def _announced(self, write: Callable[[Session | None], Awaitable[tuple[T, bool]]],
                         announce: Sequence[Delivery]) -> tuple[T, bool]:
        """write(session) answers (what it returns, whether it changed anything); announce is stored only with a
        change: in its transaction on a replica set, just after it on a standalone server (the contract's
        caveat)."""
        if not announce or not self.m.replicated:
            out = await write(None)
            if out[1]:
                await store_deliveries(self.m, announce)
            return out

        async def attempt(s: Session) -> tuple[T, bool]:
            out = await write(s)
            if out[1]:
                await store_deliveries(self.m, announce, s)
            return out

        return await self.m.in_transaction(attempt)

    async def _insert_once(self, name: str, doc: dict[str, Any], s: Session | None) -> dict[str, Any] | None:
        """Inserts doc unless its _id is stored already: None when it did, else the stored document (left as it
        was). In a transaction it reads first, as a duplicate key there would abort it (another transaction's
        insert is a write conflict, which with_transaction retries)."""
        if s is not None:
            found: dict[str, Any] | None = await self._c(name).find_one({"_id": doc["_id"]}, DOC_ONLY, session=s)
            if found is not None:
                return found
        try:
            await self._c(name).insert_one(doc, session=s)
            return None
        except DuplicateKeyError:
            found = await self._c(name).find_one({"_id": doc["_id"]}, DOC_ONLY)
            assert found is not None  # anomalies and reports are never deleted
            return found

    async def insert_anomaly(self, anomaly: Anomaly, announce: Sequence[Delivery] = ()) -> tuple[Anomaly, bool]:
        async def write(s: Session | None) -> tuple[Anomaly, bool]:
            found = await self._insert_once(ANOMALIES, _anomaly_doc(anomaly), s)
            return (anomaly, True) if found is None else (Anomaly.model_validate(found["doc"]), False)

        return await self._announced(write, announce)

    async def anomaly_by_id(self, project_id: str, anomaly_id: str) -> Anomaly | None:
        doc = await self._c(ANOMALIES).find_one({"_id": doc_id(project_id, anomaly_id)}, DOC_ONLY)
        return None if doc is None else Anomaly.model_validate(doc["doc"])

    async def find_anomalies(self, project_id: str, query: AnomalyQuery, page: Page) -> PageResult[Anomaly]:
        match = _match(project_id, query)
        cursor = self._c(ANOMALIES).find(match, DOC_ONLY).sort(NEWEST_FIRST).skip(page.offset).limit(page.limit + 1)
        items = [Anomaly.model_validate(d["doc"]) for d in await cursor.to_list(None)]
        total = await self._c(ANOMALIES).count_documents(match) if page.count_total else -1
        return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

    async def update_anomaly(
        self, anomaly: Anomaly, expected: AnomalyStatus, announce: Sequence[Delivery] = ()
    ) -> bool:
        async def write(s: Session | None) -> tuple[None, bool]:
            result = await self._c(ANOMALIES).replace_one(
                {"_id": doc_id(anomaly.project_id, anomaly.id), "status": expected.value}, _anomaly_doc(anomaly),
                session=s)
            return None, result.matched_count > 0

        return (await self._announced(write, announce))[1]

    # -- reports

    async def insert_report(self, report: Report, announce: Sequence[Delivery] = ()) -> tuple[Report, bool]:
        doc = {"_id": doc_id(report.project_id, report.id), "project_id": report.project_id, "id": report.id,
               "period_start": report.period_start, "doc": report.model_dump(mode="json")}

        async def write(s: Session | None) -> tuple[Report, bool]:
            found = await self._insert_once(REPORTS, doc, s)
            return (report, True) if found is None else (Report.model_validate(found["doc"]), False)

        return await self._announced(write, announce)

    async def report_by_id(self, project_id: str, report_id: str) -> Report | None:
        found = await self._c(REPORTS).find_one({"_id": doc_id(project_id, report_id)}, DOC_ONLY)
        return None if found is None else Report.model_validate(found["doc"])

    async def find_reports(self, project_id: str, page: Page) -> PageResult[Report]:
        match = {"project_id": project_id}
        cursor = (self._c(REPORTS).find(match, DOC_ONLY).sort([("period_start", DESCENDING), ("id", DESCENDING)])
                  .skip(page.offset).limit(page.limit + 1))
        items = [Report.model_validate(d["doc"]) for d in await cursor.to_list(None)]
        total = await self._c(REPORTS).count_documents(match)
        return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

    # -- question usage

    async def count_question(self, project_id: str, day: str, user: str, n: int = 1) -> int:
        doc = await self._c(QUESTION_USAGE).find_one_and_update(
            {"_id": {"p": project_id, "d": day, "u": user}},
            {"$inc": {"count": n}, "$setOnInsert": {"project_id": project_id, "day": day, "user": user}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )
        return int(doc["count"])

    async def question_usage(self, project_id: str, first_day: str, last_day: str) -> list[UsageRow]:
        cursor = self._c(QUESTION_USAGE).find(
            {"project_id": project_id, "day": {"$gte": first_day, "$lte": last_day}}, {"_id": 0},
        ).sort([("day", DESCENDING), ("user", 1)])
        return [UsageRow(day=d["day"], user=d["user"], count=d["count"]) for d in await cursor.to_list(None)]
