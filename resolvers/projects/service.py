"""Projects and their keys: create, update, delete, rotate. Keys are shown once.

Who may act on a project: the admin (and dev mode) on every one; a project's key on its own; an account's
key on each project its account owns. Any other project is answered as missing, never as forbidden.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from resolvers.core.auth import Forbidden, Principal, new_key, new_tracker_token
from resolvers.core.bounds import MAX_PROJECT_REF
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


def may_access(principal: Principal, project: Project) -> bool:
    if principal.admin:
        return True
    if principal.account_id is not None:
        return project.account_id == principal.account_id
    return principal.project_id == project.id


def require_access(principal: Principal, project: Project) -> None:
    if not may_access(principal, project):
        raise NotFound("project", project.id)  # never reveal another tenant's projects


def require_manager(principal: Principal) -> None:
    """Creating and deleting projects: the admin, or an account (on its own projects)."""
    if not principal.admin and principal.account_id is None:
        raise Forbidden("this needs the admin key or an account key")


async def ensure_default(services: Services, project_id: str) -> None:
    if not await services.store.projects.projects_by_ids([project_id]):
        project = Project(project_id=project_id, id=project_id, name=project_id, created_at=now_ms(),
                          tracker_token=new_tracker_token())
        with contextlib.suppress(Conflict):  # another replica made it first
            await services.store.projects.create_project(project)


async def create_project(
    services: Services, name: str, allowed_origins: list[str] | None = None, account_id: str | None = None
) -> IssuedKey:
    project_id = new_id()
    project = Project(
        project_id=project_id, id=project_id, name=_name(name), created_at=now_ms(),
        allowed_origins=_origins(allowed_origins), tracker_token=new_tracker_token(), account_id=account_id,
    )
    await services.store.projects.create_project(project)
    plain, key = new_key(project_id)
    await services.store.projects.add_key(key)
    services.auth.invalidate()
    return IssuedKey(project, plain)


async def create_or_find_project(
    services: Services, principal: Principal, name: str, allowed_origins: list[str] | None = None
) -> tuple[Project, IssuedKey | None]:
    """The project of that name if the caller has it (no key: keys are shown once), else a new one with its key.

    The admin creates projects of no account; an account key creates them in its account, up to its
    projects_limit (Forbidden past it). A name another account holds is a Conflict that names it.
    """
    require_manager(principal)
    existing = await _own_by_name(services, principal, _name(name))
    if existing is not None:
        return existing, None
    if principal.account_id is not None:
        await _check_projects_limit(services, principal.account_id)
    try:
        issued = await create_project(services, name, allowed_origins, principal.account_id)
    except Conflict:  # created by a concurrent request since the look-up, or another account's
        found = await _own_by_name(services, principal, _name(name))
        if found is None:
            raise
        return found, None
    return issued.project, issued


async def _own_by_name(services: Services, principal: Principal, name: str) -> Project | None:
    """The project of that name if the caller may act on it; Conflict if it is someone else's."""
    existing = await services.store.projects.project_by_name(name)
    if existing is None or may_access(principal, existing):
        return existing
    raise Conflict(f"the project name {name!r} is taken by another account: choose another name")


async def _check_projects_limit(services: Services, account_id: str) -> None:
    # Counted, then created: two creates racing at the limit may both pass (one project over, never more
    # than the racers); the store has no cross-document constraint to hold it exactly on both backends.
    found = await services.store.projects.accounts_by_ids([account_id])
    limit = found[0].projects_limit if found else None
    if limit is None:
        return
    count = (await services.store.projects.find_projects(Page(limit=0), account_id=account_id)).total
    if count >= limit:
        raise Forbidden(f"project limit reached: this account has {count} of {limit} projects")


async def get_project(services: Services, principal: Principal, project_id: str) -> Project:
    if not principal.admin and principal.account_id is None and principal.project_id != project_id:
        raise NotFound("project", project_id)  # a project key: nothing to look up
    found = await services.store.projects.projects_by_ids([project_id])
    if not found:
        raise NotFound("project", project_id)
    require_access(principal, found[0])
    return found[0]


async def resolve_project(services: Services, principal: Principal, ref: str) -> Project:
    """A project named by its id or its name, if the caller may read it (else NotFound, as for none)."""
    found = await services.store.projects.projects_by_ids([ref])
    project = found[0] if found else await services.store.projects.project_by_name(ref)
    if project is None or not may_access(principal, project):
        raise NotFound("project", ref)
    return project


async def list_projects(services: Services, principal: Principal, page: Page) -> PageResult[Project]:
    if principal.admin:
        return await services.store.projects.find_projects(page)
    if principal.account_id is not None:
        return await services.store.projects.find_projects(page, account_id=principal.account_id)
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
    require_manager(principal)
    if not principal.admin:
        await get_project(services, principal, project_id)  # an account deletes its own projects only
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


async def select_project(services: Services, principal: Principal, ref: str | None, *,
                         field: str = "project") -> Project:
    """The project a request acts on when its API lets the caller name one (seed 000's `project`).

    Named (by id or name): a project the caller may act on, else NotFound; a project key may name only
    its own (Forbidden otherwise: the key lacks that permission, whatever the other project is).
    Not named: a project key's own project; an account key's first project (its oldest); the admin's
    (and dev mode's) default project. A ref that cannot name one (empty, or too long) is refused, naming the
    request's field.
    """
    if ref is not None and (not ref or len(ref) > MAX_PROJECT_REF):
        raise InputError(Problem(field, "a project id or name"))
    if ref:
        if not principal.admin and principal.account_id is None:
            own = await get_project(services, principal, principal.project_id)
            if ref not in (own.id, own.name):
                raise Forbidden("a project key acts on its own project only")
            return own
        return await resolve_project(services, principal, ref)
    if principal.account_id is not None:
        first = await services.store.projects.find_projects(Page(limit=1, count_total=False),
                                                            account_id=principal.account_id)
        if not first.items:
            raise NotFound("project", "(this account has none yet)")
        return first.items[0]
    if principal.admin:
        return await get_project(services, principal, services.auth.default_project)
    return await get_project(services, principal, principal.project_id)
