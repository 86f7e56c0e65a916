"""Seed 003's experiments over real HTTP: definitions, the tracker config, and results from tracked events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resolvers.experiments.assignment import assign
from resolvers.experiments.stats import VariantCounts, analyze
from tests.conftest import Api

PREFIX = "/agent-analytics/experiments"


async def call(api: Api, method: str, path: str, body: Any = None, expect: int = 200, **params: str) -> Any:
    resp = await api.client.request(method, f"{PREFIX}{path}", json=body, params=params)
    answer = await resp.json()
    assert resp.status == expect, answer
    return answer


async def create(api: Api, expect: int = 201, **body: Any) -> Any:
    return await call(api, "POST", "", {"project": "default", "name": "cta", "variants": ["control", "green"],
                                        "goal_event": "signup", **body}, expect)


async def track(api: Api, events: list[dict]) -> None:
    resp = await api.client.post("/agent-analytics/track/batch", json={"events": events})
    assert resp.status == 202, await resp.text()


async def test_create_list_config_and_name_conflicts(api: Api) -> None:
    made = await create(api, weights=[60, 40], description="button colour")
    assert made["variants"] == [{"key": "control", "weight": 60}, {"key": "green", "weight": 40}]
    assert (made["status"], made["winner"], made["goal_event"]) == ("active", None, "signup")
    even = await create(api, name="three", variants=["a", "b", "c"])
    assert [v["weight"] for v in even["variants"]] == [34, 33, 33]
    listed = await call(api, "GET", "", project="default")
    assert [e["name"] for e in listed["experiments"]] == ["three", "cta"]
    clash = await create(api, expect=409)
    assert "cta" in clash["error"]
    token = (await (await api.client.get("/agent-analytics/projects/default")).json())["project_token"]
    config = await call(api, "GET", "/config", token=token)
    assert config["experiments"] == [
        {"key": "three", "variants": [{"key": "a", "weight": 34}, {"key": "b", "weight": 33},
                                      {"key": "c", "weight": 33}]},
        {"key": "cta", "variants": [{"key": "control", "weight": 60}, {"key": "green", "weight": 40}]},
    ]
    await call(api, "PATCH", f"/{even['id']}", {"status": "paused"})
    assert [e["key"] for e in (await call(api, "GET", "/config", token=token))["experiments"]] == ["cta"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variants": ["only"]}, "variants"),
        ({"variants": ["a", "a"]}, "variants"),
        ({"variants": "a,b"}, "variants"),
        ({"weights": [50, 40]}, "weights"),
        ({"weights": [100]}, "weights"),
        ({"goal_event": "$experiment_exposure"}, "goal_event"),
        ({"goal_event": ""}, "goal_event"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_definitions_are_refused_and_nothing_is_stored(api: Api, body: dict, field: str) -> None:
    refused = await create(api, expect=400, **body)
    assert refused["field"] == field
    assert (await call(api, "GET", "", project="default"))["experiments"] == []


async def test_status_changes_and_winner(api: Api) -> None:
    made = await create(api)
    path = f"/{made['id']}"
    assert (await call(api, "PATCH", path, {"status": "bogus"}, 400))["field"] == "status"
    assert (await call(api, "PATCH", path, {}, 400))["field"] == "status"
    assert (await call(api, "PATCH", path, {"status": "paused", "winner": "green"}, 400))["field"] == "winner"
    assert (await call(api, "PATCH", path, {"status": "completed", "winner": "blue"}, 400))["field"] == "winner"
    done = await call(api, "PATCH", path, {"status": "completed"})
    assert (done["status"], done["winner"]) == ("completed", None)  # completed without a winner: allowed
    again = await call(api, "PATCH", path, {"status": "active"}, 400)
    assert again["field"] == "status"
    assert (await call(api, "DELETE", path)) == {"deleted": True, "id": made["id"]}
    await call(api, "GET", path, expect=404)


async def test_results_count_first_exposures_and_later_conversions(api: Api) -> None:
    made = await create(api)
    now = datetime.now(UTC) - timedelta(minutes=30)
    variants = [("control", 50), ("green", 50)]
    events: list[dict] = []
    expected = {"control": [0, 0], "green": [0, 0]}
    for i in range(200):
        user = f"u{i}"
        variant = assign("cta", user, variants)
        at = now + timedelta(seconds=i)
        events.append({"event": "$experiment_exposure", "user_id": user, "session_id": f"s{i}",
                       "timestamp": int(at.timestamp() * 1000),
                       "properties": {"experiment": "cta", "variant": variant}})
        expected[variant][0] += 1
        converts = (i % 5 == 0) if variant == "control" else (i % 3 == 0)
        if converts:
            events.append({"event": "signup", "user_id": user, "session_id": f"s{i}",
                           "timestamp": int((at + timedelta(seconds=1)).timestamp() * 1000)})
            expected[variant][1] += 1
    # Noise the counts must ignore: a second exposure with another variant, a signup before exposure,
    # and another experiment's exposure.
    events.append({"event": "$experiment_exposure", "user_id": "u0", "session_id": "s0",
                   "timestamp": int((now + timedelta(minutes=10)).timestamp() * 1000),
                   "properties": {"experiment": "cta", "variant": "green" if assign("cta", "u0", variants) == "control"
                                  else "control"}})
    events.append({"event": "signup", "user_id": "late", "session_id": "x",
                   "timestamp": int((now - timedelta(minutes=1)).timestamp() * 1000)})
    events.append({"event": "$experiment_exposure", "user_id": "late", "session_id": "x",
                   "timestamp": int(now.timestamp() * 1000), "properties": {"experiment": "cta", "variant": "green"}})
    events.append({"event": "$experiment_exposure", "user_id": "other", "session_id": "y",
                   "timestamp": int(now.timestamp() * 1000), "properties": {"experiment": "else", "variant": "green"}})
    expected["green"][0] += 1  # "late" was exposed (and converted only before)
    for start in range(0, len(events), 100):
        await track(api, events[start:start + 100])

    found = await call(api, "GET", f"/{made['id']}")
    results = found["results"]
    by_key = {v["key"]: v for v in results["variants"]}
    for key, (exposed, converted) in expected.items():
        assert (by_key[key]["unique_users"], by_key[key]["conversions"]) == (exposed, converted), key
    # The statistics are the stats module's on those counts (cross-checked against scipy/statsmodels there).
    stats = analyze([VariantCounts(k, *expected[k], 50.0) for k in ("control", "green")], "control")
    green = stats.variants[1]
    assert by_key["green"]["p_value"] == green.comparison.always_valid_p_value
    assert by_key["green"]["fixed_horizon_p_value"] == green.comparison.fixed_horizon_p_value
    assert by_key["green"]["conversion_rate"] == green.conversion_rate
    assert results["probability_best"]["green"] == pytest.approx(1 - results["probability_best"]["control"])
    assert results["sample_ratio"]["mismatch"] is False
    assert results["significance_method"].startswith("mSPRT always-valid")
    assert by_key["control"]["is_control"] and by_key["control"]["p_value"] is None


async def test_experiments_are_scoped_to_their_project(make_api: Any) -> None:
    api = await make_api(api_key="admin-key-0123456789")
    admin = {"X-API-Key": "admin-key-0123456789"}
    resp = await api.client.post("/agent-analytics/projects", json={"name": "other"}, headers=admin)
    other_key = (await resp.json())["api_key"]
    resp = await api.client.post(PREFIX, json={"project": "default", "name": "cta", "variants": ["a", "b"],
                                               "goal_event": "signup"}, headers=admin)
    made = await resp.json()
    assert resp.status == 201, made
    theirs = {"X-API-Key": other_key}
    assert (await api.client.get(f"{PREFIX}/{made['id']}", headers=theirs)).status == 404
    assert (await api.client.delete(f"{PREFIX}/{made['id']}", headers=theirs)).status == 404
    listed = await (await api.client.get(PREFIX, headers=theirs)).json()
    assert listed["experiments"] == []
    # The same name in another project is no collision.
    resp = await api.client.post(PREFIX, json={"name": "cta", "variants": ["a", "b"], "goal_event": "x"},
                                 headers=theirs)
    assert resp.status == 201, await resp.text()


async def test_config_refuses_bad_tokens_and_disallowed_origins(make_api: Any) -> None:
    api = await make_api(api_key="admin-key-0123456789")
    admin = {"X-API-Key": "admin-key-0123456789"}
    resp = await api.client.post("/agent-analytics/projects", json={
        "name": "shop", "allowed_origins": ["https://shop.example"]}, headers=admin)
    token = (await resp.json())["project_token"]
    resp = await api.client.post(PREFIX, json={"project": "shop", "name": "cta", "variants": ["a", "b"],
                                               "goal_event": "signup"}, headers=admin)
    assert resp.status == 201, await resp.text()

    async def config(token: str, origin: str | None) -> tuple[int, Any]:
        headers = {"Origin": origin} if origin else {}
        resp = await api.client.get(f"{PREFIX}/config", params={"token": token}, headers=headers)
        return resp.status, await resp.json()

    status, body = await config(token, "https://shop.example")
    assert (status, [e["key"] for e in body["experiments"]]) == (200, ["cta"])
    status, body = await config(token, "https://evil.example")
    assert status == 403 and "origin" in body["error"].lower(), body
    status, body = await config("aat_not-a-real-token", "https://shop.example")
    assert status == 401 and "experiments" not in body, body
    status, body = await config("", None)  # no token and no key: who is asking is unknown
    assert status == 401, body
