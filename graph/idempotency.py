"""Idempotency-Key on ingest routes (seed 000's rule, applied to every ingest route).

A request repeated with the same key gets the first answer back and stores
nothing new; the same key with a different request is refused. Only successful
answers are remembered, so a rejected request can be corrected and retried.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import weakref

from aiohttp import web

from graph.keys import PROJECT, SERVICES
from graph.rest.common import Handler
from resolvers.errors import InputError, Problem
from storage.contract import Conflict
from storage.models import IdempotentResponse
from storage.timeutil import now_ms

HEADER = "Idempotency-Key"
MAX_KEY = 255

# Concurrent duplicates wait for the first to finish instead of racing it.
_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


def idempotent(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise InputError(Problem(HEADER, f"must be 1 to {MAX_KEY} printable characters"))
        services, project = request.config_dict[SERVICES], request[PROJECT]
        body = await request.read()
        fingerprint = hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), request.path.encode(), body)).hexdigest()
        lock = _locks.setdefault((project, key), asyncio.Lock())
        async with lock:
            prior = await services.store.recall_response(project, key, now_ms())
            if prior is not None:
                if prior.fingerprint != fingerprint:
                    raise Conflict(f"{HEADER} {key!r} was already used with a different request")
                return _replay(prior)
            response = await handler(request)
            if isinstance(response, web.Response) and 200 <= response.status < 300 and response.body is not None:
                created = now_ms()
                await services.store.remember_response(
                    IdempotentResponse(
                        project_id=project, key=key, fingerprint=fingerprint, status=response.status,
                        body=bytes(response.body), content_type=response.content_type, created_at=created,
                        expires_at=created + services.limits.idempotency_window,
                    )
                )
            return response

    return wrapper


def _replay(prior: IdempotentResponse) -> web.Response:
    return web.Response(
        body=prior.body, status=prior.status, content_type=prior.content_type,
        headers={"Idempotent-Replayed": "true"},
    )

