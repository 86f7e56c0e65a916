"""Anomaly rules, anomalies, reports and question usage (seed 001) on SQLite: each model kept whole as JSON
beside the columns its listings filter and sort on (migrations.py V8)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.contract import Conflict, Page, PageResult
from storage.contract.anomalies import AnomalyQuery, RuleTriggers
from storage.models.anomalies import Anomaly, AnomalyRule, AnomalyStatus, Report, UsageRow
from storage.models.webhooks import Delivery
from storage.sqlite.database import Database
from storage.sqlite.webhooks import store_deliveries
from storage.timeutil import from_ms, to_ms

NEWEST_FIRST = "ORDER BY detected_at DESC, id DESC"


def _anomaly_row(a: Anomaly) -> tuple[Any, ...]:
    return (a.project_id, a.id, a.rule_id, a.severity.value, a.status.value, to_ms(a.detected_at),
            a.model_dump_json())


def _where(project_id: str, query: AnomalyQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = ["project_id = ?"]
    args: list[Any] = [project_id]
    if query.severities:
        clauses.append(f"severity IN ({', '.join('?' * len(query.severities))})")
        args.extend(query.severities)
    if query.statuses:
        clauses.append(f"status IN ({', '.join('?' * len(query.statuses))})")
        args.extend(query.statuses)
    if query.rule_id is not None:
        clauses.append("rule_id = ?")
        args.append(query.rule_id)
    if query.since is not None:
        clauses.append("detected_at >= ?")
        args.append(to_ms(query.since))
    if query.until is not None:
        clauses.append("detected_at < ?")
        args.append(to_ms(query.until))
    return " AND ".join(clauses), args


class SQLiteAnomalies:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rules

    async def create_rule(self, rule: AnomalyRule) -> AnomalyRule:
        try:
            await self.db.write([("INSERT INTO anomaly_rules (project_id, id, created_at, doc) VALUES (?, ?, ?, ?)",
                                  (rule.project_id, rule.id, to_ms(rule.created_at), rule.model_dump_json()))])
        except sqlite3.IntegrityError:
            raise Conflict(f"a rule with id {rule.id!r} exists") from None
        return rule

    async def save_rule(self, rule: AnomalyRule) -> AnomalyRule:
        await self.db.write([("INSERT OR REPLACE INTO anomaly_rules (project_id, id, created_at, doc) "
                              "VALUES (?, ?, ?, ?)",
                              (rule.project_id, rule.id, to_ms(rule.created_at), rule.model_dump_json()))])
        return rule

    async def rule_by_id(self, project_id: str, rule_id: str) -> AnomalyRule | None:
        rows = await self.db.fetch("SELECT doc FROM anomaly_rules WHERE project_id = ? AND id = ?",
                                   (project_id, rule_id))
        return AnomalyRule.model_validate_json(rows[0][0]) if rows else None

    async def list_rules(self, project_id: str) -> list[AnomalyRule]:
        rows = await self.db.fetch("SELECT doc FROM anomaly_rules WHERE project_id = ? ORDER BY created_at, id",
                                   (project_id,))
        return [AnomalyRule.model_validate_json(r[0]) for r in rows]

    async def rule_triggers(self, project_id: str, since: datetime) -> list[RuleTriggers]:
        rows = await self.db.fetch(
            "SELECT rule_id, MAX(detected_at), SUM(detected_at >= ?) FROM anomalies WHERE project_id = ? "
            "GROUP BY rule_id ORDER BY rule_id", (to_ms(since), project_id))
        return [RuleTriggers(r[0], from_ms(r[1]), int(r[2])) for r in rows]

    # -- anomalies

    async def insert_anomaly(self, anomaly: Anomaly, announce: Sequence[Delivery] = ()) -> tuple[Anomaly, bool]:
        def work(db: sqlite3.Connection) -> tuple[Anomaly, bool]:
            inserted = db.execute(
                "INSERT OR IGNORE INTO anomalies (project_id, id, rule_id, severity, status, detected_at, doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", _anomaly_row(anomaly)).rowcount
            if inserted:
                store_deliveries(db, announce)
                return anomaly, True
            (doc,) = db.execute("SELECT doc FROM anomalies WHERE project_id = ? AND id = ?",
                                (anomaly.project_id, anomaly.id)).fetchone()
            return Anomaly.model_validate_json(doc), False

        return await self.db.run(work)

    async def anomaly_by_id(self, project_id: str, anomaly_id: str) -> Anomaly | None:
        rows = await self.db.fetch("SELECT doc FROM anomalies WHERE project_id = ? AND id = ?",
                                   (project_id, anomaly_id))
        return Anomaly.model_validate_json(rows[0][0]) if rows else None

    async def find_anomalies(self, project_id: str, query: AnomalyQuery, page: Page) -> PageResult[Anomaly]:
        where, args = _where(project_id, query)
        rows = await self.db.fetch(f"SELECT doc FROM anomalies WHERE {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
                                   (*args, page.limit + 1, page.offset))
        items = [Anomaly.model_validate_json(r[0]) for r in rows]
        total = -1
        if page.count_total:
            ((total,),) = await self.db.fetch(f"SELECT COUNT(*) FROM anomalies WHERE {where}", args)
        return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

    async def update_anomaly(
        self, anomaly: Anomaly, expected: AnomalyStatus, announce: Sequence[Delivery] = ()
    ) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "UPDATE anomalies SET rule_id = ?, severity = ?, status = ?, detected_at = ?, doc = ? "
                "WHERE project_id = ? AND id = ? AND status = ?",
                (*_anomaly_row(anomaly)[2:], anomaly.project_id, anomaly.id, expected.value)).rowcount
            if changed:
                store_deliveries(db, announce)
            return changed > 0

        return await self.db.run(work)

    # -- reports

    async def insert_report(self, report: Report, announce: Sequence[Delivery] = ()) -> tuple[Report, bool]:
        def work(db: sqlite3.Connection) -> tuple[Report, bool]:
            inserted = db.execute(
                "INSERT OR IGNORE INTO reports (project_id, id, period_start, doc) VALUES (?, ?, ?, ?)",
                (report.project_id, report.id, to_ms(report.period_start), report.model_dump_json())).rowcount
            if inserted:
                store_deliveries(db, announce)
                return report, True
            (doc,) = db.execute("SELECT doc FROM reports WHERE project_id = ? AND id = ?",
                                (report.project_id, report.id)).fetchone()
            return Report.model_validate_json(doc), False

        return await self.db.run(work)

    async def report_by_id(self, project_id: str, report_id: str) -> Report | None:
        rows = await self.db.fetch("SELECT doc FROM reports WHERE project_id = ? AND id = ?", (project_id, report_id))
        return Report.model_validate_json(rows[0][0]) if rows else None

    async def find_reports(self, project_id: str, page: Page) -> PageResult[Report]:
        rows = await self.db.fetch(
            "SELECT doc FROM reports WHERE project_id = ? ORDER BY period_start DESC, id DESC LIMIT ? OFFSET ?",
            (project_id, page.limit + 1, page.offset))
        items = [Report.model_validate_json(r[0]) for r in rows]
        ((total,),) = await self.db.fetch("SELECT COUNT(*) FROM reports WHERE project_id = ?", (project_id,))
        return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

    # -- question usage

    async def count_question(self, project_id: str, day: str, user: str, n: int = 1) -> int:
        def work(db: sqlite3.Connection) -> int:
            (count,) = db.execute(
                "INSERT INTO question_usage (project_id, day, user, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (project_id, day, user) DO UPDATE SET count = count + excluded.count RETURNING count",
                (project_id, day, user, n)).fetchone()
            return int(count)

        return await self.db.run(work)

    async def question_usage(self, project_id: str, first_day: str, last_day: str) -> list[UsageRow]:
        rows = await self.db.fetch(
            "SELECT day, user, count FROM question_usage WHERE project_id = ? AND day BETWEEN ? AND ? "
            "ORDER BY day DESC, user", (project_id, first_day, last_day))
        return [UsageRow(day=r[0], user=r[1], count=r[2]) for r in rows]
