"""Anomalies and rules in GraphQL: the same service as the LENS REST routes, with GraphQL's error codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storage.models.anomalies import AnomalyStatus, Severity
from tests.conftest import Api, typed
from tests.graph.test_lens_api import P, anomaly, plant
from tests.graph.test_security import ADMIN, new_project

ANOMALIES = """query($filter: AnomalyFilter, $first: Int!, $offset: Int!) {
  anomalies(filter: $filter, first: $first, offset: $offset) {
    totalCount hasNextPage
    nodes { id ruleId severity status metric { name changePercentage timeSeries { date value } }
            segments { dimension value current baseline change } aiAnalysis recommendedActions }
  }
}"""
ACK = """mutation($id: ID!, $note: String) {
  acknowledgeAnomaly(id: $id, note: $note) { id status acknowledgeNote acknowledgedBy } }"""
DISMISS = """mutation($id: ID!, $reason: DismissReason!, $note: String) {
  dismissAnomaly(id: $id, reason: $reason, note: $note) { id status dismissReason dismissNote dismissedBy } }"""
CREATE = """mutation($input: CreateAnomalyRuleInput!) {
  createAnomalyRule(input: $input) { id name type enabled metricType event threshold { direction percentage }
                                     alert { severity cooldownHours channels } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateAnomalyRuleInput!) {
  updateAnomalyRule(id: $id, input: $input) { id enabled threshold { direction percentage minVolume } } }"""


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_anomalies_are_queried_with_filters_and_pages(api: Api) -> None:
    first, second, low = await plant(api, anomaly(hours_ago=1), anomaly(hours_ago=2),
                                     anomaly(rule_id="traffic_drop", hours_ago=3, severity=Severity.LOW))
    page = (await api.data(ANOMALIES, {"first": 2, "offset": 0}))["anomalies"]
    assert (page["totalCount"], page["hasNextPage"], [n["id"] for n in page["nodes"]]) == (3, True,
                                                                                          [first.id, second.id])
    node = page["nodes"][0]
    assert (node["ruleId"], node["severity"], node["status"]) == ("conversion_rate_drop", "CRITICAL", "OPEN")
    assert node["metric"] == {"name": "conversion_rate", "changePercentage": -35.1, "timeSeries": [
        {"date": "2024-01-14", "value": 0.013}, {"date": "2024-01-15", "value": 0.012}]}
    assert node["segments"] == [
        {"dimension": "device", "value": "mobile", "current": 0.008, "baseline": 0.014, "change": -42.0},
        {"dimension": "device", "value": "desktop", "current": 0.015, "baseline": 0.019, "change": -21.0}]
    assert node["recommendedActions"] == ["Investigate mobile page performance"]
    low_only = await api.data(ANOMALIES, {"first": 10, "offset": 0, "filter": {"severity": ["LOW"]}})
    assert [n["id"] for n in low_only["anomalies"]["nodes"]] == [low.id]
    by_rule = await api.data(ANOMALIES, {"first": 10, "offset": 1, "filter": {"ruleId": "conversion_rate_drop"}})
    assert [n["id"] for n in by_rule["anomalies"]["nodes"]] == [second.id]
    bad = await api.gql(ANOMALIES, {"first": 10, "offset": 0, "filter": {"dateRange": "someday"}})
    assert code(bad) == "BAD_USER_INPUT" and bad["errors"][0]["extensions"]["problems"][0]["path"] == (
        "filter.dateRange")


async def test_acknowledge_and_dismiss_share_the_rest_rules(api: Api) -> None:
    (planted,) = await plant(api, anomaly())
    acked = (await api.data(ACK, {"id": planted.id, "note": "on it"}))["acknowledgeAnomaly"]
    assert acked == {"id": planted.id, "status": "ACKNOWLEDGED", "acknowledgeNote": "on it", "acknowledgedBy": "admin"}
    other = await api.gql(DISMISS, {"id": planted.id, "reason": "OTHER"})
    assert code(other) == "BAD_USER_INPUT" and other["errors"][0]["extensions"]["problems"][0]["path"] == "note"
    gone = (await api.data(DISMISS, {"id": planted.id, "reason": "FALSE_POSITIVE", "note": "noise"}))
    assert gone["dismissAnomaly"] == {"id": planted.id, "status": "DISMISSED", "dismissReason": "FALSE_POSITIVE",
                                      "dismissNote": "noise", "dismissedBy": "admin"}
    again = await api.gql(ACK, {"id": planted.id})
    assert code(again) == "CONFLICT" and "dismissed" in again["errors"][0]["message"]
    assert (await api.store.inner.anomalies.anomaly_by_id(P, planted.id)).status == AnomalyStatus.DISMISSED
    assert code(await api.gql(ACK, {"id": "anom_missing"})) == "NOT_FOUND"


async def test_rules_are_created_listed_and_updated(api: Api) -> None:
    rules = (await api.data("{ anomalyRules(category: \"agents\") { id type enabled triggerCount30d } }"))
    assert [r["id"] for r in rules["anomalyRules"]] == [
        "error_rate_spike", "cost_spike", "latency_spike", "token_usage_spike", "tool_error_spike"]
    rule_input: dict[str, Any] = {
        "name": "High-Value Orders Drop", "metric": {"type": "count", "event": "conversion", "filters": [
            {"field": "amount", "operator": "greater_than", "value": 500}]},
        "threshold": {"direction": "decrease", "percentage": 30},
        "alert": {"severity": "HIGH", "cooldownHours": 8, "channels": ["email", "slack"]}}
    created = (await api.data(CREATE, {"input": rule_input}))["createAnomalyRule"]
    assert created == {"id": "custom_rule_001", "name": "High-Value Orders Drop", "type": "custom", "enabled": True,
                       "metricType": "count", "event": "conversion",
                       "threshold": {"direction": "decrease", "percentage": 30.0},
                       "alert": {"severity": "HIGH", "cooldownHours": 8, "channels": ["email", "slack"]}}
    bad = await api.gql(CREATE, {"input": {**rule_input, "threshold": {"direction": "decrease", "percentage": 0}}})
    assert code(bad) == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["problems"][0]["path"] == "input.threshold.percentage"
    unknown = await api.gql(CREATE, {"input": {**rule_input, "metric": {"type": "count", "event": "nope_event"}}})
    assert unknown["errors"][0]["extensions"]["problems"][0]["path"] == "input.metric.event"
    assert [r.id for r in await api.store.inner.anomalies.list_rules(P)] == ["custom_rule_001"]
    changed = (await api.data(UPDATE, {"id": "cost_spike", "input": {"enabled": False,
                                                                      "threshold": {"percentage": 80}}}))
    assert changed["updateAnomalyRule"] == {"id": "cost_spike", "enabled": False,
                                            "threshold": {"direction": "increase", "percentage": 80.0,
                                                          "minVolume": 20}}
    one = await api.data('{ anomalyRule(id: "cost_spike") { enabled } }')
    assert one["anomalyRule"] == {"enabled": False}


async def test_another_projects_anomaly_is_not_found(make_api) -> None:
    api = await make_api(api_key=ADMIN)
    project_a, _, _ = await new_project(api, "shop-a")
    _, key_b, _ = await new_project(api, "shop-b")
    (theirs,) = await plant(api, anomaly(project=project_a))
    query = "query($id: ID!) { anomaly(id: $id) { id } }"
    resp = await api.client.post("/graphql", json={"query": query, "variables": {"id": theirs.id}},
                                 headers={"Authorization": f"Bearer {key_b}"})
    assert code(await resp.json()) == "NOT_FOUND"
    resp = await api.client.post("/graphql", json={"query": query, "variables": {"id": theirs.id}},
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    body = await resp.json()
    assert code(body) == "NOT_FOUND"  # the admin's default project holds none of it
    resp = await api.client.post("/graphql", json={"query": 'query($id: ID!) { anomaly(id: $id, project: "shop-a") '
                                                            "{ id } }", "variables": {"id": theirs.id}},
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    assert (await resp.json())["data"]["anomaly"] == {"id": theirs.id}


async def test_an_anomaly_links_its_agent_and_the_sessions_in_its_window(api: Api) -> None:
    (planted,) = await plant(api, anomaly(rule_id="cost_spike", rule_name="Agent Cost Spike", agent_id="agent-1"))
    start = planted.window_start

    def at(hours: float) -> str:
        return (start + timedelta(hours=hours)).isoformat()

    await api.post_typed([typed("session_started", {}, session="s0", timestamp=at(-1)),  # before the window
                          typed("session_started", {}, session="s1", timestamp=at(2)),
                          typed("session_started", {}, session="s2", timestamp=at(5)),
                          typed("session_started", {}, session="s3", agent="agent-2", timestamp=at(3))])
    query = """query($id: ID!) { anomaly(id: $id) { windowStart agent { id } sessions(first: 5) { id agentId } } }"""
    found = (await api.data(query, {"id": planted.id}))["anomaly"]
    assert found["agent"] == {"id": "agent-1"}
    assert found["sessions"] == [{"id": "s2", "agentId": "agent-1"}, {"id": "s1", "agentId": "agent-1"}]
    # A product anomaly an hour earlier: no agent, and every session in its window (s0's start is its first hour).
    (other,) = await plant(api, anomaly(hours_ago=2))
    found = (await api.data(query, {"id": other.id}))["anomaly"]
    assert found["agent"] is None and [s["id"] for s in found["sessions"]] == ["s2", "s3", "s1", "s0"]
