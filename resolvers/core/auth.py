"""Who is calling: API keys (stored hashed), the bootstrap admin key, tracker tokens, dev mode.

Dev mode is configuration, not a state of the data: it is on exactly when no
admin key is configured and authentication is not required. In dev mode a
request without a key acts as the admin of the default project; a request
with a project's key still acts for that project, so creating projects never
locks unauthenticated clients out of dev mode.

An account key (seed 003's X-API-Key of an account) acts on every project its
account owns and on no other; it names the project per request (`project`,
or a route's id), so its Principal has no project of its own (NO_PROJECT):
reads scoped by it find nothing, and ingest refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from resolvers.core.cache import TTLCache
from resolvers.core.ids import new_id
from storage.contract import Store
from storage.models import AccountKey, ApiKey, Project
from storage.timeutil import now_ms

log = logging.getLogger("lensgraph.auth")

KEY_PREFIX = "lg_"
ACCOUNT_KEY_PREFIX = "lga_"  # told apart by prefix: one store look-up per unknown key, whichever kind
NO_PROJECT = ""  # an account key's Principal: it acts on the project each request names
TRACKER_PREFIX = "lgt_"
CACHE_SECONDS = 30.0
# Keys remembered, each way: a flood of wrong keys can fill its own cache but never evict the good keys.
KEY_CACHE_ENTRIES = 4096


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
    account_id: str | None = None  # an account key: every project of this account, and no other


def hash_key(plain: str) -> str:
    # surrogateescape: a header that is not UTF-8 arrives with lone surrogates, and is just a wrong key.
    return hashlib.sha256(plain.encode("utf-8", "surrogateescape")).hexdigest()


def new_key(project_id: str) -> tuple[str, ApiKey]:
    """A fresh secret (shown once) and its stored form."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        project_id=project_id, id=new_id(), prefix=plain[:10], hash=hash_key(plain), created_at=now_ms()
    )
    return plain, record


def new_account_key(account_id: str) -> tuple[str, AccountKey]:
    """A fresh account secret (shown once) and its stored form."""
    plain = ACCOUNT_KEY_PREFIX + secrets.token_urlsafe(32)
    record = AccountKey(
        account_id=account_id, id=new_id(), prefix=plain[:10], hash=hash_key(plain), created_at=now_ms()
    )
    return plain, record


def new_tracker_token() -> str:
    return TRACKER_PREFIX + secrets.token_urlsafe(18)


class Authenticator:
    def __init__(
        self,
        store: Store,
        admin_key: str | None,
        default_project: str,
        *,
        project_key: str | None = None,
        require_auth: bool = False,
    ) -> None:
        """project_key: a configured key of the default project (seed 002's AGENTLENS_API_KEY)."""
        self.store = store
        self.default_project = default_project
        self._admin_hash = hash_key(admin_key) if admin_key else None
        self._project_hash = hash_key(project_key) if project_key else None
        self._valid: TTLCache[str, Principal] = TTLCache(KEY_CACHE_ENTRIES, CACHE_SECONDS)
        self._invalid: TTLCache[str, bool] = TTLCache(KEY_CACHE_ENTRIES, CACHE_SECONDS)
        # Any configured key means the operator wants authentication.
        self.dev_mode = self._admin_hash is None and self._project_hash is None and not require_auth

    def invalidate(self) -> None:
        """After keys change: revocation takes effect at once on this replica."""
        self._valid.clear()
        self._invalid.clear()

    async def authenticate(self, credential: str | None) -> Principal:
        if not credential:
            if self.dev_mode:
                return Principal(self.default_project, admin=True)
            raise Unauthorized("missing API key")
        digest = hash_key(credential)
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return Principal(self.default_project, admin=True, key_id="admin")
        if self._project_hash is not None and hmac.compare_digest(digest, self._project_hash):
            return Principal(self.default_project, key_id="configured")
        principal = await self._lookup(digest, account=credential.startswith(ACCOUNT_KEY_PREFIX))
        if principal is None:
            if self.dev_mode:
                return Principal(self.default_project, admin=True)
            raise Unauthorized("invalid API key")
        return principal

    async def _lookup(self, digest: str, *, account: bool) -> Principal | None:
        principal = self._valid.get(digest)
        if principal is not None or digest in self._invalid:
            return principal
        key: ApiKey | AccountKey | None
        if account:
            key = await self.store.projects.account_key_by_hash(digest)
        else:
            key = await self.store.projects.key_by_hash(digest)
        # compare_digest even after an indexed lookup: equal-time for every stored hash
        if key is not None and key.revoked_at is None and hmac.compare_digest(key.hash, digest):
            if isinstance(key, AccountKey):
                principal = Principal(NO_PROJECT, key_id=key.id, account_id=key.account_id)
            else:
                principal = Principal(key.project_id, key_id=key.id)
            self._valid.put(digest, principal)
        else:
            self._invalid.put(digest, True)
        return principal

    async def authenticate_tracker(self, token: str, origin: str | None) -> tuple[Principal, Project]:
        project = await self.store.projects.project_by_tracker_token(token)
        if project is None or not hmac.compare_digest(project.tracker_token, token):
            raise Unauthorized("invalid project token")
        # With allowed origins set, the Origin header must name one: browsers always send it with a tracker's
        # requests, and a sender that is not a browser has the project's secret key to use instead.
        if project.allowed_origins and origin not in project.allowed_origins:
            shown = "no Origin header" if origin is None else f"origin {origin!r}"
            raise Forbidden(f"{shown} is not among this project's allowed origins")
        return Principal(project.id, ingest_only=True), project
