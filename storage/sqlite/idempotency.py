"""Idempotency records on SQLite.

recall and remember run on the writer's connection inside a transaction, so
commit_batch checks and records a claim atomically with the batch it guards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.models import IdempotentResponse
from storage.sqlite.database import Database
from storage.timeutil import from_ms, to_ms

COLUMNS = "project_id, key, fingerprint, status, body, content_type, created_at, expires_at"
# Expired records deleted by each new one: every claim adds one record and removes up to this many that
# have expired, so the table holds about one window's worth of keys (MongoDB's TTL index does the same).
SWEEP = 100


def _record(row: Sequence[Any]) -> IdempotentResponse:
    return IdempotentResponse(
        project_id=row[0], key=row[1], fingerprint=row[2], status=row[3], body=bytes(row[4]),
        content_type=row[5], created_at=from_ms(row[6]), expires_at=from_ms(row[7]),
    )


def recall(db: sqlite3.Connection, project_id: str, key: str, now: datetime) -> IdempotentResponse | None:
    row = db.execute(
        f"SELECT {COLUMNS} FROM idempotency WHERE project_id = ? AND key = ? AND expires_at > ?",
        (project_id, key, to_ms(now)),
    ).fetchone()
    return _record(row) if row else None


def remember(db: sqlite3.Connection, record: IdempotentResponse) -> IdempotentResponse:
    """Inside a transaction: store the record unless a live one holds its key; returns the one kept."""
    db.execute(
        "DELETE FROM idempotency WHERE project_id = ? AND key = ? AND expires_at <= ?",
        (record.project_id, record.key, to_ms(record.created_at)),
    )
    db.execute(
        "DELETE FROM idempotency WHERE (project_id, key) IN"
        " (SELECT project_id, key FROM idempotency WHERE expires_at <= ? LIMIT ?)",
        (to_ms(record.created_at), SWEEP),
    )
    db.execute(
        f"INSERT OR IGNORE INTO idempotency ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (record.project_id, record.key, record.fingerprint, record.status, record.body, record.content_type,
         to_ms(record.created_at), to_ms(record.expires_at)),
    )
    return recall(db, record.project_id, record.key, record.created_at) or record


class SQLiteIdempotency:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def remember_response(self, record: IdempotentResponse) -> IdempotentResponse:
        return await self.db.run(lambda conn: remember(conn, record))

    async def recall_response(self, project_id: str, key: str, now: datetime) -> IdempotentResponse | None:
        rows = await self.db.fetch(
            f"SELECT {COLUMNS} FROM idempotency WHERE project_id = ? AND key = ? AND expires_at > ?",
            (project_id, key, to_ms(now)),
        )
        return _record(rows[0]) if rows else None
