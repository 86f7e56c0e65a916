"""mongomock behind the slice of PyMongo's async API that MongoStore uses.

mongomock is synchronous and acts as a standalone server: no transactions,
no change streams, so MongoStore takes its standalone path here. Every call
first yields to the event loop, as a network round trip would, so concurrent
commits really interleave and meet the store's optimistic concurrency.

With replica_set=True the client claims to be a replica set, so MongoStore
takes its transaction path; transactions then run one at a time and are never
rolled back. That checks the path's own logic; MongoDB's atomicity and
conflict handling only a real server can show (LENSGRAPH_TEST_MONGODB_URL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import mongomock

T = TypeVar("T")


async def _round_trip() -> None:
    await asyncio.sleep(0)


def _no_session(session: Any) -> None:
    assert session is None or isinstance(session, SerialSession), "a session of another client"


class SerialSession:
    """A transaction stand-in: callbacks run one at a time, without rollback."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def __aenter__(self) -> SerialSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def with_transaction(self, callback: Callable[[SerialSession], Awaitable[T]]) -> T:
        async with self._lock:
            return await callback(self)


class AsyncCursor:
    def __init__(self, cursor: Any) -> None:
        self.sync = cursor

    def sort(self, keys: Sequence[tuple[str, int]]) -> AsyncCursor:
        self.sync = self.sync.sort(list(keys))
        return self

    def skip(self, n: int) -> AsyncCursor:
        self.sync = self.sync.skip(n)
        return self

    def limit(self, n: int) -> AsyncCursor:
        self.sync = self.sync.limit(n)
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        await _round_trip()
        docs = list(self.sync)
        return docs if length is None else docs[:length]


class AsyncCollection:
    def __init__(self, collection: mongomock.Collection) -> None:
        self.sync = collection

    @property
    def name(self) -> str:
        return self.sync.name

    def find(
        self, filter: dict[str, Any], projection: dict[str, int] | None = None, session: Any = None
    ) -> AsyncCursor:
        _no_session(session)
        return AsyncCursor(self.sync.find(filter, projection))

    async def aggregate(self, pipeline: list[dict[str, Any]], session: Any = None, **options: Any) -> AsyncCursor:
        _no_session(session)
        await _round_trip()
        return AsyncCursor(self.sync.aggregate(pipeline, **options))

    async def count_documents(self, filter: dict[str, Any], session: Any = None) -> int:
        _no_session(session)
        await _round_trip()
        return self.sync.count_documents(filter)

    async def insert_one(self, document: dict[str, Any], session: Any = None) -> Any:
        _no_session(session)
        await _round_trip()
        return self.sync.insert_one(document)

    async def insert_many(self, documents: list[dict[str, Any]], ordered: bool = True, session: Any = None) -> Any:
        _no_session(session)
        await _round_trip()
        return self.sync.insert_many(documents, ordered=ordered)

    async def replace_one(self, filter: dict[str, Any], document: dict[str, Any], session: Any = None) -> Any:
        _no_session(session)
        await _round_trip()
        return self.sync.replace_one(filter, document)

    async def update_one(
        self, filter: dict[str, Any], update: dict[str, Any], upsert: bool = False, session: Any = None
    ) -> Any:
        _no_session(session)
        await _round_trip()
        return self.sync.update_one(filter, update, upsert=upsert)

    async def find_one(self, filter: dict[str, Any], projection: dict[str, int] | None = None) -> Any:
        await _round_trip()
        return self.sync.find_one(filter, projection)

    async def find_one_and_update(
        self, filter: dict[str, Any], update: dict[str, Any], session: Any = None, **options: Any
    ) -> Any:
        _no_session(session)
        await _round_trip()
        return self.sync.find_one_and_update(filter, update, **options)

    async def update_many(self, filter: dict[str, Any], update: dict[str, Any]) -> Any:
        await _round_trip()
        return self.sync.update_many(filter, update)

    async def delete_one(self, filter: dict[str, Any]) -> Any:
        await _round_trip()
        return self.sync.delete_one(filter)

    async def delete_many(self, filter: dict[str, Any]) -> Any:
        await _round_trip()
        return self.sync.delete_many(filter)

    async def create_indexes(self, indexes: list[Any]) -> list[str]:
        await _round_trip()
        return self.sync.create_indexes(indexes)


class AsyncDatabase:
    def __init__(self, database: mongomock.Database, replica_set: bool) -> None:
        self.sync = database
        self.replica_set = replica_set
        self._collections: dict[str, AsyncCollection] = {}

    @property
    def name(self) -> str:
        return self.sync.name

    def __getitem__(self, name: str) -> AsyncCollection:
        # One wrapper per collection, so a test can patch the one the store holds.
        if name not in self._collections:
            self._collections[name] = AsyncCollection(self.sync[name])
        return self._collections[name]

    async def command(self, command: str | dict[str, Any]) -> dict[str, Any]:
        await _round_trip()
        name = command if isinstance(command, str) else next(iter(command))
        if name == "hello":
            hello = {"isWritablePrimary": True, "maxWireVersion": 21, "ok": 1.0}
            return {**hello, "setName": "mongomock"} if self.replica_set else hello
        return self.sync.command(command)


class AsyncMongomockClient:
    """What AsyncMongoClient(url, tz_aware=True) offers MongoStore, in memory."""

    def __init__(self, replica_set: bool = False) -> None:
        self.sync = mongomock.MongoClient(tz_aware=True)
        self.replica_set = replica_set
        self._databases: dict[str, AsyncDatabase] = {}
        self._transactions = asyncio.Lock()
        self.closed = False

    def get_database(self, name: str) -> AsyncDatabase:
        if name not in self._databases:
            self._databases[name] = AsyncDatabase(self.sync.get_database(name), self.replica_set)
        return self._databases[name]

    def start_session(self) -> SerialSession:
        assert self.replica_set, "a standalone server has no transactions"
        return SerialSession(self._transactions)

    async def close(self) -> None:
        self.closed = True
