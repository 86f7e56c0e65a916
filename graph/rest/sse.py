"""Server-sent events: the live stream for clients without websockets.

Each message's id is the event's commit position; a reconnecting EventSource
sends it back as Last-Event-ID and gets exactly what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import orjson
from aiohttp import web

from graph.rest.http import query_list
from graph.rest.keys import PROJECT, SERVICES
from resolvers.core.bounds import INT64_MAX
from resolvers.core.errors import InputError, Problem
from resolvers.live.bus import SubscriberOverflow
from resolvers.live.stream import StreamFilter, following
from storage.contract import StoreUnavailable
from storage.models import Event

log = logging.getLogger("lensgraph.sse")

HEARTBEAT = web.AppKey("sse_heartbeat", float)
DEFAULT_HEARTBEAT_SECONDS = 15.0


def resume_position(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    if raw is None or raw == "":
        return None
    try:
        position = int(raw)
    except ValueError:
        raise InputError(Problem("Last-Event-ID", f"must be an event id this stream sent, got {raw[:40]!r}")) from None
    if not 0 <= position <= INT64_MAX:
        raise InputError(Problem("Last-Event-ID", "must be an event id this stream sent (0 to 2^63-1)"))
    return position


async def stream_events(
    request: web.Request, flt: StreamFilter, render: Callable[[Event], Mapping[str, object]]
) -> web.StreamResponse:
    after = resume_position(request)
    services = request.config_dict[SERVICES]
    # Opened before the response starts: a store that cannot answer the replay is a 503, not a stream.
    async with following(services, request[PROJECT], flt, after) as events:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # let proxies pass events through at once
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        every = request.config_dict.get(HEARTBEAT, DEFAULT_HEARTBEAT_SECONDS)
        handler = asyncio.current_task()
        assert handler is not None
        heartbeat = asyncio.create_task(_heartbeat(response, every, handler))
        try:
            async for event in events:
                await response.write(b"id: %d\ndata: %s\n\n" % (event.position, orjson.dumps(render(event))))
        except (SubscriberOverflow, StoreUnavailable) as exc:
            # The stream has started: the failure is its last message; the client resumes from its last id.
            code = SubscriberOverflow.code if isinstance(exc, SubscriberOverflow) else "UNAVAILABLE"
            if isinstance(exc, StoreUnavailable):
                log.warning("SSE stream ended: %s", exc.for_log())
            with contextlib.suppress(ConnectionError):
                await response.write(b"event: error\ndata: %s\n\n" % orjson.dumps({"code": code, "message": str(exc)}))
        except (ConnectionError, asyncio.CancelledError):
            # The client went away (a failed write here or in the heartbeat, or aiohttp cancelling the
            # handler): leaving this block leaves the bus.
            log.debug("SSE client went away")
        finally:
            heartbeat.cancel()
    return response


async def _heartbeat(response: web.StreamResponse, every: float, handler: asyncio.Task[object]) -> None:
    """A comment line keeps proxies from closing an idle stream; a failed write means the client left,
    so the handler waiting for the next event is stopped at once rather than at that event."""
    try:
        while True:
            await asyncio.sleep(every)
            await response.write(b": keep-alive\n\n")
    except ConnectionError:
        handler.cancel()


def stream_filter(request: web.Request, type_param: str, session_param: str, agent_param: str) -> StreamFilter:
    return StreamFilter(
        session_id=request.query.get(session_param) or None,
        agent_id=request.query.get(agent_param) or None,
        types=query_list(request, type_param),
        severities=query_list(request, "severity"),
    )
