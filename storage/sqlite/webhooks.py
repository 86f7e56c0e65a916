"""Webhook endpoints and deliveries on SQLite (migrations.py V9): each model whole as JSON (doc) beside the
columns the listings and the sender's claim filter on. A claim is one write transaction, so it is atomic
across every process on the file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.contract import Page, PageResult
from storage.contract.webhooks import DeliveryQuery
from storage.models.webhooks import Delivery, DeliveryStatus, Webhook
from storage.sqlite.database import Database
from storage.timeutil import to_ms

PENDING = DeliveryStatus.PENDING.value
DUE = "status = ? AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)"


def _delivery_row(d: Delivery) -> tuple[Any, ...]:
    return (d.project_id, d.id, d.webhook_id, d.event_id, d.status.value, to_ms(d.next_attempt_at),
            None if d.locked_until is None else to_ms(d.locked_until), d.lease_owner, to_ms(d.created_at),
            d.model_dump_json())


def store_deliveries(db: sqlite3.Connection, deliveries: Sequence[Delivery]) -> int:
    """In the caller's transaction: the deliveries whose ids are not stored yet; how many were new."""
    return sum(db.execute(
        "INSERT OR IGNORE INTO webhook_deliveries (project_id, id, webhook_id, event_id, status, "
        "next_attempt_at, locked_until, lease_owner, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _delivery_row(d)).rowcount for d in deliveries)


def _where(project_id: str, query: DeliveryQuery) -> tuple[str, list[Any]]:
    clauses, args = ["project_id = ?"], [project_id]
    if query.webhook_id is not None:
        clauses.append("webhook_id = ?")
        args.append(query.webhook_id)
    if query.event_id is not None:
        clauses.append("event_id = ?")
        args.append(query.event_id)
    if query.statuses:
        clauses.append(f"status IN ({', '.join('?' * len(query.statuses))})")
        args.extend(query.statuses)
    return " AND ".join(clauses), args


class SQLiteWebhooks:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- endpoints

    async def create_webhook(self, webhook: Webhook, max_per_project: int) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            (count,) = db.execute("SELECT COUNT(*) FROM webhooks WHERE project_id = ?",
                                  (webhook.project_id,)).fetchone()
            if count >= max_per_project:
                return False
            db.execute("INSERT INTO webhooks (project_id, id, created_at, doc) VALUES (?, ?, ?, ?)",
                       (webhook.project_id, webhook.id, to_ms(webhook.created_at), webhook.model_dump_json()))
            return True

        return await self.db.run(work)

    async def webhook_by_id(self, project_id: str, webhook_id: str) -> Webhook | None:
        rows = await self.db.fetch("SELECT doc FROM webhooks WHERE project_id = ? AND id = ?", (project_id, webhook_id))
        return Webhook.model_validate_json(rows[0][0]) if rows else None

    async def list_webhooks(self, project_id: str) -> list[Webhook]:
        rows = await self.db.fetch("SELECT doc FROM webhooks WHERE project_id = ? ORDER BY created_at, id",
                                   (project_id,))
        return [Webhook.model_validate_json(r[0]) for r in rows]

    async def update_webhook(self, webhook: Webhook) -> bool:
        (changed,) = await self.db.write([("UPDATE webhooks SET doc = ? WHERE project_id = ? AND id = ?",
                                           (webhook.model_dump_json(), webhook.project_id, webhook.id))])
        return changed > 0

    async def delete_webhook(self, project_id: str, webhook_id: str) -> bool:
        changed, _ = await self.db.write([
            ("DELETE FROM webhooks WHERE project_id = ? AND id = ?", (project_id, webhook_id)),
            ("DELETE FROM webhook_deliveries WHERE project_id = ? AND webhook_id = ?", (project_id, webhook_id)),
        ])
        return changed > 0

    # -- deliveries

    async def insert_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        if not deliveries:
            return 0
        return await self.db.run(lambda db: store_deliveries(db, deliveries))

    async def delivery_by_id(self, project_id: str, delivery_id: str) -> Delivery | None:
        rows = await self.db.fetch("SELECT doc FROM webhook_deliveries WHERE project_id = ? AND id = ?",
                                   (project_id, delivery_id))
        return Delivery.model_validate_json(rows[0][0]) if rows else None

    async def find_deliveries(self, project_id: str, query: DeliveryQuery, page: Page) -> PageResult[Delivery]:
        where, args = _where(project_id, query)
        rows = await self.db.fetch(
            f"SELECT doc FROM webhook_deliveries WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*args, page.limit + 1, page.offset))
        items = [Delivery.model_validate_json(r[0]) for r in rows]
        total = -1
        if page.count_total:
            ((total,),) = await self.db.fetch(f"SELECT COUNT(*) FROM webhook_deliveries WHERE {where}", args)
        return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

    async def claim_due(self, now: datetime, owner: str, locked_until: datetime, limit: int) -> list[Delivery]:
        at = to_ms(now)
        # A reader first: an idle sender polling costs no write transaction.
        if not await self.db.fetch(f"SELECT 1 FROM webhook_deliveries WHERE {DUE} LIMIT 1", (PENDING, at, at)):
            return []

        def work(db: sqlite3.Connection) -> list[Delivery]:
            rows = db.execute(
                f"SELECT doc FROM webhook_deliveries WHERE {DUE} ORDER BY next_attempt_at, id LIMIT ?",
                (PENDING, at, at, limit)).fetchall()
            out = []
            for (doc,) in rows:
                d = Delivery.model_validate_json(doc).model_copy(
                    update={"locked_until": locked_until, "lease_owner": owner})
                db.execute("UPDATE webhook_deliveries SET locked_until = ?, lease_owner = ?, doc = ? "
                           "WHERE project_id = ? AND id = ?",
                           (to_ms(locked_until), owner, d.model_dump_json(), d.project_id, d.id))
                out.append(d)
            return out

        return await self.db.run(work)  # one write transaction: no other process claims in between

    async def finish_attempt(self, delivery: Delivery, owner: str) -> bool:
        d = delivery.model_copy(update={"locked_until": None, "lease_owner": None})
        (changed,) = await self.db.write([(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, locked_until = NULL, lease_owner = NULL, "
            "doc = ? WHERE project_id = ? AND id = ? AND lease_owner = ?",
            (d.status.value, to_ms(d.next_attempt_at), d.model_dump_json(), d.project_id, d.id, owner))])
        return changed > 0

    async def requeue_delivery(self, delivery: Delivery, expected: DeliveryStatus) -> bool:
        d = delivery.model_copy(update={"locked_until": None, "lease_owner": None})
        (changed,) = await self.db.write([(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, locked_until = NULL, lease_owner = NULL, "
            "doc = ? WHERE project_id = ? AND id = ? AND status = ?",
            (d.status.value, to_ms(d.next_attempt_at), d.model_dump_json(), d.project_id, d.id, expected.value))])
        return changed > 0
