"""Idempotency-Key on the REST ingest routes (seed 000's rule, applied to every ingest route)."""

from __future__ import annotations

import functools

from aiohttp import web

from graph.keys import PROJECT, SERVICES
from graph.rest.common import Handler
from resolvers.idempotency import HEADER, Answer, fingerprint, once


def idempotent(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        body = await request.read()
        response: web.StreamResponse | None = None

        async def run() -> Answer:
            nonlocal response
            response = await handler(request)
            if isinstance(response, web.Response) and response.body is not None:
                return Answer(response.status, bytes(response.body), response.content_type)
            return Answer(response.status, b"", "")  # not remembered: only 2xx with a body are

        answer = await once(
            request.config_dict[SERVICES], request[PROJECT], key,
            fingerprint(request.method.encode(), request.path.encode(), body), run,
        )
        if response is not None:
            return response
        return web.Response(
            body=answer.body, status=answer.status, content_type=answer.content_type,
            headers={"Idempotent-Replayed": "true"},
        )

    return wrapper
