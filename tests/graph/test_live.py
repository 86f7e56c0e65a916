"""Live events over real websockets (graphql-transport-ws, graphql-ws) and server-sent events."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from graph.rest.keys import SERVICES
from tests.conftest import Api, typed
from tests.payloads import VALID

EVENT_ADDED = """subscription($filter: LiveEventFilter) {
  eventAdded(filter: $filter) { id type sequence sessionId payload session { id eventCount agent { name } } }
}"""


class GqlWs:
    """A minimal graphql-transport-ws client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, api: Api, protocol: str = "graphql-transport-ws") -> GqlWs:
        return await cls.connect_with(api, {}, protocol)

    @classmethod
    async def connect_with(cls, api: Api, payload: dict, protocol: str = "graphql-transport-ws") -> GqlWs:
        ws = await api.client.ws_connect("/graphql", protocols=[protocol])
        client = cls(ws)
        await client.send({"type": "connection_init", "payload": payload})
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        return client

    async def send(self, message: dict) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def receive(self, timeout: float = 5.0) -> dict:
        while True:
            msg = await self.ws.receive(timeout=timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = orjson.loads(msg.data)
            if data.get("type") not in ("ping", "pong", "ka"):
                return data

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None,
                        start: str = "subscribe") -> None:
        await self.send({"id": op_id, "type": start, "payload": {"query": query, "variables": variables or {}}})

    async def collect(self, count: int, timeout: float = 10.0) -> list[dict]:
        out = []
        async with asyncio.timeout(timeout):
            while len(out) < count:
                message = await self.receive(timeout)
                assert message["type"] in ("next", "data"), message
                out.append(message["payload"])
        return out


async def subscribed(api: Api, count: int) -> None:
    """Subscriptions register asynchronously; wait until the bus holds `count` of them."""
    bus = api.client.server.app[SERVICES].bus
    async with asyncio.timeout(5):
        while bus.subscriber_count < count:
            await asyncio.sleep(0.01)


async def test_subscribers_receive_what_their_filter_selects(api: Api) -> None:
    by_session = await GqlWs.connect(api)
    await by_session.subscribe("1", EVENT_ADDED, {"filter": {"sessionId": "s1"}})
    by_type = await GqlWs.connect(api)
    await by_type.subscribe("2", EVENT_ADDED, {"filter": {"types": ["tool_error"], "severity": ["error"]}})
    await subscribed(api, 2)

    await api.post_typed([
        typed("session_started", {"agentName": "Bot"}, session="s1", agent="bot"),
        typed("tool_call", VALID["tool_call"], session="s2"),
        typed("tool_error", VALID["tool_error"], session="s2", severity="error"),
        typed("tool_call", VALID["tool_call"], session="s1", agent="bot"),
    ])
    got = await by_session.collect(2)
    events = [p["data"]["eventAdded"] for p in got]
    assert [(e["type"], e["sessionId"], e["sequence"]) for e in events] == [
        ("session_started", "s1", 1), ("tool_call", "s1", 2)]
    assert events[0]["session"]["agent"]["name"] == "Bot"  # nested fields through the loaders
    assert events[1]["session"]["eventCount"] == 2
    (error,) = [p["data"]["eventAdded"] for p in await by_type.collect(1)]
    assert (error["type"], error["sessionId"]) == ("tool_error", "s2")

    # nothing else arrives for either
    await api.post_typed([typed("custom", VALID["custom"], session="s3")])
    for client in (by_session, by_type):
        try:
            extra = await client.receive(timeout=0.3)
        except TimeoutError:
            extra = None
        assert extra is None, extra
    await by_session.ws.close()
    await by_type.ws.close()


async def test_session_updated_and_legacy_protocol(api: Api) -> None:
    client = await GqlWs.connect(api, protocol="graphql-ws")
    await client.subscribe(
        "s", "subscription { sessionUpdated(filter: {sessionId: \"s1\"}) { id status eventCount tokensIn } }",
        start="start",
    )
    await subscribed(api, 1)
    await api.post_typed([typed("llm_response", VALID["llm_response"])])
    await api.post_typed([typed("session_ended", {"reason": "completed"})])
    updates = [p["data"]["sessionUpdated"] for p in await client.collect(2)]
    assert updates == [
        {"id": "s1", "status": "ACTIVE", "eventCount": 1, "tokensIn": 100},
        {"id": "s1", "status": "COMPLETED", "eventCount": 2, "tokensIn": 100},
    ]
    await client.ws.close()


async def test_per_session_order_holds_under_concurrent_ingest(api: Api) -> None:
    client = await GqlWs.connect(api)
    await client.subscribe("1", "subscription { eventAdded { sessionId sequence } }")
    await subscribed(api, 1)

    async def batch(n: int) -> None:
        await api.post_typed([typed("custom", {"type": "n", "data": i}, session=f"s{i % 3}") for i in range(30)])

    await asyncio.gather(*(batch(n) for n in range(10)))
    got = [p["data"]["eventAdded"] for p in await client.collect(300)]
    for session in ("s0", "s1", "s2"):
        seqs = [e["sequence"] for e in got if e["sessionId"] == session]
        assert seqs == list(range(1, 101)), session
    await client.ws.close()


