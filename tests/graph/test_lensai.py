"""Seed 000 (LensAI) under /v1 over real HTTP: every route, its errors in the seed's shape, auth, pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Api, typed
from tests.graph.test_accounts import call as agent_analytics_call
from tests.graph.test_accounts import new_account
from tests.graph.test_security import ADMIN, new_project

REVENUE_FIELDS = {"agentId", "amount", "createdAt", "customerId", "description", "eventId", "goalId", "id", "key",
                  "recordedAt", "source", "updatedAt"}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
MISSING = "5mczBhCjbBgoWwf6Vbp5sC"


def note(agent: str, session: str = "s1") -> dict:
    return typed("custom", {"type": "note", "data": {}}, agent=agent, session=session)


async def v1(api: Api, method: str, path: str, expect: int, key: str | None = None, **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    resp = await api.client.request(method, "/v1" + path, headers=headers, **kwargs)
    body = await resp.json() if resp.status != 204 else None
    assert resp.status == expect, (method, path, resp.status, body)
    return body


def assert_error(body: dict, status: int, path: str, code: str | None = None) -> None:
    assert set(body) == {"code", "message", "path", "status", "timestamp"}, body
    assert body["status"] == status and body["path"] == path and ISO.fullmatch(body["timestamp"]), body
    if code is not None:
        assert body["code"] == code, body
    assert body["message"]


async def stored(api: Api, kind: str = "revenues", **params: Any) -> int:
    return (await v1(api, "GET", f"/{kind}", 200, params=params))["total"]


async def test_a_revenue_is_created_retrieved_listed_updated_and_deleted(api: Api) -> None:
    await api.post_typed([note("closer")])
    created = await v1(api, "POST", "/revenues", 201, json={"agentId": "closer", "amount": "100"})
    assert set(created) == REVENUE_FIELDS  # exactly the seed's fields
    assert (created["agentId"], created["amount"], created["source"]) == ("closer", "100", "Manual")
    assert (created["customerId"], created["description"], created["eventId"], created["goalId"]) == (None,) * 4
    assert re.fullmatch(r"[2-9A-HJ-NP-Za-km-z]{22}", created["id"])
    assert re.fullmatch(r"[0-9a-f-]{36}", created["key"])
    assert all(ISO.fullmatch(created[f]) for f in ("createdAt", "recordedAt", "updatedAt"))
    rid = created["id"]
    assert await v1(api, "GET", f"/revenues/{rid}", 200) == created
    listed = await v1(api, "GET", "/revenues", 200)
    assert listed == {"data": [created], "total": 1, "limit": 100, "offset": 0}
    changed = await v1(api, "PATCH", f"/revenues/{rid}", 200,
                       json={"amount": "19.990000001", "description": "upsell", "source": "Stripe",
                             "recordedAt": "2026-01-02T03:04:05.678Z"})
    assert (changed["amount"], changed["description"], changed["source"], changed["recordedAt"]) == (
        "19.990000001", "upsell", "Stripe", "2026-01-02T03:04:05.678Z")
    assert changed["createdAt"] == created["createdAt"] and changed["key"] == created["key"]
    assert await v1(api, "GET", f"/revenues/{rid}", 200) == changed
    assert await v1(api, "DELETE", f"/revenues/{rid}", 204) is None
    missing = await v1(api, "GET", f"/revenues/{rid}", 404)
    assert_error(missing, 404, f"GET /v1/revenues/{rid}", "Not Found")
    assert_error(await v1(api, "DELETE", f"/revenues/{rid}", 404), 404, f"DELETE /v1/revenues/{rid}")


async def test_the_largest_amount_is_stored_exactly_and_read_back(api: Api) -> None:
    """A billion units less one nano: the most the 64-bit stores hold with room to spare, to the last digit."""
    await api.post_typed([note("closer")])
    largest = "999999999.999999999"
    created = await v1(api, "POST", "/revenues", 201, json={"agentId": "closer", "amount": largest})
    again = await v1(api, "POST", "/revenues", 201, json={"agentId": "closer", "amount": "1000000000"})
    assert (created["amount"], again["amount"]) == (largest, "1000000000")
    assert (await v1(api, "GET", f"/revenues/{created['id']}", 200))["amount"] == largest
    changed = await v1(api, "PATCH", f"/revenues/{created['id']}", 200, json={"amount": "1000000000"})
    assert changed["amount"] == "1000000000"
    assert await stored(api) == 2


async def test_an_invalid_id_answers_as_the_seed_documents(api: Api) -> None:
    body = await v1(api, "GET", "/revenues/5mczBhCjbBgoWwf6Vbp5s!", 400)
    assert_error(body, 400, "GET /v1/revenues/5mczBhCjbBgoWwf6Vbp5s!", "Invalid ID")
    assert body["message"] == "Invalid ID"
    for method in ("PATCH", "DELETE"):
        kwargs = {"json": {"amount": "1"}} if method == "PATCH" else {}
        assert (await v1(api, method, "/customers/short", 400, **kwargs))["code"] == "Invalid ID"


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "-5"}, "negative"),
    ({"amount": "12abc"}, "decimal"),
    ({"amount": "1e3"}, "plain decimal"),
    ({"amount": 100}, "valid string"),  # a JSON number may be a float: refused
    ({"amount": "0.0000000001"}, "decimal places"),
    ({"amount": "1000000000.000000001"}, "at most 1000000000"),  # past 64 bits of nanos in the stores
    ({"amount": "999999999999.5"}, "at most 1000000000"),
    ({"amount": "1", "currency": "XQQ"}, "ISO 4217"),
    ({"amount": "1", "currency": "dollars"}, "ISO 4217"),
    ({"amount": "1", "planet": "Mars"}, "planet"),
    ({"agentId": "a"}, "amount"),
    ({"amount": "1", "recordedAt": "yesterday"}, "recordedAt"),
    ({"amount": "1", "goalId": "not-an-id!"}, "Invalid ID"),
])
async def test_bad_revenue_input_is_a_400_and_stores_nothing(api: Api, body: dict, field: str) -> None:
    answer = await v1(api, "POST", "/revenues", 400, json=body)
    assert_error(answer, 400, "POST /v1/revenues")
    assert field in answer["message"], answer
    assert await stored(api) == 0


async def test_references_must_name_records_of_the_same_project(make_api) -> None:
    api = await make_api(api_key=ADMIN)
    _, key_a, _ = await new_project(api, "shop-a")
    _, key_b, _ = await new_project(api, "shop-b")
    theirs = await v1(api, "POST", "/customers", 201, key_b, json={"name": "Bob"})
    goal = await v1(api, "POST", "/goals", 201, key_b, json={"name": "Close"})
    for body, what in (({"amount": "1", "customerId": theirs["id"]}, "Customer"),
                       ({"amount": "1", "goalId": goal["id"]}, "Goal"),
                       ({"amount": "1", "agentId": "ghost"}, "Agent"),
                       ({"amount": "1", "eventId": "no-such-event"}, "Event")):
        answer = await v1(api, "POST", "/revenues", 404, key_a, json=body)
        assert_error(answer, 404, "POST /v1/revenues", "Not Found")
        assert answer["message"].startswith(what), answer
    assert await v1(api, "GET", f"/customers/{theirs['id']}", 404, key_a)
    assert (await v1(api, "GET", "/revenues", 200, key_a))["total"] == 0
    assert (await v1(api, "GET", "/customers", 200, key_b))["total"] == 1


async def test_json_only_and_unknown_paths_answer_in_the_seed_shape(make_api) -> None:
    api = await make_api(api_key=ADMIN)
    resp = await api.client.post("/v1/revenues", data="amount=100", headers={
        "Authorization": f"Bearer {ADMIN}", "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    assert_error(await resp.json(), 415, "POST /v1/revenues", "Unsupported Media Type")
    # An unknown path under /v1: this family's Bearer auth and error shape, not seed 002's X-API-Key ones.
    body = await v1(api, "GET", "/nothing-here", 404, ADMIN)
    assert_error(body, 404, "GET /v1/nothing-here", "Not Found")
    unauthenticated = await v1(api, "GET", "/nothing-here", 401, headers={"X-API-Key": ADMIN})
    assert_error(unauthenticated, 401, "GET /v1/nothing-here", "Unauthorized")
    assert_error(await v1(api, "GET", "/revenues", 401, "wrong-key-0123456789"), 401, "GET /v1/revenues")
    assert (await v1(api, "GET", "/revenues", 200, ADMIN))["total"] == 0


async def test_account_keys_manage_their_projects_and_project_keys_only_their_own(make_api) -> None:
    api = await make_api(api_key=ADMIN)
    _, account_key = await new_account(api, "acme")
    _, other_key = await new_account(api, "globex")
    first = await agent_analytics_call(api, "POST", "/projects", account_key, 201, json={"name": "first"})
    second = await agent_analytics_call(api, "POST", "/projects", account_key, 201, json={"name": "second"})
    await agent_analytics_call(api, "POST", "/projects", other_key, 201, json={"name": "elsewhere"})
    # Without ?project= an account key acts on its oldest project.
    made = await v1(api, "POST", "/revenues", 201, account_key, json={"amount": "5"})
    in_second = await v1(api, "POST", "/revenues", 201, account_key, params={"project": "second"},
                         json={"amount": "7"})
    assert [r["id"] for r in (await v1(api, "GET", "/revenues", 200, account_key))["data"]] == [made["id"]]
    assert [r["id"] for r in (await v1(api, "GET", "/revenues", 200, account_key,
                                       params={"project": second["id"]}))["data"]] == [in_second["id"]]
    assert (await v1(api, "GET", "/revenues", 200, first["api_key"]))["data"] == [made]
    # Another account's project is missing to this key; a project key may not name another project.
    assert_error(await v1(api, "GET", "/revenues", 404, account_key, params={"project": "elsewhere"}), 404,
                 "GET /v1/revenues")
    assert_error(await v1(api, "GET", "/revenues", 403, first["api_key"], params={"project": "second"}), 403,
                 "GET /v1/revenues", "Forbidden")
    assert_error(await v1(api, "GET", f"/revenues/{made['id']}", 404, other_key), 404,
                 f"GET /v1/revenues/{made['id']}")


async def test_lists_take_limit_and_offset(api: Api) -> None:
    for i in range(5):
        await v1(api, "POST", "/customers", 201, json={"name": f"c{i}"})
    everything = [c["id"] for c in (await v1(api, "GET", "/customers", 200))["data"]]
    assert len(everything) == 5
    page = await v1(api, "GET", "/customers", 200, params={"limit": "2", "offset": "1"})
    assert ([c["id"] for c in page["data"]], page["total"], page["limit"], page["offset"]) == (
        everything[1:3], 5, 2, 1)
    assert (await v1(api, "GET", "/customers", 200, params={"limit": "5000"}))["limit"] == 1000
    for bad in ({"limit": "0"}, {"limit": "x"}, {"offset": "-1"}):
        assert_error(await v1(api, "GET", "/customers", 400, params=bad), 400, "GET /v1/customers", "Bad Request")


async def test_too_many_requests_is_a_429_in_the_seed_shape(make_api) -> None:
    api = await make_api(rate_limits=True, rate_limit_per_minute=3)
    statuses = []
    for _ in range(4):
        resp = await api.client.get("/v1/revenues")
        statuses.append(resp.status)
        body = await resp.json()
    assert statuses[:3] == [200] * 3 and statuses[3] == 429
    assert_error(body, 429, "GET /v1/revenues", "Too Many Requests")
    assert resp.headers["X-RateLimit-Limit"] == "3" and int(resp.headers["Retry-After"]) >= 1


async def test_an_idempotency_key_creates_once_and_replays_the_first_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.client.post("/v1/revenues", json={"amount": "42.5"}, headers=headers)
    again = await api.client.post("/v1/revenues", json={"amount": "42.5"}, headers=headers)
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    other = await v1(api, "POST", "/revenues", 409, json={"amount": "1"}, headers=headers)
    assert_error(other, 409, "POST /v1/revenues", "Conflict")
    outcome = {"Idempotency-Key": "o-1"}
    made = [await v1(api, "POST", "/outcomes", 201, json={"name": "won"}, headers=outcome) for _ in range(2)]
    assert made[0] == made[1]
    assert await stored(api) == 1 and await stored(api, "outcomes") == 1


async def test_customers_goal_types_goals_and_outcomes(api: Api) -> None:
    await api.post_typed([note("closer")])
    customer = await v1(api, "POST", "/customers", 201,
                        json={"key": "cus_1", "name": "Ada", "email": "ada@example.com", "metadata": {"plan": "pro"}})
    assert (customer["key"], customer["metadata"]) == ("cus_1", {"plan": "pro"})
    sales = await v1(api, "POST", "/goal-types", 201, json={"name": "Sales", "description": "money in"})
    goal = await v1(api, "POST", "/goals", 201, json={"name": "Close", "goalTypeId": sales["id"], "agentId": "closer"})
    assert (goal["goalTypeId"], goal["agentId"], goal["completions"]) == (sales["id"], "closer", 0)
    assert_error(await v1(api, "POST", "/goals", 404, json={"name": "x", "goalTypeId": MISSING}), 404, "POST /v1/goals")
    for value in ("250.50", None):
        outcome = await v1(api, "POST", "/outcomes", 201, json={
            "name": "deal", "goalId": goal["id"], "customerId": customer["id"], "agentId": "closer", "value": value,
            "currency": "eur"})
        assert (outcome["value"], outcome["currency"]) == ("250.5" if value else None, "EUR")
    assert (await v1(api, "GET", f"/goals/{goal['id']}", 200))["completions"] == 2
    assert [g["completions"] for g in (await v1(api, "GET", "/goals", 200))["data"]] == [2]
    by_customer = await v1(api, "GET", "/outcomes", 200, params={"customerId": customer["id"]})
    assert by_customer["total"] == 2
    renamed = await v1(api, "PATCH", f"/goal-types/{sales['id']}", 200, json={"name": "Revenue"})
    assert renamed["name"] == "Revenue"
    assert (await v1(api, "PATCH", f"/customers/{customer['id']}", 200, json={"email": None}))["email"] is None
    assert (await v1(api, "GET", "/customers", 200, params={"key": "cus_1"}))["total"] == 1
    await v1(api, "DELETE", f"/customers/{customer['id']}", 204)
    assert await stored(api, "customers") == 0


async def test_agents_are_listed_and_retrieved(api: Api) -> None:
    await api.post_typed([note("a-1", "s1"),
                          note("a-2", "s2")])
    listed = await v1(api, "GET", "/agents", 200)
    assert {a["id"] for a in listed["data"]} == {"a-1", "a-2"} and listed["total"] == 2
    one = await v1(api, "GET", "/agents/a-1", 200)
    assert set(one) == {"id", "name", "firstSeen", "lastSeen"} and one["id"] == "a-1"
    assert_error(await v1(api, "GET", "/agents/nobody", 404), 404, "GET /v1/agents/nobody", "Not Found")


def cost(agent: str, session: str, usd: float) -> dict:
    return typed("cost_tracked", {"provider": "p", "model": "m", "inputTokens": 1, "outputTokens": 1,
                                  "totalTokens": 2, "costUsd": usd}, agent=agent, session=session)


async def test_revenue_is_attributed_by_dimension_and_set_against_each_agents_cost(api: Api) -> None:
    await api.post_typed([cost("closer", "s1", 0.5), cost("closer", "s2", 1.5), cost("helper", "s3", 2)])
    sales = await v1(api, "POST", "/goal-types", 201, json={"name": "Sales"})
    goal = await v1(api, "POST", "/goals", 201, json={"name": "Close", "goalTypeId": sales["id"]})
    event = (await api.get("/api/events", sessionId="s1"))["events"][0]["id"]
    for body in (
        {"amount": "100.10", "agentId": "closer", "goalId": goal["id"], "eventId": event,
         "recordedAt": "2026-03-30T10:00:00Z"},
        {"amount": "0.20", "agentId": "closer", "recordedAt": "2026-04-02T10:00:00Z", "source": "Stripe"},
        {"amount": "7", "agentId": "closer", "currency": "EUR", "recordedAt": "2026-04-02T11:00:00Z"},
        {"amount": "1", "agentId": "helper", "recordedAt": "2026-04-03T10:00:00Z"},
    ):
        await v1(api, "POST", "/revenues", 201, json=body)

    async def rows(by: str, **params: str) -> list[tuple]:
        body = await v1(api, "GET", "/revenues/attribution", 200, params={"groupBy": by, **params})
        assert body["groupBy"] == by
        return [(r["key"], r["currency"], r["count"], r["amount"]) for r in body["rows"]]

    assert await rows("agent") == [("closer", "EUR", 1, "7"), ("closer", "USD", 2, "100.3"), ("helper", "USD", 1, "1")]
    assert await rows("goalType") == [(None, "EUR", 1, "7"), (None, "USD", 2, "1.2"), (sales["id"], "USD", 1, "100.1")]
    assert await rows("month") == [("2026-03-01", "USD", 1, "100.1"), ("2026-04-01", "EUR", 1, "7"),
                                   ("2026-04-01", "USD", 2, "1.2")]
    assert await rows("week") == [("2026-03-30", "EUR", 1, "7"), ("2026-03-30", "USD", 4 - 1, "101.3")]
    assert await rows("source", currency="USD") == [("Manual", "USD", 2, "101.1"), ("Stripe", "USD", 1, "0.2")]
    assert await rows("session") == [(None, "EUR", 1, "7"), (None, "USD", 2, "1.2"), ("s1", "USD", 1, "100.1")]
    assert await rows("agent", **{"from": "2026-04-01T00:00:00Z", "to": "2026-04-03T00:00:00Z"}) == [
        ("closer", "EUR", 1, "7"), ("closer", "USD", 1, "0.2")]

    closer = await v1(api, "GET", "/agents/closer/roi", 200, params={"from": "2026-01-01T00:00:00Z"})
    # USD only: 100.30 earned against 2.00 of LLM cost; the EUR revenue is never added to dollars.
    assert closer == {"agentId": "closer", "currency": "USD", "revenue": "100.3", "cost": "2", "net": "98.3",
                      "roi": "49.15"}
    helper = await v1(api, "GET", "/agents/helper/roi", 200, params={"from": "2026-01-01T00:00:00Z"})
    assert (helper["net"], helper["roi"]) == ("-1", "-0.5")
