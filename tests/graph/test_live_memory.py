"""A long live stream keeps nothing per delivered event: counted on the heap, not timed.

graphql-core memoizes each execution's collected subfields by the id() of the
field list it was given, and keeps the list alive with the entry. Per-event
executors of a subscription are shallow copies sharing one memo, and every
event's execution builds fresh lists, so before graph/schema/execution.py each
delivered event left about ten objects (some 2 kB) per selected object type in
the memo until the subscription ended.
"""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable

import orjson

from graph.rest.keys import SERVICES
from storage.models import Event as EventDoc
from tests.conftest import Api, typed
from tests.graph.test_live import EVENT_ADDED, GqlWs, Sse, subscribed

BATCH = 50
Receive = Callable[[int], Awaitable[list[int]]]  # the next n events' payload numbers


def census() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


async def deliver(api: Api, receive: Receive, batches: int, start: int) -> None:
    for b in range(batches):
        first = start + b * BATCH
        await api.post_typed([
            typed("custom", {"type": "tick", "data": {"i": first + i}}, session=f"mem-{start}") for i in range(BATCH)
        ])
        assert await receive(BATCH) == list(range(first, first + BATCH))


async def assert_nothing_kept(api: Api, receive: Receive) -> None:
    await deliver(api, receive, 4, start=0)  # warm up: loaders, pools, caches that fill once

    # Every document the bus hands out, weakly: none may outlive its delivery.
    bus = api.client.server.app[SERVICES].bus.local
    handed: list[weakref.ref[EventDoc]] = []
    publish = bus.publish_batch

    def watched(project_id, events, sessions):  # type: ignore[no-untyped-def]
        events = list(events)
        handed.extend(weakref.ref(e) for e in events)
        publish(project_id, events, sessions)

    bus.publish_batch = watched
    before = census()
    delivered = 16 * BATCH
    await deliver(api, receive, 16, start=10_000)
    bus.publish_batch = publish
    after = census()
    after["ReferenceType"] -= len(handed)  # this test's own

    assert len(handed) == delivered
    alive = sum(1 for ref in handed if ref() is not None)
    assert alive <= BATCH, f"{alive} of {delivered} delivered event documents are still alive"
    # Some types move by up to a few hundred objects either way (abc caches' weakrefs, the test client's
    # record of its responses, a few per request); before the fix lists grew by 17 per event.
    grown = {name: after[name] - before[name] for name in after if after[name] - before[name] >= delivered // 2}
    assert not grown, f"objects kept per delivered event: {grown}"


async def test_a_subscription_keeps_nothing_per_delivered_event(api: Api) -> None:
    ws = await GqlWs.connect(api)
    await ws.subscribe("1", EVENT_ADDED)  # nested: each event's session and its agent, three object types
    await subscribed(api, 1)

    async def receive(n: int) -> list[int]:
        return [m["data"]["eventAdded"]["payload"]["data"]["i"] for m in await ws.collect(n)]

    await assert_nothing_kept(api, receive)
    await ws.ws.close()


async def test_an_sse_stream_keeps_nothing_per_delivered_event(api: Api) -> None:
    response = await api.client.get("/stream")
    assert response.status == 200
    stream = Sse(response)
    await subscribed(api, 1)

    async def receive(n: int) -> list[int]:
        out: list[int] = []
        while len(out) < n:
            message = await stream.message()
            if "data" in message:
                out.append(orjson.loads(message["data"])["payload"]["data"]["i"])
        return out

    await assert_nothing_kept(api, receive)
    response.close()
