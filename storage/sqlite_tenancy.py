"""Projects, API keys and idempotency records on SQLite (a mixin of SQLiteStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from storage.contract import Conflict, Page, PageResult
from storage.models import ApiKey, IdempotentResponse, Project
from storage.timeutil import from_ms, to_ms

PROJECT_COLUMNS = "id, name, created_at, allowed_origins, tracker_token"
KEY_COLUMNS = "hash, id, project_id, prefix, created_at, revoked_at"
IDEMPOTENCY_COLUMNS = "project_id, key, fingerprint, status, body, content_type, created_at, expires_at"
# Every table a project owns, deleted with it.
OWNED_TABLES = ("events", "sessions", "session_tags", "agents", "api_keys", "idempotency")


def _project(row: Sequence[Any]) -> Project:
    return Project(
        project_id=row[0], id=row[0], name=row[1], created_at=from_ms(row[2]),
        allowed_origins=orjson.loads(row[3]), tracker_token=row[4],
    )


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        hash=row[0], id=row[1], project_id=row[2], prefix=row[3], created_at=from_ms(row[4]),
        revoked_at=from_ms(row[5]),
    )


def _idempotent(row: Sequence[Any]) -> IdempotentResponse:
    return IdempotentResponse(
        project_id=row[0], key=row[1], fingerprint=row[2], status=row[3], body=bytes(row[4]),
        content_type=row[5], created_at=from_ms(row[6]), expires_at=from_ms(row[7]),
    )


class TenancyMixin:
    """Needs _fetch (reads) and _write (a serialized write transaction) from SQLiteStore."""

    async def _fetch(self, sql: str, args: Sequence[Any]) -> list[Sequence[Any]]: ...  # pragma: no cover
    async def _write(self, statements: list[tuple[str, Sequence[Any]]]) -> list[int]: ...  # pragma: no cover

    async def create_project(self, project: Project) -> Project:
        try:
            await self._write([(
                f"INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (project.id, project.name, to_ms(project.created_at), orjson.dumps(project.allowed_origins),
                 project.tracker_token),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def projects_by_ids(self, ids: Sequence[str]) -> list[Project]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [_project(r) for r in await self._fetch(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id IN ({marks})", list(ids))]

    async def project_by_name(self, name: str) -> Project | None:
        rows = await self._fetch(f"SELECT {PROJECT_COLUMNS} FROM projects WHERE name = ?", (name,))
        return _project(rows[0]) if rows else None

    async def project_by_tracker_token(self, token: str) -> Project | None:
        rows = await self._fetch(f"SELECT {PROJECT_COLUMNS} FROM projects WHERE tracker_token = ?", (token,))
        return _project(rows[0]) if rows else None

    async def find_projects(self, page: Page) -> PageResult[Project]:
        (total,), = await self._fetch("SELECT COUNT(*) FROM projects", ())
        rows = await self._fetch(
            f"SELECT {PROJECT_COLUMNS} FROM projects ORDER BY created_at, id LIMIT ? OFFSET ?",
            (page.limit + 1, page.offset),
        )
        return PageResult([_project(r) for r in rows[: page.limit]], total, len(rows) > page.limit)

    async def update_project(self, project: Project) -> Project:
        try:
            await self._write([(
                "UPDATE projects SET name = ?, allowed_origins = ?, tracker_token = ? WHERE id = ?",
                (project.name, orjson.dumps(project.allowed_origins), project.tracker_token, project.id),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def delete_project(self, project_id: str) -> bool:
        changed = await self._write(
            [(f"DELETE FROM {table} WHERE project_id = ?", (project_id,)) for table in OWNED_TABLES]
            + [("DELETE FROM projects WHERE id = ?", (project_id,))]
        )
        return changed[-1] > 0

    async def add_key(self, key: ApiKey) -> None:
        await self._write([(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (key.hash, key.id, key.project_id, key.prefix, to_ms(key.created_at),
             to_ms(key.revoked_at) if key.revoked_at else None),
        )])

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = await self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?", (key_hash,))
        return _key(rows[0]) if rows else None

    async def keys_for_project(self, project_id: str) -> list[ApiKey]:
        rows = await self._fetch(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = ? ORDER BY created_at, id", (project_id,))
        return [_key(r) for r in rows]

    async def revoke_keys(self, project_id: str, revoked_at: datetime) -> int:
        (changed,) = await self._write([(
            "UPDATE api_keys SET revoked_at = ? WHERE project_id = ? AND revoked_at IS NULL",
            (to_ms(revoked_at), project_id),
        )])
        return changed

    async def has_keys(self) -> bool:
        rows = await self._fetch("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1", ())
        return bool(rows)

    async def remember_response(self, record: IdempotentResponse) -> IdempotentResponse:
        await self._write([
            ("DELETE FROM idempotency WHERE project_id = ? AND key = ? AND expires_at <= ?",
             (record.project_id, record.key, to_ms(record.created_at))),
            (f"INSERT OR IGNORE INTO idempotency ({IDEMPOTENCY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
             (record.project_id, record.key, record.fingerprint, record.status, record.body, record.content_type,
              to_ms(record.created_at), to_ms(record.expires_at))),
        ])
        stored = await self.recall_response(record.project_id, record.key, record.created_at)
        return stored or record

    async def recall_response(self, project_id: str, key: str, now: datetime) -> IdempotentResponse | None:
        rows = await self._fetch(
            f"SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency WHERE project_id = ? AND key = ? AND expires_at > ?",
            (project_id, key, to_ms(now)),
        )
        return _idempotent(rows[0]) if rows else None