async def test_a_slow_subscriber_is_cut_off_while_a_fast_one_gets_everything(make_api) -> None:
    api = await make_api(subscriber_queue_size=100)
    slow = await GqlWs.connect(api)
    await slow.subscribe("slow", "subscription { eventAdded { sequence payload } }")
    fast = await GqlWs.connect(api)
    await fast.subscribe("fast", "subscription { eventAdded { sequence } }")
    await subscribed(api, 2)

    # ~24 MB of events: far more than the socket buffers hold for a client that reads nothing
    blob = "x" * 100_000
    total = 240

    async def ingest() -> None:
        for _ in range(0, total, 20):
            await api.post_typed([typed("custom", {"type": "big", "data": blob}) for _ in range(20)])

    fast_task = asyncio.create_task(fast.collect(total, timeout=60))
    await asyncio.wait_for(ingest(), 60)  # ingest is never held up by the slow reader
    fast_events = [p["data"]["eventAdded"]["sequence"] for p in await fast_task]
    assert fast_events == list(range(1, total + 1))

    # the slow one now reads: an unbroken prefix, then a clear error, then complete
    sequences: list[int] = []
    async with asyncio.timeout(30):
        while True:
            message = await slow.receive(10)
            if message["type"] == "next" and (message["payload"].get("data") or {}).get("eventAdded"):
                sequences.append(message["payload"]["data"]["eventAdded"]["sequence"])
                continue
            break
    assert message["type"] == "next", message
    assert message["payload"]["errors"][0]["extensions"]["code"] == "SUBSCRIBER_OVERFLOW"
    assert sequences == list(range(1, len(sequences) + 1))
    assert len(sequences) < total
    assert (await slow.receive())["type"] == "complete"


async def test_subscriptions_per_connection_are_limited(make_api) -> None:
    api = await make_api(max_subscriptions_per_connection=2)
    client = await GqlWs.connect(api)
    for op in ("a", "b", "c"):
        await client.subscribe(op, "subscription { eventAdded { id } }")
    message = await client.receive()
    assert message["id"] == "c" and message["type"] == "error", message
    await client.ws.close()


class Sse:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def message(self, timeout: float = 5.0) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.response.content.readline()).decode()
                if line == "":
                    raise EOFError
                line = line.rstrip("\n")
                if line == "":
                    if "data" in fields or "comment" in fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields[name or "comment"] = value.removeprefix(" ")


async def sse_events(api: Api, path: str, count: int, headers: dict | None = None) -> tuple[list[dict], Sse]:
    response = await api.client.get(path, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    stream = Sse(response)
    out = []
    while len(out) < count:
        message = await stream.message()
        if "data" in message:
            out.append({**orjson.loads(message["data"]), "sse_id": message["id"]})
    return out, stream


async def test_sse_resumes_exactly_after_last_event_id(api: Api) -> None:
    first_task = asyncio.create_task(sse_events(api, "/stream?sessionId=s1", 3))
    await subscribed(api, 1)
    await api.post_typed([typed("custom", {"type": "n", "data": i}) for i in range(3)]
                         + [typed("custom", VALID["custom"], session="other")])
    first, stream = await first_task
    assert [e["payload"]["data"] for e in first] == [0, 1, 2]
    stream.response.close()  # the client drops off...

    await api.post_typed([typed("custom", {"type": "n", "data": i}) for i in range(3, 6)])  # ...and misses these

    resumed_task = asyncio.create_task(
        sse_events(api, "/stream?sessionId=s1", 5, headers={"Last-Event-ID": first[-1]["sse_id"]}))
    await subscribed(api, 1)
    await api.post_typed([typed("custom", {"type": "n", "data": i}) for i in range(6, 8)])
    resumed, stream = await resumed_task
    assert [e["payload"]["data"] for e in resumed] == [3, 4, 5, 6, 7]  # exactly what was missed, then live
    assert len({e["id"] for e in first + resumed}) == 8
    assert [int(e["sse_id"]) for e in first + resumed] == sorted(int(e["sse_id"]) for e in first + resumed)
    stream.response.close()


async def test_sse_under_the_agent_analytics_prefix_and_heartbeats(make_api) -> None:
    api = await make_api(sse_heartbeat_seconds=0.1)
    response = await api.client.get("/agent-analytics/stream?event=tool_call")
    stream = Sse(response)
    assert (await stream.message())["comment"].strip() == "keep-alive"
    await api.post_typed([typed("custom", VALID["custom"]), typed("tool_call", VALID["tool_call"])])
    while "data" not in (message := await stream.message()):
        pass
    event = orjson.loads(message["data"])
    assert (event["event"], event["properties"]["toolName"]) == ("tool_call", "search")
    response.close()


async def test_sse_rejects_a_bad_last_event_id(api: Api) -> None:
    response = await api.client.get("/stream", headers={"Last-Event-ID": "yesterday"})
    assert response.status == 400
    assert "Last-Event-ID" in (await response.json())["error"]


async def test_unsubscribing_leaves_the_bus_at_once(api: Api) -> None:
    client = await GqlWs.connect(api)
    await client.subscribe("1", "subscription { eventAdded { id } }")
    await subscribed(api, 1)
    await client.send({"id": "1", "type": "complete"})
    bus = api.client.server.app[SERVICES].bus
    async with asyncio.timeout(5):
        while bus.subscriber_count:
            await asyncio.sleep(0.01)
    await client.ws.close()
