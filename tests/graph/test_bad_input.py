"""Each class of input that once answered 500 now gets a 4xx naming what is wrong, and stores nothing."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import Api, typed

DEEP = "[" * 300 + "]" * 300


async def stored(api: Api) -> int:
    body = await api.get("/api/events", limit=1)
    return int(body["total"])


def cost_event(cost: float, session: str = "s1") -> dict[str, Any]:
    return typed("cost_tracked", {"provider": "p", "model": "m", "inputTokens": 1, "outputTokens": 1,
                                  "totalTokens": 2, "costUsd": cost}, session=session)


REST_CASES = [
    ("/api/events", {"events": [cost_event(9.3e9)]}, "events[0].payload.costUsd"),
    ("/api/events", {"events": [typed("llm_response", {
        "callId": "c", "provider": "p", "model": "m", "completion": "x", "finishReason": "stop",
        "usage": {"inputTokens": 2**63 - 1, "outputTokens": 1}, "costUsd": 0, "latencyMs": 1})]},
     "events[0].payload.usage.inputTokens"),
    ("/events", {"events": [{"event_type": "llm_call", "session_id": "s", "tokens_in": 2**63 - 1}]}, "tokens_in"),
    ("/api/events", '{"events": [{"sessionId": "s", "agentId": "a", "eventType": "custom", "payload": {"type": "t",'
     ' "data": ' + DEEP + "}}]}", "body"),
    ("/api/events",
     {"events": [{**typed("custom", {"type": "t", "data": 1}), "timestamp": "0001-01-01T00:30:00+01:00"}]},
     "events[0].timestamp"),
    ("/agent-analytics/track", [1, 2], "body"),
    ("/agent-analytics/track/batch", {"events": ["not an object"]}, "events[0]"),
]


@pytest.mark.parametrize(("path", "body", "field"), REST_CASES)
async def test_rest_bodies_outside_what_can_be_stored_are_400s_naming_the_field(
    api: Api, path: str, body: Any, field: str
) -> None:
    data = body.encode() if isinstance(body, str) else orjson.dumps(body)  # orjson writes 255 levels at most
    resp = await api.client.post(path, data=data, headers={"Content-Type": "application/json"})
    text = await resp.text()
    assert resp.status == 400, text
    assert field in text and "Track" not in text  # names the field, never a class
    assert await stored(api) == 0


async def test_integers_past_64_bits_are_refused_on_every_surface(api: Api) -> None:
    big = 2**63  # orjson reads it (unsigned 64-bit); BSON cannot store it
    resp = await api.client.post("/api/events", json={"events": [typed("custom", {"type": "t", "data": big})]})
    assert resp.status == 400 and (await resp.json())["details"][0]["path"] == "events[0].payload"
    resp = await api.client.post("/events", json={"events": [{"event_type": "x", "session_id": "s", "n": big}]})
    assert resp.status == 400
    mutation = 'mutation { ingestEvents(events: [{sessionId: "s", agentId: "a", eventType: "custom", ' \
               'payload: {type: "t", data: 9223372036854775808}}]) { __typename ... on InputValidationError ' \
               "{ problems { path message } } } }"
    body = await api.data(mutation)
    assert body["ingestEvents"]["__typename"] == "InputValidationError"
    assert body["ingestEvents"]["problems"][0]["path"] == "events[0].payload"
    assert await stored(api) == 0


async def test_an_undeclared_call_id_that_is_not_a_string_pairs_nothing(api: Api) -> None:
    payload = {"alertRuleId": "r", "alertName": "cost", "callId": []}
    await api.post_typed([typed("alert_resolved", payload)])
    (event,) = (await api.get("/api/events"))["events"]
    assert event["payload"]["callId"] == []  # kept as sent, in the payload only


async def test_session_totals_saturate_instead_of_overflowing(api: Api) -> None:
    # Each event's cost is allowed; together they would pass 64 bits of nano-dollars.
    from resolvers.core.bounds import INT64_MAX, saturating_add

    assert saturating_add(INT64_MAX - 5, 10) == INT64_MAX and saturating_add(1, 2) == 3
    # Through the server: tokens, which a session_end may set to any allowed total.
    big = 10**12
    events = [typed("llm_response", {"callId": f"c{i}", "provider": "p", "model": "m", "completion": "x",
                                     "finishReason": "stop", "usage": {"inputTokens": big, "outputTokens": big},
                                     "costUsd": 999_999, "latencyMs": 1}) for i in range(20)]
    await api.post_typed(events)
    (session,) = (await api.get("/api/sessions"))["sessions"]
    assert session["totalInputTokens"] == 20 * big
    assert session["totalCostUsd"] == pytest.approx(20 * 999_999)


@pytest.mark.parametrize(("params", "field"), [
    ({"offset": "99999999999999999999"}, "offset"),
    ({"limit": "x"}, "limit"),
    ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
    ({"to": "not a date"}, "to"),
])
async def test_query_parameters_out_of_range_are_400s(api: Api, params: dict[str, str], field: str) -> None:
    resp = await api.client.get("/api/events", params=params)
    body = await resp.json()
    assert resp.status == 400 and body["details"][0]["path"] == field, body


async def test_extreme_but_valid_dates_are_answered(api: Api) -> None:
    for params in ({"to": "0001-01-01"}, {"from": "9999-12-31T23:59:59Z", "to": "0001-01-01"}):
        assert (await api.get("/api/events", **params))["total"] == 0


async def test_a_far_future_timestamp_reads_back_exactly_and_keeps_the_chain_valid(api: Api) -> None:
    event = {**typed("custom", {"type": "t", "data": 1}, session="future"), "timestamp": "9999-12-31T23:59:59.999Z"}
    await api.post_typed([event, typed("custom", {"type": "t", "data": 2}, session="future")])
    timeline = await api.get("/api/sessions/future/timeline")
    assert timeline["chainValid"] is True
    assert "9999-12-31T23:59:59.999Z" in [e["timestamp"] for e in timeline["events"]]


async def test_a_huge_last_event_id_is_refused_before_the_stream_starts(api: Api) -> None:
    resp = await api.client.get("/stream", headers={"Last-Event-ID": "99999999999999999999"})
    assert resp.status == 400 and resp.content_type == "application/json"
    assert "Last-Event-ID" in (await resp.json())["error"]


async def test_head_on_a_stream_does_not_open_it(api: Api) -> None:
    resp = await api.client.head("/stream")
    assert resp.status == 405


async def test_corrupt_gzip_bodies_are_400s(api: Api) -> None:
    for path in ("/api/events", "/graphql"):
        # aiohttp closes a connection whose body it could not decode: each request gets its own.
        resp = await api.client.post(path, data=b"\x1f\x8b\x08garbage", headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip", "Connection": "close"})
        assert resp.status == 400, path
        assert "Content-Encoding gzip" in await resp.text()
    good = zlib.compress(orjson.dumps({"events": [typed("custom", {"type": "t", "data": 1})]}), wbits=31)
    resp = await api.client.post("/api/events", data=good,
                                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status == 201  # a good gzip body still works


async def test_a_key_that_is_not_utf8_is_just_a_wrong_key(make_api) -> None:
    api = await make_api(api_key="admin-key-for-tests-0123456789")
    resp = await api.client.get("/api/events", headers={"Authorization": "Bearer \udcff\udcfe"})
    assert resp.status == 401
    resp = await api.client.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"Authorization": "Bearer \udcff\udcfe"})
    assert resp.status == 401


@pytest.mark.parametrize(("body", "reason"), [
    (b"null", "must be a JSON object"),
    (b"[1]", "must be a JSON object"),
    (b'{"query": "{ __typename }", "variables": {"v": ' + DEEP.encode() + b"}}", "deeper than 64 levels"),
    (b'{"query": "{ session(id: \\"\\ud800\\") { id } }"}', "not valid JSON"),
])
async def test_graphql_bodies_that_cannot_be_read_are_400s(api: Api, body: bytes, reason: str) -> None:
    resp = await api.client.post("/graphql", data=body, headers={"Content-Type": "application/json"})
    error = (await resp.json())["errors"][0]
    assert resp.status == 400 and reason in error["message"] and error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("message", [
    "[1, 2]",
    '{"type": "connection_init", "payload": "not an object"}',
    '{"type": "connection_init", "payload": {"v": ' + DEEP + "}}",
    '{"type": "subscribe", "id": "1", "payload": null}',
    '{"type": "subscribe", "id": 1, "payload": {"query": "{ __typename }"}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "variables": [1]}}',
])
async def test_websocket_messages_that_cannot_be_read_close_with_the_protocol_code(api: Api, message: str) -> None:
    ws = await api.client.ws_connect("/graphql", protocols=["graphql-transport-ws"])
    await ws.send_str(message)
    closing = await ws.receive()
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4400
    await ws.close()


async def test_cursors_holding_out_of_range_numbers_are_bad_input(api: Api) -> None:
    for key in ("[1000000000000000000000000000000, \"a\"]", "[1e300, \"a\"]", "[-1180591620717411303424, \"a\"]",
                "[9000000000000000000, \"a\"]"):
        cursor = base64.urlsafe_b64encode(key.encode()).decode()
        body = await api.gql("query($c: String) { sessions(after: $c) { totalCount } }", {"c": cursor})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_a_rejected_request_is_one_warning_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO):
        resp = await api.client.post("/api/events", data=b'{"events": [{"sessionId": 1}]}',
                                     headers={"Content-Type": "application/json"})
        assert resp.status == 400
    mine = [r for r in caplog.records if r.name.startswith("lensgraph")]
    assert [(r.levelname, r.exc_info) for r in mine] == [("WARNING", None)]
    assert mine[0].getMessage().startswith("rejected POST /api/events: 400 events[0].sessionId")


async def test_a_number_literal_of_thousands_of_digits_is_bad_input(api: Api) -> None:
    body = await api.gql("{ sessions(first: " + "9" * 5000 + ") { totalCount } }")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "5000 digits" in error["message"]
    fine = await api.gql('{ events(filter: {search: "' + "1" * 60 + '"}) { totalCount } }')
    assert fine["data"]["events"]["totalCount"] == 0  # digits inside a string are just text


async def test_a_subscription_over_http_post_is_a_bad_request(api: Api) -> None:
    body = await api.gql("subscription { eventAdded { id } }")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST" and "websocket" in error["message"]
