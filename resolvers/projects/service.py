"""Projects and their keys: create, update, delete, rotate. Keys are shown once."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from resolvers.core.auth import Forbidden, Principal, new_key, new_tracker_token
from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.core.ids import new_id
from resolvers.core.services import Services
from resolvers.jobs.retention import check_days
from storage.contract import Conflict, Page, PageResult
from storage.models import Project
from storage.timeutil import now_ms

MAX_NAME = 120


@dataclass(slots=True)
class IssuedKey:
    project: Project
    api_key: str  # the only time the plain key exists outside the caller


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InputError(Problem("name", f"must be 1 to {MAX_NAME} characters"))
    return name


def _origins(origins: list[str] | None) -> list[str]:
    out = []
    for index, origin in enumerate(origins or []):
        if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
            raise InputError(Problem(f"allowed_origins[{index}]", "must look like https://example.com"))
        out.append(origin)
    return out


def require_admin(principal: Principal) -> None:
    if not principal.admin:
        raise Forbidden("this needs the admin key")


def require_access(principal: Principal, project_id: str) -> None:
    if not principal.admin and principal.project_id != project_id:
        raise NotFound("project", project_id)  # never reveal another tenant's projects


async def ensure_default(services: Services, project_id: str) -> None:
    if not await services.store.projects.projects_by_ids([project_id]):
        project = Project(project_id=project_id, id=project_id, name=project_id, created_at=now_ms(),
                          tracker_token=new_tracker_token())
        with contextlib.suppress(Conflict):  # another replica made it first
            await services.store.projects.create_project(project)


async def create_project(services: Services, name: str, allowed_origins: list[str] | None = None) -> IssuedKey:
    project_id = new_id()
    project = Project(
        project_id=project_id, id=project_id, name=_name(name), created_at=now_ms(),
        allowed_origins=_origins(allowed_origins), tracker_token=new_tracker_token(),
    )
    await services.store.projects.create_project(project)
    plain, key = new_key(project_id)
    await services.store.projects.add_key(key)
    services.auth.invalidate()
    return IssuedKey(project, plain)


async def create_or_find_project(
    services: Services, name: str, allowed_origins: list[str] | None = None
) -> tuple[Project, IssuedKey | None]:
    """The project of that name if it exists (no key: keys are shown once), else a new one with its key."""
    existing = await services.store.projects.project_by_name(_name(name))
    if existing is not None:
        return existing, None
    try:
        issued = await create_project(services, name, allowed_origins)
    except Conflict:  # created by a concurrent request since the look-up
        found = await services.store.projects.project_by_name(_name(name))
        if found is None:
            raise
        return found, None
    return issued.project, issued


async def get_project(services: Services, principal: Principal, project_id: str) -> Project:
    require_access(principal, project_id)
    found = await services.store.projects.projects_by_ids([project_id])
    if not found:
        raise NotFound("project", project_id)
    return found[0]


async def resolve_project(services: Services, principal: Principal, ref: str) -> Project:
    """A project named by its id or its name, if the caller may read it (else NotFound, as for none)."""
    found = await services.store.projects.projects_by_ids([ref])
    project = found[0] if found else await services.store.projects.project_by_name(ref)
    if project is None:
        raise NotFound("project", ref)
    require_access(principal, project.id)
    return project


async def list_projects(services: Services, principal: Principal, page: Page) -> PageResult[Project]:
    if principal.admin:
        return await services.store.projects.find_projects(page)
    own = await services.store.projects.projects_by_ids([principal.project_id])
    return PageResult(own, len(own), False)


async def list_projects_with_keys(
    services: Services, principal: Principal, page: Page
) -> tuple[PageResult[Project], set[str]]:
    """A page of projects, and which of them hold a live key: two store calls, however long the page."""
    result = await list_projects(services, principal, page)
    keyed = await services.store.projects.projects_with_live_keys([p.id for p in result.items])
    return result, keyed


# Not given (as opposed to None, which resets a project's retention to the server's default).
KEEP: Any = object()


async def update_project(
    services: Services, principal: Principal, project_id: str, *, name: str | None = None,
    allowed_origins: list[str] | None = None, retention_days: int | None = KEEP,
) -> Project:
    project = await get_project(services, principal, project_id)
    if name is not None:
        project.name = _name(name)
    if allowed_origins is not None:
        project.allowed_origins = _origins(allowed_origins)
    if retention_days is not KEEP:
        require_admin(principal)  # retention is the operator's policy: it deletes data
        project.retention_days = check_days(retention_days)
    return await services.store.projects.update_project(project)


async def delete_project(services: Services, principal: Principal, project_id: str) -> bool:
    require_admin(principal)
    if project_id == services.auth.default_project:
        raise InputError(Problem("id", "the default project cannot be deleted"))
    deleted = await services.store.projects.delete_project(project_id)
    services.auth.invalidate()
    return deleted


async def rotate_key(services: Services, principal: Principal, project_id: str) -> IssuedKey:
    """Revoke every key of the project and issue one new key."""
    project = await get_project(services, principal, project_id)
    await services.store.projects.revoke_keys(project_id, now_ms())
    plain, key = new_key(project_id)
    await services.store.projects.add_key(key)
    services.auth.invalidate()
    return IssuedKey(project, plain)
