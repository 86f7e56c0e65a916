"""Experiments in GraphQL over real HTTP: mutations, results from tracked events (the same as REST's), bad input,
and scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resolvers.experiments.assignment import assign
from tests.conftest import Api, ApiFactory
from tests.graph.test_experiments import PREFIX, call, track

CREATE = """mutation($input: CreateExperimentInput!) { createExperiment(input: $input) {
  id projectId name description status goalEvent winner variants { key weight } } }"""
RESULTS = """{ key isControl weight exposedUsers convertingUsers conversionRate conversionRateInterval { low high }
  absoluteLift absoluteLiftInterval { low high } relativeLift relativeLiftInterval { low high } fixedHorizonPValue
  alwaysValidPValue significant probabilityToBeatControl probabilityBest }"""
READ = f"""query($id: ID!) {{ experiment(id: $id) {{ name status results {{ control alpha sufficientData
  recommendation significanceMethod sampleRatio {{ chiSquare degreesOfFreedom pValue mismatch }}
  variants {RESULTS} }} }} }}"""


async def create(api: Api, **fields: Any) -> dict:
    data = await api.data(CREATE, {"input": {"name": "cta", "variants": ["control", "green"], "goalEvent": "signup",
                                             **fields}})
    return data["createExperiment"]


async def send_traffic(api: Api, users: int) -> dict[str, list[int]]:
    """Exposures for `users` users by the assignment rule, control converting 1 in 5 and green 1 in 3, plus a
    repeated exposure and a goal before exposure that must not count. Returns variant -> [exposed, converted]."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    expected = {"control": [0, 0], "green": [0, 0]}
    events: list[dict] = []
    for i in range(users):
        user, at = f"u{i}", int((start + timedelta(seconds=i)).timestamp() * 1000)
        variant = assign("cta", user, [("control", 50), ("green", 50)])
        events.append({"event": "$experiment_exposure", "user_id": user, "timestamp": at,
                       "properties": {"experiment": "cta", "variant": variant}})
        expected[variant][0] += 1
        if i % (5 if variant == "control" else 3) == 0:
            events.append({"event": "signup", "user_id": user, "timestamp": at + 1000})
            expected[variant][1] += 1
    late = int((start + timedelta(hours=1)).timestamp() * 1000)
    events.append({"event": "$experiment_exposure", "user_id": "u1", "timestamp": late,
                   "properties": {"experiment": "cta", "variant": "green"}})
    events.append({"event": "signup", "user_id": "early", "timestamp": late - 5000})
    events.append({"event": "$experiment_exposure", "user_id": "early", "timestamp": late,
                   "properties": {"experiment": "cta", "variant": "control"}})
    expected["control"][0] += 1
    for at in range(0, len(events), 100):
        await track(api, events[at:at + 100])
    return expected


async def test_create_then_results_match_the_counts_and_rest(api: Api) -> None:
    made = await create(api, weights=[50, 50], description="button colour")
    assert {k: v for k, v in made.items() if k != "id"} == {
        "projectId": "default", "name": "cta", "description": "button colour", "status": "ACTIVE",
        "goalEvent": "signup", "winner": None, "variants": [{"key": "control", "weight": 50},
                                                           {"key": "green", "weight": 50}],
    }
    expected = await send_traffic(api, 300)
    results = (await api.data(READ, {"id": made["id"]}))["experiment"]["results"]
    by_key = {v["key"]: v for v in results["variants"]}
    assert {k: [v["exposedUsers"], v["convertingUsers"]] for k, v in by_key.items()} == expected
    assert results["control"] == "control" and results["alpha"] == 0.05
    assert results["sufficientData"] is True and results["sampleRatio"]["degreesOfFreedom"] == 1
    assert by_key["control"]["isControl"] and by_key["control"]["alwaysValidPValue"] is None

    # REST reports the very same numbers.
    rest = (await call(api, "GET", f"/{made['id']}"))["results"]
    for v in rest["variants"]:
        gql = by_key[v["key"]]
        assert (gql["exposedUsers"], gql["convertingUsers"], gql["weight"]) == (
            v["unique_users"], v["conversions"], v["weight"])
        assert gql["conversionRate"] == v["conversion_rate"]
        assert gql["conversionRateInterval"] == v["conversion_rate_interval"]
        assert gql["absoluteLift"] == v["absolute_lift"] and gql["relativeLift"] == v["relative_lift"]
        assert gql["absoluteLiftInterval"] == v["absolute_lift_interval"]
        assert gql["relativeLiftInterval"] == v["relative_lift_interval"]
        assert gql["alwaysValidPValue"] == v["p_value"]
        assert gql["fixedHorizonPValue"] == v["fixed_horizon_p_value"]
        assert gql["significant"] == v["significant"]
        assert gql["probabilityToBeatControl"] == v["probability_to_beat_control"]
        assert gql["probabilityBest"] == rest["probability_best"][v["key"]]
    assert results["sampleRatio"]["pValue"] == rest["sample_ratio"]["p_value"]
    assert results["sampleRatio"]["mismatch"] is rest["sample_ratio"]["mismatch"] is False
    assert (results["recommendation"], results["significanceMethod"]) == (
        rest["recommendation"], rest["significance_method"])

    # From the project, by name, with the same counts.
    data = await api.data("""{ project(id: "default") { experiment(name: "cta") { id results { variants {
        key exposedUsers convertingUsers } } } missing: experiment(name: "nope") { id } } }""")
    found = data["project"]["experiment"]
    assert found["id"] == made["id"] and data["project"]["missing"] is None
    assert {v["key"]: [v["exposedUsers"], v["convertingUsers"]] for v in found["results"]["variants"]} == expected


