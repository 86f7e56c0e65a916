"""Analytics in GraphQL, on the seed-003 data set (tests/graph/test_agent_analytics_reports.py) and an agent trace."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import Api, ApiFactory, typed
from tests.graph.test_agent_analytics_reports import DAY1, DAY2, TODAY, _load


@pytest.fixture
async def site(make_api: ApiFactory) -> Api:
    api = await make_api(trusted_proxy_hops=1, country_header="CF-IPCountry")
    await _load(api)
    # An agent's run: two LLM calls (one slow) and a tool error.
    at = DAY1 + timedelta(hours=1)

    def step(kind: str, seconds: int, payload: dict, **extra: object) -> dict:
        return typed(kind, payload, session="run-1", agent="planner",
                     timestamp=(at + timedelta(seconds=seconds)).isoformat(), **extra)

    def response(call: str, tokens: tuple[int, int], cost: float, latency: int) -> dict:
        return {"callId": call, "provider": "openai", "model": "gpt-4o", "completion": "ok", "finishReason": "stop",
                "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
                "costUsd": cost, "latencyMs": latency}

    ask = {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    events = [
        step("llm_call", 0, {**ask, "callId": "l1"}),
        step("llm_response", 1, response("l1", (100, 20), 0.25, 100)),
        step("llm_call", 2, {**ask, "callId": "l2"}),
        step("llm_response", 3, response("l2", (50, 10), 0.5, 900)),
        step("tool_error", 4, {"callId": "c1", "toolName": "search", "error": "timeout", "durationMs": 50},
             severity="error"),
    ]
    await api.post_typed(events)
    return api


RANGE = {"from": (DAY2 - timedelta(days=1)).isoformat(), "to": (TODAY + timedelta(days=1)).isoformat()}


async def test_analytics_groups_and_metrics(site: Api) -> None:
    data = await site.data(
        """query($q: AnalyticsQueryInput!) { analytics(query: $q) { groupBy metrics rows { keys values } } }""",
        {"q": {**RANGE, "filters": [{"field": "kind", "op": "EQ", "value": "tracker"}],
               "groupBy": [{"field": "type"}], "metrics": [{"kind": "COUNT"}, {"kind": "UNIQUE_USERS"}],
               "orderBy": [{"metric": 0}]}},
    )
    result = data["analytics"]
    assert result["groupBy"] == ["field:type"] and result["metrics"] == ["count", "unique_users"]
    assert result["rows"] == [{"keys": ["page_view"], "values": [7.0, 5.0]}, {"keys": ["signup"], "values": [2.0, 2.0]}]
    daily = await site.data(
        """query($q: AnalyticsQueryInput!) { analytics(query: $q) { rows { keys values } } }""",
        {"q": {**RANGE, "filters": [{"field": "kind", "op": "EQ", "value": "tracker"}],
               "groupBy": [{"bucket": "DAY"}]}},
    )
    assert daily["analytics"]["rows"][0] == {"keys": [DAY2.strftime("%Y-%m-%dT00:00:00Z")], "values": [5.0]}


async def test_tracked_events_keep_an_anonymous_id_apart(site: Api) -> None:
    # The seed's tracker sends its anonymous visitor id as user_id until identify(): anon_x is both.
    data = await site.data(
        """query($q: AnalyticsQueryInput!) { analytics(query: $q) { rows { keys values } } }""",
        {"q": {**RANGE, "filters": [{"field": "kind", "op": "EQ", "value": "tracker"},
                                    {"field": "anonymous_id", "op": "EXISTS", "value": True}],
               "groupBy": [{"field": "anonymous_id"}, {"field": "user_id"}, {"field": "agent_id"}]}},
    )
    assert data["analytics"]["rows"] == [{"keys": ["anon_x", "anon_x", None], "values": [1.0]}]


async def test_percentiles_and_rates_on_agent_events(site: Api) -> None:
    data = await site.data(
        """query($q: AnalyticsQueryInput!) { analytics(query: $q) { rows { keys values } } }""",
        {"q": {**RANGE, "filters": [{"field": "kind", "op": "EQ", "value": "agent"}],
               "groupBy": [{"field": "agent_id"}],
               "metrics": [{"kind": "PERCENTILE", "field": "duration_ms", "p": 0.5},
                           {"kind": "MAX", "field": "duration_ms"}, {"kind": "SUM", "field": "tokens_in"},
                           {"kind": "RATE", "where": [{"field": "severity", "op": "EQ", "value": "error"}]}]}},
    )
    rows = {tuple(r["keys"]): r["values"] for r in data["analytics"]["rows"]}
    assert rows[("planner",)] == [100.0, 900.0, 150.0, 0.2]


async def test_agent_usage_and_session_event_types(site: Api) -> None:
    data = await site.data(
        """{ session(id: "run-1") { eventTypes { type count } agent { usage { events sessions errors llmCalls
             tokensIn tokensOut costUsd p50DurationMs p95DurationMs } } } }"""
    )
    session = data["session"]
    assert session["eventTypes"] == [{"type": "llm_call", "count": 2}, {"type": "llm_response", "count": 2},
                                     {"type": "tool_error", "count": 1}]
    assert session["agent"]["usage"] == {
        "events": 5, "sessions": 1, "errors": 1, "llmCalls": 2, "tokensIn": 150, "tokensOut": 30,
        "costUsd": "0.75", "p50DurationMs": 100.0, "p95DurationMs": 900.0,
    }


async def test_funnel_retention_insights(site: Api) -> None:
    data = await site.data(
        """query($from: DateTime!, $to: DateTime!) {
             funnel(steps: [{event: "page_view"}, {event: "signup"}], from: $from, to: $to, windowHours: 24) {
               overallConversionRate steps { event actors conversionRate } }
             retention(from: $from, to: $to, period: "day", periods: 3) { cohorts { size retained } averageRates }
             insights(days: 1) { trend metrics { name current previous changePct } } }""",
        {"from": DAY2.isoformat(), "to": (TODAY + timedelta(days=1)).isoformat()},
    )
    assert data["funnel"]["steps"] == [{"event": "page_view", "actors": 5, "conversionRate": 1.0},
                                       {"event": "signup", "actors": 2, "conversionRate": 0.4}]
    assert data["funnel"]["overallConversionRate"] == 0.4
    # Agent events count too here (no kind filter): the planner has no user, so it is no actor.
    assert [c["retained"] for c in data["retention"]["cohorts"]] == [[2, 1, 0], [2, 0], [1]]
    assert data["retention"]["averageRates"] == [1.0, 0.25, 0.0]
    metrics = {m["name"]: m for m in data["insights"]["metrics"]}
    assert metrics["total_events"] == {"name": "total_events", "current": 1.0, "previous": 3.0, "changePct": -67}


async def test_project_analytics_is_scoped(site: Api) -> None:
    query = """query($q: AnalyticsQueryInput!) { projects { edges { node { name
                 analytics(query: $q) { rows { values } } } } } }"""
    data = await site.data(query, {"q": {**RANGE, "filters": [{"field": "kind", "op": "EQ", "value": "tracker"}]}})
    totals = {e["node"]["name"]: e["node"]["analytics"]["rows"][0]["values"][0] for e in data["projects"]["edges"]}
    assert totals["default"] == 9.0 and totals["other-site"] == 2.0


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"groupBy": [{"field": "planet"}]}, "group_by[0]"),
        ({"metrics": [{"kind": "SUM"}]}, "metrics[0]"),
        ({"metrics": [{"kind": "COUNT", "where": [{"field": "type", "op": "EQ", "value": "x"}]}]}, "metrics[0].where"),
        ({"metrics": [{"kind": "PERCENTILE", "field": "duration_ms", "p": 2}]}, "metrics[0].p"),
        ({"filters": [{"field": "type", "property": "x", "op": "EQ", "value": 1}]}, "query.filters[0]"),
        ({"limit": 0}, "limit"),
        ({"from": TODAY.isoformat(), "to": DAY2.isoformat()}, "from"),
    ],
)
async def test_bad_queries_name_the_input(site: Api, query: dict, path: str) -> None:
    body = await site.gql(
        """query($q: AnalyticsQueryInput!) { analytics(query: $q) { rows { values } } }""", {"q": {**RANGE, **query}}
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert path in error["message"], error
