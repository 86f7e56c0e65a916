"""Idempotency-Key semantics, shared by the REST ingest routes and ingestEvents.

A request repeated with the same key gets the first answer back and stores
nothing new; the same key with a different request is refused. Only
successful answers are remembered, so a rejected request can be corrected and
retried. Concurrent duplicates wait for the first instead of racing it.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from resolvers.errors import InputError, Problem
from resolvers.services import Services
from storage.contract import Conflict
from storage.models import IdempotentResponse
from storage.timeutil import now_ms

HEADER = "Idempotency-Key"
MAX_KEY = 255

_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    replayed: bool = False


def fingerprint(*parts: bytes) -> str:
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


async def once(
    services: Services, project_id: str, key: str, request_fingerprint: str, run: Callable[[], Awaitable[Answer]]
) -> Answer:
    """The remembered answer for this key, or run() and remember its answer if it succeeded."""
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InputError(Problem(HEADER, f"must be 1 to {MAX_KEY} printable characters"))
    lock = _locks.setdefault((project_id, key), asyncio.Lock())
    async with lock:
        prior = await services.store.recall_response(project_id, key, now_ms())
        if prior is not None:
            if prior.fingerprint != request_fingerprint:
                raise Conflict(f"{HEADER} {key!r} was already used with a different request")
            return Answer(prior.status, prior.body, prior.content_type, replayed=True)
        answer = await run()
        if 200 <= answer.status < 300:
            created = now_ms()
            await services.store.remember_response(
                IdempotentResponse(
                    project_id=project_id, key=key, fingerprint=request_fingerprint, status=answer.status,
                    body=answer.body, content_type=answer.content_type, created_at=created,
                    expires_at=created + services.limits.idempotency_window,
                )
            )
        return answer
