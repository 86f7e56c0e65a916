"""The projects contract: tenants and their API keys.

Not scoped by a project: these calls resolve which project a caller acts for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from storage.contract.common import Page, PageResult
from storage.models import ApiKey, Project


class ProjectStore(Protocol):
    async def create_project(self, project: Project) -> Project:
        """Raises Conflict when the name is taken."""
        ...

    async def projects_by_ids(self, ids: Sequence[str]) -> list[Project]: ...
    async def project_by_name(self, name: str) -> Project | None: ...
    async def project_by_tracker_token(self, token: str) -> Project | None: ...
    async def find_projects(self, page: Page) -> PageResult[Project]: ...
    async def update_project(self, project: Project) -> Project: ...

    async def delete_project(self, project_id: str) -> bool:
        """Deletes the project and everything it owns."""
        ...

    async def add_key(self, key: ApiKey) -> None: ...
    async def key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def keys_for_project(self, project_id: str) -> list[ApiKey]: ...

    async def projects_with_live_keys(self, project_ids: Sequence[str]) -> set[str]:
        """Which of these projects hold at least one unrevoked key: one call for a whole listing."""
        ...

    async def revoke_keys(self, project_id: str, revoked_at: datetime) -> int:
        """Revokes every live key of the project; returns how many."""
        ...
