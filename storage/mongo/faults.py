"""MongoDB failures that waiting can cure, as the store contract's StoreUnavailable family.

An unreachable server, a lost connection, an election (no writable primary for
a few seconds), an unconfirmed write concern: each becomes StoreUnavailable at
the edge of the backend, on every public coroutine of its domain classes
(@translated), reads and writes alike. Anything else (a duplicate key the code
did not expect, a bad query) is left alone and stays a 500.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from storage.contract.common import StoreReadOnly, StoreUnavailable

C = TypeVar("C", bound=type)

# The SDAM spec's "not writable primary" and "node is recovering / shutting down" codes.
NOT_WRITABLE = frozenset({10058, 10107, 13435, 11602, 13436, 189, 11600, 91})
# The retryable-writes spec's network codes, as a server reports them from its own peers.
NETWORK = frozenset({6, 7, 89, 9001, 262, 134})
ELECTION_RETRY_S = 5  # an election usually settles within seconds
NO_PRIMARY = "MongoDB has no writable primary (an election or a shutdown)"


def classify(exc: BaseException) -> StoreUnavailable | None:
    """The domain exception for exc, or None when exc is not a fault that passes."""
    if not isinstance(exc, PyMongoError):
        return None
    code = exc.code if isinstance(exc, OperationFailure) else None
    if isinstance(exc, NotPrimaryError) or code in NOT_WRITABLE:
        return StoreReadOnly(NO_PRIMARY, retry_after=ELECTION_RETRY_S)
    if isinstance(exc, ServerSelectionTimeoutError):
        return StoreUnavailable("MongoDB cannot be reached")
    if isinstance(exc, ConnectionFailure):  # AutoReconnect, NetworkTimeout, a full connection pool
        return StoreUnavailable("the connection to MongoDB failed or timed out")
    if isinstance(exc, WriteConcernError) or (
        isinstance(exc, BulkWriteError) and (exc.details or {}).get("writeConcernErrors")
    ):
        return StoreUnavailable("MongoDB did not confirm the write on enough members in time")
    if isinstance(exc, ExecutionTimeout):  # maxTimeMS, or the time a commit may take (storage/mongo/traces.py)
        return StoreUnavailable("MongoDB did not answer in time")
    if code in NETWORK or (
        isinstance(exc, OperationFailure)
        and (exc.has_error_label("RetryableWriteError") or exc.has_error_label("TransientTransactionError"))
    ):
        return StoreUnavailable("MongoDB lost contact with its members")
    if exc.timeout:
        return StoreUnavailable("MongoDB timed out")
    return None


def translated(cls: C) -> C:
    """cls, with each public coroutine method raising StoreUnavailable for what classify() recognises."""
    for name in dir(cls):
        method = getattr(cls, name)
        if not name.startswith("_") and inspect.iscoroutinefunction(method):
            setattr(cls, name, _translating(method))
    return cls


def _translating(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except PyMongoError as exc:
            fault = classify(exc)
            if fault is None:
                raise
            raise fault from exc

    return call
