"""Who is calling: API keys (stored hashed), the bootstrap admin key, tracker tokens, dev mode."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from resolvers.ids import new_id
from storage.contract import Store
from storage.models import ApiKey, Project
from storage.timeutil import now_ms

log = logging.getLogger("lensgraph.auth")

KEY_PREFIX = "lg_"
TRACKER_PREFIX = "lgt_"
CACHE_SECONDS = 30.0


class Unauthorized(Exception):
    code = "UNAUTHENTICATED"


class Forbidden(Exception):
    code = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class Principal:
    project_id: str
    admin: bool = False
    key_id: str | None = None  # None in dev mode and for tracker tokens
    ingest_only: bool = False  # tracker tokens may only send events


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def new_key(project_id: str) -> tuple[str, ApiKey]:
    """A fresh secret (shown once) and its stored form."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        project_id=project_id, id=new_id(), prefix=plain[:10], hash=hash_key(plain), created_at=now_ms()
    )
    return plain, record


def new_tracker_token() -> str:
    return TRACKER_PREFIX + secrets.token_urlsafe(18)


class Authenticator:
    def __init__(self, store: Store, admin_key: str | None, default_project: str) -> None:
        self.store = store
        self.default_project = default_project
        self._admin_hash = hash_key(admin_key) if admin_key else None
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._dev: tuple[float, bool] | None = None

    def invalidate(self) -> None:
        """After keys change: revocation takes effect at once on this replica."""
        self._cache.clear()
        self._dev = None

    async def dev_mode(self) -> bool:
        if self._admin_hash is not None:
            return False
        now = time.monotonic()
        if self._dev is None or now - self._dev[0] > CACHE_SECONDS:
            self._dev = (now, not await self.store.has_keys())
        return self._dev[1]

    async def authenticate(self, credential: str | None) -> Principal:
        if not credential:
            if await self.dev_mode():
                return Principal(self.default_project, admin=True)
            raise Unauthorized("missing API key")
        digest = hash_key(credential)
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return Principal(self.default_project, admin=True, key_id="admin")
        principal = await self._lookup(digest)
        if principal is None:
            if await self.dev_mode():
                return Principal(self.default_project, admin=True)
            raise Unauthorized("invalid API key")
        return principal

    async def _lookup(self, digest: str) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        key = await self.store.key_by_hash(digest)
        principal = None
        # compare_digest even after an indexed lookup: equal-time for every stored hash
        if key is not None and key.revoked_at is None and hmac.compare_digest(key.hash, digest):
            principal = Principal(key.project_id, key_id=key.id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, principal)
        return principal

    async def authenticate_tracker(self, token: str, origin: str | None) -> tuple[Principal, Project]:
        project = await self.store.project_by_tracker_token(token)
        if project is None or not hmac.compare_digest(project.tracker_token, token):
            raise Unauthorized("invalid project token")
        if project.allowed_origins and origin is not None and origin not in project.allowed_origins:
            raise Forbidden(f"origin {origin!r} is not allowed for this project")
        return Principal(project.id, ingest_only=True), project
