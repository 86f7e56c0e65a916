"""Projects, accounts and their API keys on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from storage.contract import Conflict, Page, PageResult
from storage.models import Account, AccountKey, ApiKey, Project
from storage.sqlite.database import Database
from storage.sqlite.query import _chunks, _marks
from storage.timeutil import from_ms, to_ms

PROJECT_COLUMNS = "id, name, created_at, allowed_origins, tracker_token, retention_days, account_id"
KEY_COLUMNS = "hash, id, project_id, prefix, created_at, revoked_at"
ACCOUNT_COLUMNS = "id, name, tier, projects_limit, created_at"
ACCOUNT_KEY_COLUMNS = "hash, id, account_id, prefix, created_at, revoked_at"
# Every table a project owns, deleted with it.
OWNED_TABLES = (
    "events", "sessions", "session_tags", "agents", "api_keys", "idempotency", "experiments", "customers",
    "goal_types", "goals", "outcomes", "revenues",
)


def _project(row: Sequence[Any]) -> Project:
    return Project(
        project_id=row[0], id=row[0], name=row[1], created_at=from_ms(row[2]),
        allowed_origins=orjson.loads(row[3]), tracker_token=row[4], retention_days=row[5], account_id=row[6],
    )


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        hash=row[0], id=row[1], project_id=row[2], prefix=row[3], created_at=from_ms(row[4]),
        revoked_at=from_ms(row[5]),
    )


def _account(row: Sequence[Any]) -> Account:
    return Account(id=row[0], name=row[1], tier=row[2], projects_limit=row[3], created_at=from_ms(row[4]))


def _account_key(row: Sequence[Any]) -> AccountKey:
    return AccountKey(
        hash=row[0], id=row[1], account_id=row[2], prefix=row[3], created_at=from_ms(row[4]),
        revoked_at=from_ms(row[5]),
    )


class SQLiteProjects:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_project(self, project: Project) -> Project:
        try:
            await self.db.write([(
                f"INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (project.id, project.name, to_ms(project.created_at), orjson.dumps(project.allowed_origins),
                 project.tracker_token, project.retention_days, project.account_id),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def projects_by_ids(self, ids: Sequence[str]) -> list[Project]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [_project(r) for r in await self.db.fetch(
            f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id IN ({marks})", list(ids))]

    async def project_by_name(self, name: str) -> Project | None:
        rows = await self.db.fetch(f"SELECT {PROJECT_COLUMNS} FROM projects WHERE name = ?", (name,))
        return _project(rows[0]) if rows else None

    async def project_by_tracker_token(self, token: str) -> Project | None:
        rows = await self.db.fetch(f"SELECT {PROJECT_COLUMNS} FROM projects WHERE tracker_token = ?", (token,))
        return _project(rows[0]) if rows else None

    async def find_projects(self, page: Page, account_id: str | None = None) -> PageResult[Project]:
        where, args = ("WHERE account_id = ?", [account_id]) if account_id is not None else ("", [])
        (total,), = await self.db.fetch(f"SELECT COUNT(*) FROM projects {where}", args)
        rows = await self.db.fetch(
            f"SELECT {PROJECT_COLUMNS} FROM projects {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
            [*args, page.limit + 1, page.offset],
        )
        return PageResult([_project(r) for r in rows[: page.limit]], total, len(rows) > page.limit)

    async def update_project(self, project: Project) -> Project:
        try:
            await self.db.write([(
                "UPDATE projects SET name = ?, allowed_origins = ?, tracker_token = ?, retention_days = ? WHERE id = ?",
                (project.name, orjson.dumps(project.allowed_origins), project.tracker_token, project.retention_days,
                 project.id),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def delete_project(self, project_id: str) -> bool:
        changed = await self.db.write(
            [(f"DELETE FROM {table} WHERE project_id = ?", (project_id,)) for table in OWNED_TABLES]
            + [("DELETE FROM projects WHERE id = ?", (project_id,))]
        )
        return changed[-1] > 0

    async def add_key(self, key: ApiKey) -> None:
        await self.db.write([(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (key.hash, key.id, key.project_id, key.prefix, to_ms(key.created_at),
             to_ms(key.revoked_at) if key.revoked_at else None),
        )])

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = await self.db.fetch(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?", (key_hash,))
        return _key(rows[0]) if rows else None

    async def keys_for_project(self, project_id: str) -> list[ApiKey]:
        rows = await self.db.fetch(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = ? ORDER BY created_at, id", (project_id,))
        return [_key(r) for r in rows]

    async def revoke_keys(self, project_id: str, revoked_at: datetime) -> int:
        (changed,) = await self.db.write([(
            "UPDATE api_keys SET revoked_at = ? WHERE project_id = ? AND revoked_at IS NULL",
            (to_ms(revoked_at), project_id),
        )])
        return changed

    async def projects_with_live_keys(self, project_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(project_ids))):
            rows = await self.db.fetch(
                "SELECT DISTINCT project_id FROM api_keys WHERE revoked_at IS NULL"
                f" AND project_id IN ({_marks(len(chunk))})",
                list(chunk),
            )
            found.update(r[0] for r in rows)
        return found

    async def create_account(self, account: Account) -> Account:
        try:
            await self.db.write([(
                f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (account.id, account.name, account.tier, account.projects_limit, to_ms(account.created_at)),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"an account named {account.name!r} exists") from None
        return account

    async def accounts_by_ids(self, ids: Sequence[str]) -> list[Account]:
        found: list[Account] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = await self.db.fetch(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({_marks(len(chunk))})", list(chunk))
            found.extend(_account(r) for r in rows)
        return found

    async def add_account_key(self, key: AccountKey) -> None:
        await self.db.write([(
            f"INSERT INTO account_keys ({ACCOUNT_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (key.hash, key.id, key.account_id, key.prefix, to_ms(key.created_at),
             to_ms(key.revoked_at) if key.revoked_at else None),
        )])

    async def account_key_by_hash(self, key_hash: str) -> AccountKey | None:
        rows = await self.db.fetch(f"SELECT {ACCOUNT_KEY_COLUMNS} FROM account_keys WHERE hash = ?", (key_hash,))
        return _account_key(rows[0]) if rows else None

    async def keys_for_account(self, account_id: str) -> list[AccountKey]:
        rows = await self.db.fetch(
            f"SELECT {ACCOUNT_KEY_COLUMNS} FROM account_keys WHERE account_id = ? ORDER BY created_at, id",
            (account_id,))
        return [_account_key(r) for r in rows]

    async def revoke_account_keys(self, account_id: str, revoked_at: datetime) -> int:
        (changed,) = await self.db.write([(
            "UPDATE account_keys SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
            (to_ms(revoked_at), account_id),
        )])
        return changed
