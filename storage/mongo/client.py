"""The MongoDB connection every domain shares: client, database, collections, topology, migrations.

The schema version lives in one document of the `lensgraph_meta` collection.
Index builds are idempotent, so start-up applies them every time; a database
whose version document is newer than this code is refused.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

from storage.contract.common import SchemaTooNew, StoreReadOnly, StoreUnavailable
from storage.mongo.faults import ELECTION_RETRY_S, NO_PRIMARY, classify
from storage.mongo.layout import (
    AGENTS,
    COUNTERS,
    EVENTS,
    IDEMPOTENCY,
    INDEXES,
    KEYS,
    META,
    PROJECTS,
    SCHEMA_VERSION,
    SESSIONS,
    WEBHOOKS,
)

T = TypeVar("T")

DEFAULT_DATABASE = "lensgraph"
DATABASE_ENV = "LENSGRAPH_MONGODB_DB"
SERVER_SELECTION_MS = 15_000
START_TIMEOUT_S = 25  # bounds ping + hello however the server misbehaves


def database_name(url: str) -> str:
    """The URL's path, else $LENSGRAPH_MONGODB_DB, else "lensgraph"."""
    return unquote(urlsplit(url).path.lstrip("/")) or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE


def url_hosts(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2] or "localhost"


class Mongo:
    """Opened by start(); the domain classes read its collections."""

    db: Any
    events: Any
    sessions: Any
    agents: Any
    counters: Any
    projects: Any
    keys: Any
    idempotency: Any

    def __init__(self, url: str, client: AsyncMongoClient[dict[str, Any]] | None = None) -> None:
        self.url = url
        self.database_name = database_name(url)
        self.hosts = url_hosts(url)
        self.replicated = False  # replica set or mongos: transactions and change streams; set by start()
        self.client = client

    async def start(self) -> None:
        try:
            if self.client is None:
                self.client = self._connect()
            db = self.client.get_database(self.database_name)
            # serverSelectionTimeoutMS covers an unreachable server; this, one that accepts and stalls.
            async with asyncio.timeout(START_TIMEOUT_S):
                await db.command("ping")
                hello = await db.command("hello")
            self.replicated = "setName" in hello or hello.get("msg") == "isdbgrid"
            self.db = db
            self.events, self.sessions, self.agents, self.counters = db[EVENTS], db[SESSIONS], db[AGENTS], db[COUNTERS]
            self.projects, self.keys, self.idempotency = db[PROJECTS], db[KEYS], db[IDEMPOTENCY]
            await self._migrate()
        except SchemaTooNew:
            await self.close()
            raise
        except (PyMongoError, ValueError, TimeoutError) as exc:
            await self.close()
            raise StoreUnavailable(self._unavailable(exc)) from exc

    async def _migrate(self) -> None:
        meta = self.db[META]
        found = await meta.find_one({"_id": "schema"})
        version = int(found["version"]) if found else 0
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"MongoDB database {self.database_name!r} at {self.hosts} has schema version {version}, newer than "
                f"this LensGraph's {SCHEMA_VERSION}: upgrade LensGraph"
            )
        if version < 9:
            await self._webhook_slots()  # before the unique index on them
        for name, indexes in INDEXES.items():
            await self.db[name].create_indexes(indexes)
        if version < 3:
            await self._product_fields()
        if version < SCHEMA_VERSION:
            # $max: two processes starting together, or an older one starting later, never lower it.
            await meta.update_one({"_id": "schema"}, {"$max": {"version": SCHEMA_VERSION}}, upsert=True)

    async def _product_fields(self) -> None:
        """Version 3: events carry their kind, and tracked events their user apart from agent_id.

        Idempotent, so two processes migrating together (or a crash half-way) leave it right.
        """
        events = self.db[EVENTS]
        async for doc in events.find({"metadata.source": "tracker", "kind": {"$ne": "tracker"}}, {"agent_id": 1}):
            await events.update_one(
                {"_id": doc["_id"], "kind": {"$ne": "tracker"}},
                {"$set": {"kind": "tracker", "user_id": doc.get("agent_id"), "agent_id": None}},
            )
        await events.update_many({"kind": {"$exists": False}}, {"$set": {"kind": "agent"}})

    async def _webhook_slots(self) -> None:
        """Version 9: every webhook endpoint from before holds a slot, numbered per project in creation order.

        Idempotent, and deterministic for two processes migrating together: each numbers only endpoints that
        have no slot yet, with the lowest free slots, and sets a slot only where none is set."""
        webhooks = self.db[WEBHOOKS]
        for project_id in await webhooks.distinct("project_id", {"slot": {"$exists": False}}):
            cursor = webhooks.find({"project_id": project_id}, {"slot": 1}).sort([("created_at", 1), ("id", 1)])
            docs = await cursor.to_list(None)
            taken = {d["slot"] for d in docs if "slot" in d}
            free = (n for n in itertools.count() if n not in taken)
            for doc in docs:
                if "slot" not in doc:
                    await webhooks.update_one({"_id": doc["_id"], "slot": {"$exists": False}},
                                              {"$set": {"slot": next(free)}})

    def _connect(self) -> AsyncMongoClient[dict[str, Any]]:
        options = {k.lower() for k in parse_qs(urlsplit(self.url).query)}
        # Keyword options override the URL's; only fill in what it leaves out.
        extra: dict[str, Any] = {}
        if "serverselectiontimeoutms" not in options:
            extra["serverSelectionTimeoutMS"] = SERVER_SELECTION_MS
        return AsyncMongoClient(self.url, tz_aware=True, appname="lensgraph", **extra)

    def _unavailable(self, exc: Exception) -> str:
        reason = str(exc) or f"no answer within {START_TIMEOUT_S} s"
        if isinstance(exc, ServerSelectionTimeoutError):
            reason = reason.split(", Timeout:")[0]  # the rest is a topology dump
        elif isinstance(exc, OperationFailure):
            reason = (exc.details or {}).get("errmsg") or reason
        reason = re.sub(r" \(configured timeouts:[^)]*\)", "", reason)
        password = urlsplit(self.url).password
        for secret in filter(None, {password, password and unquote(password)}):
            reason = reason.replace(secret, "***")
        return " ".join(f"MongoDB unavailable at {self.hosts} (database {self.database_name!r}): {reason}".split())

    @property
    def transaction_timeout_s(self) -> float:
        """The most one commit may take, retries included: long enough to select a server and then
        retry a conflict or an election, short enough that an unreachable server is soon a 503."""
        assert self.client is not None
        return 2 * float(self.client.options.server_selection_timeout)

    async def in_transaction(self, attempt: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """attempt(session) in one multi-document transaction (a replica set or sharded cluster), retried on
        transient errors as with_transaction does: for up to 120 s, an unreachable server included, so it is
        bounded by transaction_timeout_s and the client hears 503 while it still waits."""
        assert self.client is not None, "store not started"
        async with self.client.start_session() as s:
            with pymongo.timeout(self.transaction_timeout_s):
                done: T = await s.with_transaction(attempt)
        return done

    async def check_writes(self) -> None:
        """StoreReadOnly while the server it would write to is not a writable primary (an election)."""
        try:
            hello = await self.db.command("hello")
        except PyMongoError as exc:
            fault = classify(exc)
            if fault is None:
                raise
            raise fault from exc
        if not (hello.get("isWritablePrimary") or hello.get("msg") == "isdbgrid"):
            raise StoreReadOnly(NO_PRIMARY, retry_after=ELECTION_RETRY_S)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