async def test_list_filter_update_and_delete(api: Api) -> None:
    first = await create(api)
    second = await create(api, name="three", variants=["a", "b", "c"])
    assert [v["weight"] for v in second["variants"]] == [34, 33, 33]
    update = """mutation($id: ID!, $status: ExperimentStatus!, $winner: String) {
      updateExperiment(id: $id, status: $status, winner: $winner) { status winner } }"""
    done = await api.data(update, {"id": first["id"], "status": "COMPLETED", "winner": "green"})
    assert done["updateExperiment"] == {"status": "COMPLETED", "winner": "green"}
    listed = await api.data("""{ all: experiments { name } active: experiments(status: ACTIVE) { name }
      project(id: "default") { experiments(status: COMPLETED) { name winner } } }""")
    assert [e["name"] for e in listed["all"]] == ["three", "cta"]
    assert [e["name"] for e in listed["active"]] == ["three"]
    assert listed["project"]["experiments"] == [{"name": "cta", "winner": "green"}]

    reopen = await api.gql(update, {"id": first["id"], "status": "ACTIVE"})
    (error,) = reopen["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["problems"] == [
        {"path": "status", "message": "a completed experiment cannot become active"}]

    deleted = await api.data("""mutation($id: ID!) { deleteExperiment(id: $id) }""", {"id": first["id"]})
    assert deleted == {"deleteExperiment": True}
    gone = await api.gql("""query($id: ID!) { experiment(id: $id) { id } }""", {"id": first["id"]})
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert [e["name"] for e in (await api.data("{ experiments { name } }"))["experiments"]] == ["three"]


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"variants": ["only"]}, "input.variants", "a list of 2 to 10 variant names"),
        ({"variants": ["a", "a"]}, "input.variants", "variant names must differ"),
        ({"variants": ["a", " "]}, "input.variants[1]", "a non-empty string of at most 100 characters"),
        ({"weights": [50, 40]}, "input.weights", "weights sum to 100, not 90"),
        ({"weights": [100]}, "input.weights", "one weight per variant"),
        ({"goalEvent": "$experiment_exposure"}, "input.goalEvent",
         "the goal is a product event, not an experiment's own event"),
        ({"goalEvent": ""}, "input.goalEvent", "a non-empty string of at most 100 characters"),
        ({"name": ""}, "input.name", "a non-empty string of at most 100 characters"),
    ],
)
async def test_bad_definitions_name_the_input_field(api: Api, fields: dict, path: str, message: str) -> None:
    body = await api.gql(CREATE, {"input": {"name": "cta", "variants": ["control", "green"], "goalEvent": "signup",
                                            **fields}})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["problems"] == [{"path": path, "message": message}]
    assert error["message"] == f"{path}: {message}"
    # REST says the same of the same body.
    rest_body = {"project": "default", "name": "cta", "variants": ["control", "green"], "goal_event": "signup",
                 **{("goal_event" if k == "goalEvent" else k): v for k, v in fields.items()}}
    refused = await call(api, "POST", "", rest_body, 400)
    assert message in refused["error"]
    assert (await api.data("{ experiments { id } }"))["experiments"] == []


async def test_winner_must_be_a_variant(api: Api) -> None:
    made = await create(api)
    body = await api.gql("""mutation($id: ID!) { updateExperiment(id: $id, status: PAUSED, winner: "green") { id } }""",
                         {"id": made["id"]})
    assert body["errors"][0]["extensions"]["problems"] == [
        {"path": "winner", "message": "only a completed experiment has a winner"}]


async def test_another_projects_experiment_is_invisible(make_api: ApiFactory) -> None:
    api = await make_api(api_key="admin-key-0123456789")
    admin = {"X-API-Key": "admin-key-0123456789"}
    resp = await api.client.post("/agent-analytics/projects", json={"name": "other"}, headers=admin)
    theirs = {"X-API-Key": (await resp.json())["api_key"]}
    made = await api.gql(CREATE, {"input": {"name": "cta", "variants": ["a", "b"], "goalEvent": "signup"}}, admin)
    experiment_id = made["data"]["createExperiment"]["id"]

    read = await api.gql("""query($id: ID!) { experiment(id: $id) { id } }""", {"id": experiment_id}, theirs)
    assert read["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    named = await api.gql("""query($id: ID!) { experiment(id: $id, project: "default") { id } }""",
                          {"id": experiment_id}, theirs)
    assert named["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # the project itself is not theirs
    deleted = await api.gql("""mutation($id: ID!) { deleteExperiment(id: $id) }""", {"id": experiment_id}, theirs)
    assert deleted["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    listed = await api.gql("""{ experiments { id } projects { edges { node { name experiments { id }
      experiment(name: "cta") { id } } } } }""", headers=theirs)
    assert listed["data"]["experiments"] == []
    assert listed["data"]["projects"]["edges"] == [{"node": {"name": "other", "experiments": [], "experiment": None}}]
    # Still there for its own project, and the same name is free in the other one.
    mine = await api.gql("""query($id: ID!) { experiment(id: $id) { name } }""", {"id": experiment_id}, admin)
    assert mine["data"] == {"experiment": {"name": "cta"}}
    again = await api.gql(CREATE, {"input": {"name": "cta", "variants": ["a", "b"], "goalEvent": "x"}}, theirs)
    assert again["data"]["createExperiment"]["projectId"] != "default"
    assert (await api.client.get(f"{PREFIX}/{experiment_id}", headers=theirs)).status == 404
