"""Webhooks over real HTTP: a real server (SQLite), its REST and GraphQL routes, the sender in its lifecycle,
and a real receiver on 127.0.0.1 (so these servers allow private targets, but for the tests of the refusal)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from graph.app.webhooks import HttpTransport
from graph.rest.keys import SERVICES
from resolvers.jobs.anomalies import detect
from resolvers.projects.service import ensure_default
from resolvers.webhooks import ids, signing
from resolvers.webhooks.service import emit
from resolvers.webhooks.transport import DeliveryError
from tests.conftest import Api, ApiFactory
from tests.graph.test_lens_api import assert_error, lens
from tests.resolvers.test_detector import NOW, RULE, D, plant
from tests.resolvers.test_detector import P as SHOP
from tests.webhook_receiver import Receiver

FAST = {"webhook_delivery": True, "webhook_allow_private": True, "webhook_poll_seconds": 0.05,
        "webhook_retry_base_seconds": 0.3}
ALL_EVENTS = ["anomaly.detected", "anomaly.resolved", "report.generated", "question.answered"]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def create(api: Api, url: str, events: list[str] | None = None, expect: int = 201, **extra: Any) -> dict:
    return await lens(api, "POST", "/webhooks", expect, json={"url": url, "events": events or ALL_EVENTS, **extra})


async def ask(api: Api, question: str = "How many sessions last week?") -> dict:
    return (await lens(api, "POST", "/chat", 200, json={"account_id": "default", "question": question}))["data"]


async def deliveries(api: Api, webhook_id: str, **params: Any) -> list[dict]:
    return (await lens(api, "GET", f"/webhooks/{webhook_id}/deliveries", 200, params=params))["data"]


async def test_a_delivery_is_signed_with_the_secret_shown_once(make_api: ApiFactory, receiver: Receiver) -> None:
    api = await make_api(**FAST)
    created = (await create(api, receiver.url, ["question.answered"], description="pager"))["data"]
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert created["url"] == receiver.url and created["events"] == ["question.answered"]
    listed = (await lens(api, "GET", "/webhooks", 200))["data"]
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]  # never shown again

    answered = await ask(api)
    (got,) = await receiver.wait_for(1)
    body = got.json
    assert body["type"] == "question.answered" and body["project_id"] == "default"
    assert body["data"]["answer"] == answered["answer"]
    assert body["data"]["conversation_id"] == answered["conversation_id"]
    assert got.headers[signing.EVENT] == "question.answered"
    assert got.headers[signing.EVENT_ID] == body["id"]
    assert got.headers[signing.ATTEMPT] == "1"
    header = got.headers[signing.SIGNATURE]
    assert signing.verify(secret, header, got.body)
    assert not signing.verify(secret + "x", header, got.body)  # a wrong secret fails
    assert not signing.verify(secret, header, got.body + b" ")  # so does a changed body
    # The documented recipe, by hand: HMAC-SHA256(secret, f"{t}.{body}").
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    assert hmac.compare_digest(v1, hmac.new(secret.encode(), f"{t}.".encode() + got.body, hashlib.sha256).hexdigest())

    (d,) = await _delivered(api, created["id"])
    assert (d["event_id"], d["status"], d["last_status_code"], len(d["attempts"])) == (body["id"], "delivered",
                                                                                         200, 1)
    assert d["payload"] == body and got.headers[signing.DELIVERY] == d["id"]


async def _delivered(api: Api, webhook_id: str, count: int = 1) -> list[dict]:
    for _ in range(200):
        found = await deliveries(api, webhook_id, status="delivered")
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(await deliveries(api, webhook_id))


async def test_failures_are_retried_with_growing_backoff_until_delivered(make_api: ApiFactory,
                                                                          receiver: Receiver) -> None:
    api = await make_api(**FAST)
    receiver.statuses = [500, 503]
    hook = (await create(api, receiver.url, ["question.answered"]))["data"]
    await ask(api)
    first, second, third = await receiver.wait_for(3)
    assert [r.headers[signing.ATTEMPT] for r in (first, second, third)] == ["1", "2", "3"]
    assert len({r.headers[signing.EVENT_ID] for r in (first, second, third)}) == 1  # one event, retried
    assert first.body == second.body == third.body
    gap1, gap2 = second.at - first.at, third.at - second.at
    assert 0.3 <= gap1 < gap2 and gap2 >= 0.6  # base 0.3 s, then doubled
    (d,) = await _delivered(api, hook["id"])
    assert [a["status_code"] for a in d["attempts"]] == [500, 503, 200]
    assert [a["error"] for a in d["attempts"]] == ["HTTP 500", "HTTP 503", None]
    assert d["delivered_at"] is not None and d["next_attempt_at"] is None

    # GraphQL shows the same delivery and its attempts.
    data = await api.data("""query($id: ID!) { webhookDeliveries(webhookId: $id, status: [DELIVERED]) {
        totalCount nodes { eventId status attempts { statusCode error } payload } } }""", {"id": hook["id"]})
    page = data["webhookDeliveries"]
    assert page["totalCount"] == 1
    (node,) = page["nodes"]
    assert [a["statusCode"] for a in node["attempts"]] == [500, 503, 200] and node["status"] == "DELIVERED"
    assert node["eventId"] == first.headers[signing.EVENT_ID] and node["payload"] == first.json


async def test_a_delivery_that_never_succeeds_fails_after_max_attempts(make_api: ApiFactory,
                                                                        receiver: Receiver) -> None:
    api = await make_api(**{**FAST, "webhook_retry_base_seconds": 0.05, "webhook_max_attempts": 3})
    receiver.statuses = [500] * 10
    hook = (await create(api, receiver.url, ["question.answered"]))["data"]
    await ask(api)
    await receiver.wait_for(3)
    for _ in range(100):
        (d,) = await deliveries(api, hook["id"])
        if d["status"] == "failed":
            break
        await asyncio.sleep(0.05)
    assert d["status"] == "failed" and len(d["attempts"]) == 3 and d["last_status_code"] == 500
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 3  # no fourth attempt

    # Redelivered on request: the same event, due now, max_attempts counted afresh.
    receiver.statuses = [502]
    path = f"/webhooks/{hook['id']}/deliveries/{d['id']}/redeliver"
    again = (await lens(api, "POST", path, 200))["data"]
    assert (again["status"], again["event_id"], again["requeued_at"] is not None) == ("pending", d["event_id"], True)
    conflict = await lens(api, "POST", path, 409)  # pending already
    assert_error(conflict, "CONFLICT")
    fourth, fifth = (await receiver.wait_for(5))[3:]
    assert fourth.headers[signing.EVENT_ID] == fifth.headers[signing.EVENT_ID] == d["event_id"]
    assert fifth.headers[signing.ATTEMPT] == "5"
    (done,) = await _delivered(api, hook["id"])
    assert [a["status_code"] for a in done["attempts"]] == [500, 500, 500, 502, 200]
    await lens(api, "POST", f"/webhooks/{hook['id']}/deliveries/whd_missing/redeliver", 404)
    # and in GraphQL: a delivered one may be sent again too
    data = await api.data('mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { status eventId } }',
                          {"id": d["id"]})
    assert data["redeliverWebhookDelivery"] == {"status": "PENDING", "eventId": d["event_id"]}
    assert (await receiver.wait_for(6))[5].headers[signing.EVENT_ID] == d["event_id"]


async def test_emitting_an_event_twice_stores_and_sends_it_once(make_api: ApiFactory, receiver: Receiver) -> None:
    api = await make_api(**FAST)
    hook = (await create(api, receiver.url, ["report.generated"]))["data"]
    other = (await create(api, receiver.url, ["anomaly.detected"]))["data"]  # not subscribed: gets nothing
    services = api.client.server.app[SERVICES]
    assert await emit(services, "default", "report.generated", "rep_1", {"title": "Weekly"}) == 1
    assert await emit(services, "default", "report.generated", "rep_1", {"title": "Weekly, again"}) == 0
    (got,) = await receiver.wait_for(1)
    assert got.json["id"] == ids.event_id("default", "report.generated", "rep_1")
    assert got.json["data"] == {"title": "Weekly"}
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 1
    assert len(await deliveries(api, hook["id"])) == 1 and await deliveries(api, other["id"]) == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8080/hook", "http://localhost:8080/hook", "http://[::ffff:127.0.0.1]/hook",
    "https://192.168.0.10/hook", "http://0.0.0.0/hook", "http://224.0.0.1/hook", "http://100.64.0.1/hook",
    "http://2130706433/hook", "http://127.1/hook", "http://[fe80::1]/hook", "http://[fc00::1]/hook",
])
async def test_private_targets_are_refused_and_nothing_is_stored(api: Api, url: str) -> None:
    body = await create(api, url, expect=400)
    error = assert_error(body, "INVALID_REQUEST", "url")
    assert "public address" in error["details"][0]["message"]
    assert (await lens(api, "GET", "/webhooks", 200))["data"] == []
    # and through GraphQL, with the field's path
    answer = await api.gql('mutation($u: String!) { createWebhook(input: {url: $u, events: [ANOMALY_DETECTED]}) '
                           '{ secret } }', {"u": url})
    (err,) = answer["errors"]
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "input.url" in err["message"], err
    assert (await api.data("{ webhooks { id } }"))["webhooks"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "not a url", "events": ["anomaly.detected"]}, "url"),
    ({"url": "ftp://example.com/x", "events": ["anomaly.detected"]}, "url"),
    ({"url": "http://", "events": ["anomaly.detected"]}, "url"),
    ({"url": "https://user:pw@93.184.215.14/x", "events": ["anomaly.detected"]}, "url"),
    ({"url": "https://93.184.215.14:99999/x", "events": ["anomaly.detected"]}, "url"),
    ({"url": "https://93.184.215.14/" + "x" * 3000, "events": ["anomaly.detected"]}, "url"),
    ({"url": "https://93.184.215.14/x", "events": ["anomaly.exploded"]}, "events[0]"),
    ({"url": "https://93.184.215.14/x", "events": []}, "events"),
    ({"url": "https://93.184.215.14/x"}, "events"),
    ({"events": ["anomaly.detected"]}, "url"),
    ({"url": 7, "events": ["anomaly.detected"]}, "url"),
    ({"url": "https://93.184.215.14/x", "events": ["anomaly.detected"], "colour": "red"}, "colour"),
])
async def test_malformed_webhooks_are_a_400_naming_the_field(api: Api, body: dict, field: str) -> None:
    answer = await lens(api, "POST", "/webhooks", 400, json=body)
    assert_error(answer, "INVALID_REQUEST", field)
    assert (await lens(api, "GET", "/webhooks", 200))["data"] == []


async def test_endpoints_are_changed_deleted_limited_and_scoped(make_api: ApiFactory) -> None:
    api = await make_api(webhooks_per_project=2)
    first = (await create(api, "https://93.184.215.14/a", ["anomaly.detected"]))["data"]
    await create(api, "https://93.184.215.14/b", ["anomaly.resolved"])
    full = await create(api, "https://93.184.215.14/c", expect=400)
    assert "already has 2 webhooks" in assert_error(full, "INVALID_REQUEST", "url")["details"][0]["message"]
    assert len((await lens(api, "GET", "/webhooks", 200))["data"]) == 2

    changed = (await lens(api, "PATCH", f"/webhooks/{first['id']}", 200,
                          json={"enabled": False, "events": ["question.answered", "anomaly.detected"]}))["data"]
    assert (changed["enabled"], changed["events"]) == (False, ["anomaly.detected", "question.answered"])
    refused = await lens(api, "PATCH", f"/webhooks/{first['id']}", 400, json={"url": "http://127.0.0.1/x"})
    assert_error(refused, "INVALID_REQUEST", "url")
    assert (await lens(api, "GET", f"/webhooks/{first['id']}", 200))["data"]["url"] == "https://93.184.215.14/a"

    await ensure_default(api.client.server.app[SERVICES], "elsewhere")
    await lens(api, "GET", f"/webhooks/{first['id']}", 404, params={"account_id": "elsewhere"})
    assert (await lens(api, "GET", "/webhooks", 200, params={"account_id": "elsewhere"}))["data"] == []

    assert (await lens(api, "DELETE", f"/webhooks/{first['id']}", 200))["data"] == {"id": first["id"],
                                                                                   "deleted": True}
    await lens(api, "DELETE", f"/webhooks/{first['id']}", 404)
    assert len((await lens(api, "GET", "/webhooks", 200))["data"]) == 1
    await create(api, "https://93.184.215.14/c")  # room again

    left = (await lens(api, "GET", "/webhooks", 200))["data"][0]["id"]
    data = await api.data('mutation($id: ID!) { updateWebhook(id: $id, input: {enabled: false}) { enabled events } }',
                          {"id": left})
    assert data["updateWebhook"] == {"enabled": False, "events": ["ANOMALY_RESOLVED"]}


async def test_the_sender_refuses_private_addresses_at_send_time(receiver: Receiver) -> None:
    """A name that resolves to loopback after the endpoint was saved (DNS rebinding) reaches nothing; nor does a
    literal private address. The receiver is up, and sees no request."""
    transport = HttpTransport(2.0, allow_private=False)
    try:
        for url in (f"http://localhost:{receiver.port}/hook", receiver.url,
                    f"http://[::ffff:127.0.0.1]:{receiver.port}/hook"):
            with pytest.raises(DeliveryError):
                await transport.post(url, b"{}", {"Content-Type": "application/json"})
    finally:
        await transport.close()
    assert receiver.received == []
    allowed = HttpTransport(2.0, allow_private=True)
    try:
        assert await allowed.post(f"http://localhost:{receiver.port}/hook", b"{}", {}) == 200
    finally:
        await allowed.close()


async def test_the_detector_sends_anomaly_detected_then_resolved(make_api: ApiFactory, receiver: Receiver) -> None:
    api = await make_api(**FAST)
    services = api.client.server.app[SERVICES]
    await ensure_default(services, SHOP)
    await plant(services, D - timedelta(days=1), 20, 20)  # 20% converted
    await plant(services, D, 5, 18)  # 11.5%: -42.5%
    hook = (await lens(api, "POST", "/webhooks", 201, json={
        "account_id": SHOP, "url": receiver.url, "events": ["anomaly.detected", "anomaly.resolved"]}))["data"]

    (found,) = (await detect(services, NOW)).detected
    (got,) = await receiver.wait_for(1)
    assert got.headers[signing.EVENT] == "anomaly.detected"
    assert signing.verify(hook["secret"], got.headers[signing.SIGNATURE], got.body)
    body = got.json
    assert body["id"] == ids.event_id(SHOP, "anomaly.detected", found.id)
    assert body["project_id"] == SHOP
    shown = (await lens(api, "GET", f"/anomalies/{found.id}", 200, params={"account_id": SHOP}))["data"]
    assert body["data"] == {**shown, "status": "open"}  # the anomaly as the REST API shows it
    assert body["data"]["rule_id"] == RULE and body["data"]["metric"]["change_percentage"] == -42.5
    # The planted drop was on mobile (20% -> 5%), and the anomaly names it first.
    device = body["data"]["segments"]["device"]
    assert next(iter(device)) == "mobile" and device["mobile"] == {"current": 0.05, "baseline": 0.2, "change": -75.0}
    assert "mobile" in body["data"]["ai_analysis"]

    assert (await detect(services, NOW + timedelta(minutes=20))).detected == []  # the same window: no new event
    await plant(services, D + timedelta(days=1), 20, 20)  # back to 20%
    assert [a.id for a in (await detect(services, NOW + timedelta(days=1))).resolved] == [found.id]
    _, resolved = await receiver.wait_for(2)
    assert resolved.headers[signing.EVENT] == "anomaly.resolved"
    assert resolved.json["data"]["id"] == found.id and resolved.json["data"]["status"] == "resolved"
    assert resolved.json["data"]["resolved_at"] is not None
    assert resolved.json["id"] == ids.event_id(SHOP, "anomaly.resolved", found.id)
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 2
