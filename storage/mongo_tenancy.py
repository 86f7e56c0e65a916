"""Projects, API keys and idempotency records on MongoDB (a mixin of MongoStore)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from storage.contract import Conflict, Page, PageResult
from storage.models import ApiKey, IdempotentResponse, Project
from storage.mongo_schema import AGENTS, EVENTS, IDEMPOTENCY, KEYS, NO_ID, SESSIONS, maybe_model, page_result

# Everything delete_project removes. The position counter stays, so a project
# id used again never hands out a position a client already saw.
OWNED = (EVENTS, SESSIONS, AGENTS, KEYS, IDEMPOTENCY)


class TenancyMixin:
    """Needs the database and the collections MongoStore.start() opens."""

    _db: Any
    _projects: Any
    _keys: Any
    _idempotency: Any

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
        return maybe_model(Project, await self._projects.find_one({"name": name}, NO_ID))

    async def project_by_tracker_token(self, token: str) -> Project | None:
        return maybe_model(Project, await self._projects.find_one({"tracker_token": token}, NO_ID))

    async def find_projects(self, page: Page) -> PageResult[Project]:
        cursor = self._projects.find({}, NO_ID).sort([("created_at", 1), ("_id", 1)])
        docs, total = await asyncio.gather(
            cursor.skip(page.offset).limit(page.limit + 1).to_list(None), self._projects.count_documents({})
        )
        return page_result([Project.model_validate(d) for d in docs], total, page)

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
        return maybe_model(ApiKey, await self._keys.find_one({"_id": key_hash}, NO_ID))

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
        return maybe_model(IdempotentResponse, await self._idempotency.find_one(live, NO_ID))
