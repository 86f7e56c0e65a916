"""Projects, keys, tenant isolation, rate limits, CORS and idempotent retries, over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3

import orjson
import pytest

from tests.conftest import Api, typed
from tests.graph.test_live import GqlWs, Sse, subscribed
from tests.payloads import VALID

ADMIN = "admin-key-for-tests-0123456789"
CREATE = """mutation($name: String!, $origins: [String!]) {
  createProject(name: $name, allowedOrigins: $origins) { project { id name trackerToken } apiKey }
}"""


async def gql(api: Api, query: str, variables: dict | None = None, key: str | None = None, bearer: bool = True,
              status: int = 200) -> dict:
    headers = {}
    if key:
        headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    resp = await api.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def new_project(api: Api, name: str, origins: list[str] | None = None) -> tuple[str, str, str]:
    body = await gql(api, CREATE, {"name": name, "origins": origins}, key=ADMIN)
    assert "errors" not in body, body
    created = body["data"]["createProject"]
    return created["project"]["id"], created["apiKey"], created["project"]["trackerToken"]


@pytest.fixture
async def secured(make_api) -> Api:
    return await make_api(api_key=ADMIN)


async def test_requests_without_a_valid_key_get_401_in_each_family_shape(secured: Api) -> None:
    c = secured.client
    for method, path, kwargs in [
        ("POST", "/events", {"json": {"events": [{}]}}),
        ("GET", "/sessions", {}),
        ("POST", "/api/events", {"json": {"events": [typed("custom", VALID["custom"])]}}),
        ("GET", "/api/sessions", {"headers": {"Authorization": "Bearer wrong-key"}}),
        ("GET", "/agent-analytics/projects", {"headers": {"X-API-Key": "nope"}}),
        ("GET", "/stream", {}),
    ]:
        resp = await c.request(method, path, **kwargs)
        assert resp.status == 401, (path, resp.status)
        assert "Unauthorized" in (await resp.json())["error"]
    body = await gql(secured, "{ sessions { totalCount } }", status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for path in ("/health", "/api/health", "/agent-analytics/health"):
        assert (await c.get(path)).status == 200
    assert (await secured.get("/api/events", expect=401))  # rejected requests stored nothing
    assert (await gql(secured, "{ events { totalCount } }", key=ADMIN))["data"]["events"]["totalCount"] == 0


async def test_keys_are_shown_once_and_stored_hashed(secured: Api) -> None:
    project_id, key, _ = await new_project(secured, "alpha")
    assert key.startswith("lg_") and len(key) > 40
    resp = await secured.client.post("/api/events", json={"events": [typed("custom", VALID["custom"])]},
                                     headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 201
    db_path = secured.store.inner.path
    db = sqlite3.connect(db_path)
    (stored,) = db.execute("SELECT hash FROM api_keys WHERE project_id = ?", (project_id,)).fetchone()
    db.close()
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    for suffix in ("", "-wal"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            assert key.encode() not in path.read_bytes()


async def test_rotation_revokes_the_old_key(secured: Api) -> None:
    project_id, old, _ = await new_project(secured, "rotating")
    rotated = await gql(secured, "mutation($id: ID!) { rotateApiKey(projectId: $id) { apiKey } }",
                        {"id": project_id}, key=old)
    new = rotated["data"]["rotateApiKey"]["apiKey"]
    assert new != old
    assert (await gql(secured, "{ sessions { totalCount } }", key=old, status=401))
    assert "errors" not in await gql(secured, "{ sessions { totalCount } }", key=new)
    # seed 003's account route rotates the caller's own key too
    resp = await secured.client.post("/agent-analytics/account/revoke-key", headers={"X-API-Key": new})
    newest = (await resp.json())["api_key"]
    assert (await secured.client.get("/api/sessions", headers={"Authorization": f"Bearer {new}"})).status == 401
    assert (await secured.client.get("/api/sessions", headers={"Authorization": f"Bearer {newest}"})).status == 200


async def test_project_management(secured: Api) -> None:
    project_id, key, _ = await new_project(secured, "managed", ["https://app.example.com"])
    dup = await gql(secured, CREATE, {"name": "managed"}, key=ADMIN)
    assert dup["errors"][0]["extensions"]["code"] == "CONFLICT"
    updated = await gql(secured, """mutation($id: ID!) { updateProject(id: $id, name: "renamed",
        allowedOrigins: ["https://x.example"]) { name allowedOrigins } }""", {"id": project_id}, key=key)
    assert updated["data"]["updateProject"] == {"name": "renamed", "allowedOrigins": ["https://x.example"]}
    listing = await gql(secured, "{ projects { totalCount nodes { name } } }", key=ADMIN)
    assert {p["name"] for p in listing["data"]["projects"]["nodes"]} == {"default", "renamed"}
    own = await gql(secured, "{ projects { totalCount nodes { name } } }", key=key)
    assert own["data"]["projects"] == {"totalCount": 1, "nodes": [{"name": "renamed"}]}
    forbidden = await gql(secured, "mutation($id: ID!) { deleteProject(id: $id) }", {"id": project_id}, key=key)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # seed 003's REST projects: existing names answer 200 with existing: true
    resp = await secured.client.post("/agent-analytics/projects", json={"name": "renamed"},
                                     headers={"X-API-Key": ADMIN})
    assert resp.status == 200 and (await resp.json())["existing"] is True
    resp = await secured.client.post("/agent-analytics/projects", json={"name": "fresh"},
                                     headers={"X-API-Key": ADMIN})
    created = await resp.json()
    assert resp.status == 201 and created["api_key"].startswith("lg_") and created["project_token"]
    resp = await secured.client.delete(f"/agent-analytics/projects/{created['id']}", headers={"X-API-Key": ADMIN})
    assert (await resp.json())["deleted"] is True
    resp = await secured.client.get("/api/sessions", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert resp.status == 401  # a deleted project's keys die with it


async def test_tenants_never_see_each_other(secured: Api) -> None:
    _, key_a, _ = await new_project(secured, "tenant-a")
    _, key_b, _ = await new_project(secured, "tenant-b")
    auth_a, auth_b = {"Authorization": f"Bearer {key_a}"}, {"Authorization": f"Bearer {key_b}"}
    c = secured.client

    ws_b = await GqlWs.connect_with(secured, {"Authorization": f"Bearer {key_b}"})
    await ws_b.subscribe("b", "subscription { eventAdded { sessionId payload } }")
    await subscribed(secured, 1)
    sse_b = await c.get("/stream", headers={"X-API-Key": key_b})

    resp = await c.post("/api/events", headers=auth_a, json={"events": [
        typed("session_started", {"agentName": "A"}, session="shared-id"),
        typed("custom", {"type": "secret", "data": "a-only"}, session="shared-id")]})
    assert resp.status == 201
    event_a = (await resp.json())["events"][0]["id"]
    resp = await c.post("/api/events", headers=auth_b,
                        json={"events": [typed("custom", {"type": "b", "data": "b-only"}, session="shared-id")]})
    assert resp.status == 201

    # B sees only its own event, live and stored, though both used session id "shared-id"
    (only,) = await ws_b.collect(1)
    assert only["data"]["eventAdded"]["payload"]["data"] == "b-only"
    message = await Sse(sse_b).message()
    while "data" not in message:
        message = await Sse(sse_b).message()
    assert orjson.loads(message["data"])["payload"]["data"] == "b-only"
    sse_b.close()

    assert (await (await c.get(f"/api/events/{event_a}", headers=auth_b)).json())["error"]
    assert (await c.get(f"/api/events/{event_a}", headers=auth_b)).status == 404
    session_b = await (await c.get("/api/sessions/shared-id", headers=auth_b)).json()
    assert (session_b["eventCount"], session_b["agentName"]) == (1, None)
    assert (await (await c.get("/api/events", headers=auth_b)).json())["total"] == 1
    assert (await (await c.get("/api/sessions?agentId=agent-1", headers=auth_b)).json())["total"] == 1
    assert (await (await c.get("/events", headers={"X-API-Key": key_b})).json()) is not None
    timeline = await (await c.get("/api/sessions/shared-id/timeline", headers=auth_b)).json()
    assert [e["payload"]["data"] for e in timeline["events"]] == ["b-only"]
    data = (await gql(secured, f'{{ event(id: "{event_a}") {{ id }} events {{ totalCount }} '
                               'session(id: "shared-id") { eventCount } agents { totalCount } }', key=key_b))["data"]
    assert data == {"event": None, "events": {"totalCount": 1}, "session": {"eventCount": 1},
                    "agents": {"totalCount": 1}}
    found = await gql(secured, '{ events(filter: {search: "a-only"}) { totalCount } }', key=key_b)
    assert found["data"]["events"]["totalCount"] == 0
    other = await gql(secured, "query($id: ID!) { project(id: $id) { name } }",
                      {"id": (await gql(secured, "{ projects { nodes { id } } }", key=key_a))
                       ["data"]["projects"]["nodes"][0]["id"]}, key=key_b)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    await ws_b.ws.close()


async def test_websocket_needs_a_key_in_connection_init(secured: Api) -> None:
    ws = await secured.client.ws_connect("/graphql", protocols=["graphql-transport-ws"])
    await ws.send_str(orjson.dumps({"type": "connection_init", "payload": {"apiKey": "wrong"}}).decode())
    msg = await ws.receive(timeout=5)
    assert msg.type.name in ("CLOSE", "CLOSED", "CLOSING")
    assert ws.close_code == 4403
    ok = await GqlWs.connect_with(secured, {"X-API-Key": ADMIN})
    await ok.ws.close()


async def test_rate_limits_use_the_seed_windows_and_headers(make_api) -> None:
    api = await make_api(rate_limits=True, rate_limit_per_minute=5)
    for i in range(60):
        resp = await api.client.get("/sessions")
        assert resp.status == 200, i
    assert resp.headers["RateLimit-Limit"] == "120"
    for _ in range(60):
        resp = await api.client.get("/sessions")
    assert resp.status == 200 and resp.headers["RateLimit-Remaining"] == "0"
    resp = await api.client.get("/sessions")
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert "error" in await resp.json()
    assert (await api.client.get("/health")).status == 200  # not limited

    for _ in range(5):
        resp = await api.client.get("/api/events")
        assert resp.status == 200
    assert (resp.headers["X-RateLimit-Limit"], resp.headers["X-RateLimit-Remaining"]) == ("5", "0")
    resp = await api.client.get("/api/events")
    assert resp.status == 429 and "X-RateLimit-Reset" in resp.headers


async def test_cors(make_api) -> None:
    api = await make_api(cors_origins="https://app.example.com")
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,authorization"}
    resp = await api.client.options("/api/events", headers=preflight)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    resp = await api.client.get("/api/events", headers={"Origin": "https://app.example.com"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    resp = await api.client.get("/api/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await api.client.options("/graphql", headers={**preflight, "Origin": "https://evil.example"})
    assert resp.status == 403


async def test_tracker_tokens_respect_allowed_origins(secured: Api) -> None:
    _, key, token = await new_project(secured, "site", ["https://shop.example"])
    event = {"event": "page_view", "properties": {"path": "/cart"}, "user_id": "u1", "session_id": "v1"}
    c = secured.client
    resp = await c.post(f"/agent-analytics/track?token={token}", json=event, headers={"Origin": "https://shop.example"})
    assert (resp.status, await resp.json()) == (202, {"queued": True})
    resp = await c.post(f"/agent-analytics/track?token={token}", json=event, headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    resp = await c.post("/agent-analytics/track/batch", json={"token": token, "events": [event, event]},
                        headers={"Origin": "https://shop.example"})
    assert resp.status == 202 and (await resp.json())["count"] == 2
    # With allowed origins set, a request without an Origin header is refused (browsers always send one).
    resp = await c.post(f"/agent-analytics/track?token={token}", json=event)
    assert resp.status == 403 and "no Origin header" in (await resp.json())["error"]
    resp = await c.post("/agent-analytics/track?token=lgt_wrong", json=event)
    assert resp.status == 401
    resp = await c.post(f"/agent-analytics/track?token={token}", json={"properties": {}},
                        headers={"Origin": "https://shop.example"})
    assert resp.status == 400 and (await resp.json())["field"] == "event"
    # a tracker token is for sending only
    assert (await c.get(f"/agent-analytics/projects?token={token}")).status == 401
    stored = await c.get("/api/events", headers={"Authorization": f"Bearer {key}"})
    assert (await stored.json())["total"] == 3


async def test_idempotent_retries(make_api) -> None:
    api = await make_api(idempotency_window_hours=1 / 3600)  # one second
    body = {"events": [typed("custom", VALID["custom"])]}
    first = await api.client.post("/api/events", json=body, headers={"Idempotency-Key": "k1"})
    again = await api.client.post("/api/events", json=body, headers={"Idempotency-Key": "k1"})
    assert (first.status, again.status) == (201, 201)
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await api.get("/api/events"))["total"] == 1

    other = await api.client.post("/api/events", json={"events": [typed("custom", {"type": "x", "data": 1})]},
                                  headers={"Idempotency-Key": "k1"})
    assert other.status == 409
    assert (await api.get("/api/events"))["total"] == 1

    burst = await asyncio.gather(*(api.client.post("/events", json={"events": [{"session_id": "s"}]},
                                                   headers={"Idempotency-Key": "k2"}) for _ in range(8)))
    assert {r.status for r in burst} == {200}
    assert (await api.get("/api/events"))["total"] == 2

    rejected = await api.client.post("/api/events", json={"events": []}, headers={"Idempotency-Key": "k3"})
    assert rejected.status == 400
    fixed = await api.client.post("/api/events", json=body, headers={"Idempotency-Key": "k3"})
    assert fixed.status == 201  # errors are not remembered: a corrected retry goes through

    await asyncio.sleep(1.2)
    expired = await api.client.post("/api/events", json=body, headers={"Idempotency-Key": "k1"})
    assert expired.status == 201 and "Idempotent-Replayed" not in expired.headers
    assert (await api.get("/api/events"))["total"] == 4
    bad = await api.client.post("/api/events", json=body, headers={"Idempotency-Key": "x" * 300})
    assert bad.status == 400 and (await bad.json())["details"][0]["path"] == "Idempotency-Key"


async def test_ingest_mutation_honours_idempotency_keys(api: Api) -> None:
    mutation = """mutation($events: [EventInput!]!) { ingestEvents(events: $events) {
        ... on IngestSuccess { ingested events { id hash } } } }"""
    variables = {"events": [typed("custom", VALID["custom"]), typed("custom", {"type": "x", "data": 2})]}
    answers = []
    for _ in range(2):
        resp = await api.client.post("/graphql", json={"query": mutation, "variables": variables},
                                     headers={"Idempotency-Key": "gql-1"})
        answers.append((await resp.json())["data"]["ingestEvents"])
    assert answers[0] == answers[1] and answers[0]["ingested"] == 2
    assert (await api.get("/api/events"))["total"] == 2
    changed = {"query": mutation, "variables": {"events": variables["events"][:1]}}
    other = await api.client.post("/graphql", json=changed, headers={"Idempotency-Key": "gql-1"})
    assert (await other.json())["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert (await api.get("/api/events"))["total"] == 2


async def test_a_tracker_token_cannot_write_into_an_agent_trace(secured: Api) -> None:
    _, key, token = await new_project(secured, "web+agents")
    c, auth = secured.client, {"Authorization": f"Bearer {key}"}
    agent_events = [typed("session_started", VALID["session_started"], session="trace-1"),
                    typed("custom", VALID["custom"], session="trace-1")]
    assert (await c.post("/api/events", json={"events": agent_events}, headers=auth)).status == 201
    before = await (await c.get("/api/sessions/trace-1/timeline", headers=auth)).json()

    forged = {"event": "tool_call", "properties": {"toolName": "x"}, "session_id": "trace-1"}
    resp = await c.post(f"/agent-analytics/track?token={token}", json=forged)
    assert resp.status == 403 and "agent trace" in (await resp.json())["error"]
    resp = await c.post("/agent-analytics/track/batch", json={"token": token, "events": [
        {"event": "page_view", "session_id": "visitor-1"}, forged]})
    assert resp.status == 403  # the whole batch, the visitor's event included

    after = await (await c.get("/api/sessions/trace-1/timeline", headers=auth)).json()
    assert after == before and after["chainValid"] is True
    assert (await (await c.get("/api/sessions/visitor-1", headers=auth)).json()).get("id") is None
    # Its own visitors' sessions are the tracker's to write.
    resp = await c.post(f"/agent-analytics/track?token={token}", json={"event": "signup", "session_id": "visitor-2"})
    assert resp.status == 202
    resp = await c.post(f"/agent-analytics/track?token={token}", json={"event": "upgrade", "session_id": "visitor-2"})
    assert resp.status == 202
    visitor = await (await c.get("/api/sessions/visitor-2", headers=auth)).json()
    assert visitor["eventCount"] == 2
