"""GET /metrics: Prometheus text with requests, ingest, store calls and live figures; protected when auth is on."""

from __future__ import annotations

import re

from tests.conftest import Api, typed
from tests.graph.test_live import GqlWs, subscribed
from tests.payloads import VALID


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series, or 0 when it is not there yet."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)  # label values may hold spaces; the value never does
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


async def scrape(api: Api, **headers: str) -> str:
    resp = await api.client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return await resp.text()


async def test_metrics_count_requests_ingest_store_calls_and_live_subscribers(api: Api) -> None:
    before = await scrape(api)
    await api.post_typed([typed("custom", VALID["custom"], session="m1") for _ in range(7)])
    await api.client.post("/api/events", json={"events": [{"sessionId": 1}]})  # rejected
    ws = await GqlWs.connect(api)
    await ws.subscribe("1", "subscription { eventAdded { id } }")
    await subscribed(api, 1)
    after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("lensgraph_events_ingested_total", kind="agent") == 7
    assert delta("lensgraph_ingest_batch_events_count") == 1
    assert delta("lensgraph_http_requests_total", family="AgentLens server (seed 004)", route="/api/events",
                 method="POST", status="201") == 1
    assert delta("lensgraph_http_requests_total", family="AgentLens server (seed 004)", route="/api/events",
                 method="POST", status="400") == 1
    assert delta("lensgraph_requests_rejected_total", family="AgentLens server (seed 004)") == 1
    assert delta("lensgraph_store_call_seconds_count", domain="traces", call="commit_batch") == 1
    assert sample(after, "lensgraph_live_subscribers") >= 1
    assert "lensgraph_http_request_seconds_bucket" in after
    await ws.ws.close()


async def test_metrics_need_the_admin_key_or_the_metrics_token_when_auth_is_on(make_api) -> None:
    api = await make_api(api_key="admin-key-for-tests-0123456789", metrics_token="metrics-token-0123456789")
    assert (await api.client.get("/metrics")).status == 401
    assert (await api.client.get("/metrics", headers={"Authorization": "Bearer wrong-token"})).status == 401
    await scrape(api, Authorization="Bearer admin-key-for-tests-0123456789")
    await scrape(api, Authorization="Bearer metrics-token-0123456789")
