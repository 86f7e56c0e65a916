"""Accounts: they own projects, and their keys (seed 003's account key) manage every project they own.

An operator creates an account and its first key (`lensgraph account create`, or the admin's createAccount
mutation); the account's holder rotates the key (seed 003's POST /account/revoke-key). Keys are shown once.
"""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.core.auth import Forbidden, Principal, new_account_key
from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.core.ids import new_id
from resolvers.core.services import Services
from storage.models import Account
from storage.timeutil import now_ms

MAX_NAME = 120
MAX_TIER = 40


@dataclass(slots=True)
class IssuedAccountKey:
    account: Account
    api_key: str  # the only time the plain key exists outside the caller


def _check(name: str, projects_limit: int | None, tier: str) -> tuple[str, str]:
    name, tier = name.strip(), tier.strip()
    if not name or len(name) > MAX_NAME:
        raise InputError(Problem("name", f"must be 1 to {MAX_NAME} characters"))
    if projects_limit is not None and projects_limit < 0:
        raise InputError(Problem("projects_limit", "must be 0 or more (or none for no limit)"))
    if not tier or len(tier) > MAX_TIER:
        raise InputError(Problem("tier", f"must be 1 to {MAX_TIER} characters"))
    return name, tier


async def create_account(
    services: Services, name: str, *, projects_limit: int | None = None, tier: str = "self-hosted"
) -> IssuedAccountKey:
    """A new account and its first key. The caller checks who may (the admin; the operator's CLI).

    Raises Conflict when the name is taken.
    """
    name, tier = _check(name, projects_limit, tier)
    account = Account(id=new_id(), name=name, tier=tier, projects_limit=projects_limit, created_at=now_ms())
    await services.store.projects.create_account(account)
    plain, key = new_account_key(account.id)
    await services.store.projects.add_account_key(key)
    return IssuedAccountKey(account, plain)


def require_account(principal: Principal) -> str:
    if principal.account_id is None:
        raise Forbidden("this needs an account key")
    return principal.account_id


async def get_account(services: Services, principal: Principal) -> Account:
    account_id = require_account(principal)
    found = await services.store.projects.accounts_by_ids([account_id])
    if not found:
        raise NotFound("account", account_id)
    return found[0]


async def rotate_account_key(services: Services, principal: Principal) -> IssuedAccountKey:
    """Revoke every key of the caller's account and issue one new key."""
    account = await get_account(services, principal)
    await services.store.projects.revoke_account_keys(account.id, now_ms())
    plain, key = new_account_key(account.id)
    await services.store.projects.add_account_key(key)
    services.auth.invalidate()
    return IssuedAccountKey(account, plain)
