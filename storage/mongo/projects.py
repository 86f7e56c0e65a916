"""Projects, accounts and their API keys on MongoDB."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from storage.contract import Conflict, Page, PageResult
from storage.models import Account, AccountKey, ApiKey, Project
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import (
    ACCOUNT_KEYS,
    ACCOUNTS,
    AGENTS,
    CUSTOMERS,
    EVENTS,
    EXPERIMENTS,
    GOAL_TYPES,
    GOALS,
    IDEMPOTENCY,
    KEYS,
    NO_ID,
    OUTCOMES,
    REVENUES,
    SESSIONS,
    maybe_model,
    page_result,
)

# Everything delete_project removes. The position counter stays, so a project
# id used again never hands out a position a client already saw.
OWNED = (EVENTS, SESSIONS, AGENTS, KEYS, IDEMPOTENCY, EXPERIMENTS, CUSTOMERS, GOAL_TYPES, GOALS, OUTCOMES,
         REVENUES)


@translated
class MongoProjects:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    async def create_project(self, project: Project) -> Project:
        try:
            await self.m.projects.insert_one({"_id": project.id, **project.model_dump()})
        except DuplicateKeyError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def projects_by_ids(self, ids: Sequence[str]) -> list[Project]:
        if not ids:
            return []
        docs = await self.m.projects.find({"_id": {"$in": list(ids)}}, NO_ID).to_list(None)
        return [Project.model_validate(d) for d in docs]

    async def project_by_name(self, name: str) -> Project | None:
        return maybe_model(Project, await self.m.projects.find_one({"name": name}, NO_ID))

    async def project_by_tracker_token(self, token: str) -> Project | None:
        return maybe_model(Project, await self.m.projects.find_one({"tracker_token": token}, NO_ID))

    async def find_projects(self, page: Page, account_id: str | None = None) -> PageResult[Project]:
        query = {} if account_id is None else {"account_id": account_id}
        cursor = self.m.projects.find(query, NO_ID).sort([("created_at", 1), ("_id", 1)])
        docs, total = await asyncio.gather(
            cursor.skip(page.offset).limit(page.limit + 1).to_list(None), self.m.projects.count_documents(query)
        )
        return page_result([Project.model_validate(d) for d in docs], total, page)

    async def update_project(self, project: Project) -> Project:
        try:
            await self.m.projects.update_one(
                {"_id": project.id},
                {"$set": {"name": project.name, "allowed_origins": project.allowed_origins,
                          "retention_days": project.retention_days,
                          "tracker_token": project.tracker_token}},
            )
        except DuplicateKeyError:
            raise Conflict(f"a project named {project.name!r} exists") from None
        return project

    async def delete_project(self, project_id: str) -> bool:
        # Owned documents first: a delete cut short is finished by running it again.
        for name in OWNED:
            await self.m.db[name].delete_many({"project_id": project_id})
        return (await self.m.projects.delete_one({"_id": project_id})).deleted_count > 0

    async def add_key(self, key: ApiKey) -> None:
        await self.m.keys.insert_one({"_id": key.hash, **key.model_dump()})

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        return maybe_model(ApiKey, await self.m.keys.find_one({"_id": key_hash}, NO_ID))

    async def keys_for_project(self, project_id: str) -> list[ApiKey]:
        cursor = self.m.keys.find({"project_id": project_id}, NO_ID).sort([("created_at", 1), ("id", 1)])
        docs = await cursor.to_list(None)
        return [ApiKey.model_validate(d) for d in docs]

    async def revoke_keys(self, project_id: str, revoked_at: datetime) -> int:
        result = await self.m.keys.update_many(
            {"project_id": project_id, "revoked_at": None}, {"$set": {"revoked_at": revoked_at}}
        )
        return result.modified_count

    async def projects_with_live_keys(self, project_ids: Sequence[str]) -> set[str]:
        ids = list(dict.fromkeys(project_ids))
        if not ids:
            return set()
        return set(await self.m.keys.distinct("project_id", {"project_id": {"$in": ids}, "revoked_at": None}))

    async def create_account(self, account: Account) -> Account:
        try:
            await self.m.db[ACCOUNTS].insert_one({"_id": account.id, **account.model_dump()})
        except DuplicateKeyError:
            raise Conflict(f"an account named {account.name!r} exists") from None
        return account

    async def accounts_by_ids(self, ids: Sequence[str]) -> list[Account]:
        if not ids:
            return []
        docs = await self.m.db[ACCOUNTS].find({"_id": {"$in": list(ids)}}, NO_ID).to_list(None)
        return [Account.model_validate(d) for d in docs]

    async def add_account_key(self, key: AccountKey) -> None:
        await self.m.db[ACCOUNT_KEYS].insert_one({"_id": key.hash, **key.model_dump()})

    async def account_key_by_hash(self, key_hash: str) -> AccountKey | None:
        return maybe_model(AccountKey, await self.m.db[ACCOUNT_KEYS].find_one({"_id": key_hash}, NO_ID))

    async def keys_for_account(self, account_id: str) -> list[AccountKey]:
        cursor = self.m.db[ACCOUNT_KEYS].find({"account_id": account_id}, NO_ID).sort([("created_at", 1), ("id", 1)])
        return [AccountKey.model_validate(d) for d in await cursor.to_list(None)]

    async def revoke_account_keys(self, account_id: str, revoked_at: datetime) -> int:
        result = await self.m.db[ACCOUNT_KEYS].update_many(
            {"account_id": account_id, "revoked_at": None}, {"$set": {"revoked_at": revoked_at}}
        )
        return result.modified_count
