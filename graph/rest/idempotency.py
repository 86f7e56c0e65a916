"""Idempotency-Key on the REST routes that create: the answer is recorded with the write.

A handler hands over how it answers a result; with the header present, that
answer is computed and stored inside the write's transaction, and a repeat of
the request gets the stored answer back with `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web

from graph.rest.keys import SERVICES
from resolvers.core.idempotency import HEADER, fingerprint, new_claim
from resolvers.traces.ingest import Incoming, ingest
from storage.contract import Claim, CommitResult

Respond = Callable[[CommitResult], web.Response]


def _stored(response: web.Response) -> tuple[int, bytes, str]:
    body = response.body
    return response.status, bytes(body) if isinstance(body, (bytes, bytearray)) else b"", response.content_type


async def ingest_once(
    request: web.Request, project_id: str, items: Sequence[Incoming], respond: Respond, *, kind: str = "agent",
    documents_checked: bool = False,
) -> web.Response:
    """Ingest the batch and answer; under an Idempotency-Key, at most once per key. documents_checked: as
    ingest's (read_events_json found the whole body storable)."""
    services = request.config_dict[SERVICES]
    key = request.headers.get(HEADER)
    if key is None:
        return respond(await ingest(services, project_id, items, kind=kind, documents_checked=documents_checked))
    body = await request.read()
    claim: Claim[CommitResult] = new_claim(
        project_id, key, fingerprint(request.method.encode(), request.path.encode(), body),
        services.limits.idempotency_window.total_seconds(), lambda result: _stored(respond(result)),
    )
    result = await ingest(services, project_id, items, claim, kind=kind, documents_checked=documents_checked)
    record = result.response
    assert record is not None  # a claim always comes back with its answer
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return web.Response(body=record.body, status=record.status, content_type=record.content_type, headers=headers)
