"""GraphQL over HTTP: nested traces, connections, the ingest mutation, errors and limits."""

from __future__ import annotations

import pytest

from tests.conftest import Api, typed
from tests.payloads import VALID

TRACE = """
query Trace($id: ID!) {
  session(id: $id) {
    id status agentName durationMs eventCount errorCount tokensIn tokensOut costUsd metadata
    agent { id name }
    events(first: 100) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id type severity timestamp payload sequence hash prevHash tokensIn model
        session { id }
        parent { id type }
        children { id type }
      } }
    }
  }
}
"""


async def seed_trace(api: Api, session: str = "s1", agent: str = "bot") -> None:
    await api.post_typed(
        [
            typed("session_started", {"agentName": "Bot"}, session=session, agent=agent,
                  timestamp="2026-05-01T10:00:00Z"),
            typed("llm_call", VALID["llm_call"], session=session, agent=agent, timestamp="2026-05-01T10:00:01Z"),
            typed("llm_response", VALID["llm_response"], session=session, agent=agent,
                  timestamp="2026-05-01T10:00:02Z"),
            typed("tool_call", VALID["tool_call"], session=session, agent=agent, timestamp="2026-05-01T10:00:03Z"),
            typed("tool_response", VALID["tool_response"], session=session, agent=agent,
                  timestamp="2026-05-01T10:00:04Z"),
            typed("tool_call", {**VALID["tool_call"], "callId": "c2"}, session=session, agent=agent,
                  timestamp="2026-05-01T10:00:05Z"),
            typed("tool_error", VALID["tool_error"], session=session, agent=agent, severity="error",
                  timestamp="2026-05-01T10:00:06Z"),
            typed("session_ended", {"reason": "completed"}, session=session, agent=agent,
                  timestamp="2026-05-01T10:00:10Z"),
        ]
    )


async def test_session_trace_in_one_query(api: Api) -> None:
    await seed_trace(api)
    session = (await api.data(TRACE, {"id": "s1"}))["session"]
    assert session["status"] == "COMPLETED"
    assert session["agent"] == {"id": "bot", "name": "Bot"}
    assert session["durationMs"] == 10_000
    assert (session["eventCount"], session["errorCount"]) == (8, 1)
    assert (session["tokensIn"], session["tokensOut"], session["costUsd"]) == (100, 20, "0.0015")
    events = [e["node"] for e in session["events"]["edges"]]
    assert [e["type"] for e in events] == [
        "session_started", "llm_call", "llm_response", "tool_call", "tool_response", "tool_call", "tool_error",
        "session_ended",
    ]
    assert [e["sequence"] for e in events] == list(range(1, 9))
    assert all(e["session"] == {"id": "s1"} for e in events)
    by_type = {e["type"]: e for e in events}
    assert [c["type"] for c in by_type["llm_call"]["children"]] == ["llm_response"]
    assert by_type["llm_response"]["parent"]["type"] == "llm_call"
    assert by_type["llm_response"]["tokensIn"] == 100
    assert by_type["tool_response"]["parent"]["id"] == events[3]["id"]
    assert events[5]["children"][0]["type"] == "tool_error"  # c2 failed
    assert by_type["session_started"]["children"] == [] and by_type["session_started"]["parent"] is None
    assert events[1]["prevHash"] == events[0]["hash"]
    assert session["events"]["totalCount"] == 8
    assert await api.data('{ session(id: "nope") { id } }') == {"session": None}


async def test_connections_paginate_with_cursors(api: Api) -> None:
    await api.post_typed([typed("custom", {"type": "n", "data": i}) for i in range(7)])
    query = """query($after: String) { events(first: 3, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { payload } } }"""
    seen, after, pages = [], None, 0
    while True:
        page = (await api.data(query, {"after": after}))["events"]
        assert page["totalCount"] == 7
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [n["payload"]["data"] for n in page["nodes"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert (seen, pages) == (list(range(7)), 3)

    desc = await api.data("{ events(first: 2, order: DESC) { nodes { payload } } }")
    assert [n["payload"]["data"] for n in desc["events"]["nodes"]] == [6, 5]


async def test_filters(api: Api) -> None:
    await seed_trace(api, "s1", "bot")
    await seed_trace(api, "s2", "other")
    await api.post_typed([typed("session_started", {"tags": ["vip"]}, session="s3", agent="bot",
                                timestamp="2026-06-01T00:00:00Z")])
    data = await api.data(
        """{
          errors: events(filter: {severities: ["error"]}) { totalCount }
          bot: events(filter: {agentId: "bot", types: ["tool_call", "llm_call"]}) { totalCount }
          found: events(filter: {search: "NEEDLE"}) { totalCount nodes { sessionId } }
          timed: events(filter: {from: "2026-05-01T10:00:05Z", to: "2026-05-01T10:00:06Z"}) { totalCount }
          active: sessions(filter: {status: [ACTIVE]}) { nodes { id } }
          vip: sessions(filter: {tags: ["vip"]}) { nodes { id } }
          recent: sessions(filter: {from: "2026-05-15T00:00:00Z"}) { nodes { id } }
          all: sessions { totalCount nodes { id } }
          s1: session(id: "s1") { events(filter: {types: ["tool_call"]}) { totalCount } }
          agent(id: "bot") { name sessions { totalCount nodes { id } } }
          agents { totalCount nodes { id } }
        }"""
    )
    assert data["errors"]["totalCount"] == 2
    assert data["bot"]["totalCount"] == 3
    assert data["found"]["totalCount"] == 4  # tool_call arguments mention the needle
    assert data["timed"]["totalCount"] == 4
    assert data["active"]["nodes"] == [{"id": "s3"}]
    assert data["vip"]["nodes"] == [{"id": "s3"}]
    assert data["recent"]["nodes"] == [{"id": "s3"}]
    assert data["all"] == {"totalCount": 3, "nodes": [{"id": "s3"}, {"id": "s2"}, {"id": "s1"}]}
    assert data["s1"]["events"]["totalCount"] == 2
    assert data["agent"]["sessions"] == {"totalCount": 2, "nodes": [{"id": "s3"}, {"id": "s1"}]}
    assert data["agents"]["totalCount"] == 2


async def test_ingest_mutation_shares_the_pipeline(api: Api) -> None:
    mutation = """mutation($events: [EventInput!]!) { ingestEvents(events: $events) {
        __typename
        ... on IngestSuccess { ingested events { id hash sequence session { eventCount } } }
        ... on InputValidationError { message problems { path message } }
    } }"""
    ok = (await api.data(mutation, {"events": [typed("tool_call", VALID["tool_call"]),
                                               typed("tool_response", VALID["tool_response"])]}))["ingestEvents"]
    assert ok["__typename"] == "IngestSuccess"
    assert ok["ingested"] == 2
    assert [e["sequence"] for e in ok["events"]] == [1, 2]
    assert ok["events"][1]["session"]["eventCount"] == 2
    rest = await api.get(f"/api/events/{ok['events'][0]['id']}")
    assert rest["hash"] == ok["events"][0]["hash"]

    bad = (await api.data(mutation, {"events": [typed("tool_call", VALID["tool_call"]),
                                                typed("tool_call", {"callId": "x"})]}))["ingestEvents"]
    assert bad["__typename"] == "InputValidationError"
    assert {p["path"] for p in bad["problems"]} == {"events[1].payload.toolName", "events[1].payload.arguments"}
    assert (await api.get("/api/events"))["total"] == 2  # nothing of the rejected batch


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ sessions(", "GRAPHQL_PARSE_FAILED"),
        ('{ events(after: "garbage") { totalCount } }', "BAD_USER_INPUT"),
        ("{ events(first: 5000) { totalCount } }", "BAD_USER_INPUT"),
        ("{ " + " ".join(f"a{i}: sessions {{ totalCount }}" for i in range(40)) + " }", "QUERY_LIMIT_EXCEEDED"),
        ("{ sessions { nodes { agent { sessions { nodes { agent { sessions { nodes { agent { sessions { nodes"
         " { agent { sessions { nodes { id } } } } } } } } } } } } } } }", "QUERY_LIMIT_EXCEEDED"),
        ("{ sessions(first: 1000) { nodes { events(first: 1000) { nodes { id } } } } }", "QUERY_LIMIT_EXCEEDED"),
    ],
)
async def test_errors_carry_codes(api: Api, query: str, code: str) -> None:
    body = await api.gql(query)
    assert body["errors"], body
    assert body["errors"][0]["extensions"]["code"] == code, body


async def test_cost_limit_counts_variables(api: Api) -> None:
    query = "query($n: Int) { sessions(first: $n) { nodes { events(first: $n) { nodes { id } } } } }"
    assert "errors" not in await api.gql(query, {"n": 10})
    body = await api.gql(query, {"n": 900})
    assert body["errors"][0]["extensions"]["code"] == "QUERY_LIMIT_EXCEEDED"


async def test_token_limit(make_api) -> None:
    api = await make_api(max_query_tokens=50)
    body = await api.gql("{ sessions { nodes { " + " ".join(["id"] * 60) + " } } }")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_LIMIT_EXCEEDED"


async def test_graphiql_for_browsers(api: Api) -> None:
    resp = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status == 200
    assert "graphiql" in (await resp.text()).lower()


async def test_oversized_graphql_body_is_413(make_api) -> None:
    api = await make_api(max_body_bytes=4096)
    resp = await api.client.post("/graphql", json={"query": "{ sessions { totalCount } }", "pad": "x" * 8000})
    assert resp.status == 413
    body = await resp.json()
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


NESTED = """query($n: Int!) {
  sessions(first: $n) {
    nodes {
      id agent { name sessions(first: 2) { totalCount } }
      events(first: 20) { totalCount nodes { id type session { id agent { id } } parent { id } children { id } } }
    }
  }
}"""


async def test_nested_queries_cost_a_constant_number_of_store_calls(api: Api) -> None:
    """1 session or 100, each with events, agent and event.session: the same few store calls."""
    for batch in range(10):
        events = []
        for s in range(batch * 10, batch * 10 + 10):
            events += [
                typed("session_started", {"agentName": f"A{s % 7}"}, session=f"s{s:03d}", agent=f"agent-{s % 7}"),
                typed("tool_call", {**VALID["tool_call"], "callId": f"c{s}"}, session=f"s{s:03d}",
                      agent=f"agent-{s % 7}"),
                typed("tool_response", {**VALID["tool_response"], "callId": f"c{s}"}, session=f"s{s:03d}",
                      agent=f"agent-{s % 7}"),
            ]
        await api.post_typed(events)

    counts = {}
    for n in (1, 100):
        api.store.reset()
        data = await api.data(NESTED, {"n": n})
        sessions = data["sessions"]["nodes"]
        assert len(sessions) == n
        assert all(len(s["events"]["nodes"]) == 3 for s in sessions)
        assert all(e["session"]["id"] == s["id"] for s in sessions for e in s["events"]["nodes"])
        assert all(s["events"]["nodes"][2]["parent"]["id"] == s["events"]["nodes"][1]["id"] for s in sessions)
        counts[n] = dict(api.store.calls)
    assert counts[1] == counts[100], counts
    assert 3 <= sum(counts[100].values()) <= 6, counts[100]  # sessions, their events, agents: counted, and few
    assert counts[100]["find_sessions"] == 1 and counts[100]["event_views_for_sessions"] == 1


async def test_call_pairs_resolve_across_pages_and_top_level_events(api: Api) -> None:
    """Pairs are found from the store when the page does not hold the whole session."""
    await seed_trace(api)
    partial = await api.data("""{ session(id: "s1") { events(first: 3, after: null) { pageInfo { hasNextPage }
        nodes { type children { type } parent { type } session { id } } } } }""")
    nodes = partial["session"]["events"]["nodes"]
    assert partial["session"]["events"]["pageInfo"]["hasNextPage"] is True
    assert [(n["type"], [c["type"] for c in n["children"]], (n["parent"] or {}).get("type")) for n in nodes] == [
        ("session_started", [], None), ("llm_call", ["llm_response"], None), ("llm_response", [], "llm_call")]
    top = await api.data('{ events(filter: {types: ["tool_response", "tool_error"]}) { nodes { type '
                         "parent { type callId } session { id agent { name } } } } }")
    assert [(n["type"], n["parent"]["callId"], n["session"]["agent"]["name"]) for n in top["events"]["nodes"]] == [
        ("tool_response", "c1", "Bot"), ("tool_error", "c2", "Bot")]
    filtered = await api.data('{ session(id: "s1") { events(filter: {types: ["tool_call"]}) { nodes { '
                              "children { type } } } } }")
    assert [[c["type"] for c in n["children"]] for n in filtered["session"]["events"]["nodes"]] == [
        ["tool_response"], ["tool_error"]]


async def test_graphql_writes_instants_as_rest_does_and_reads_naive_input_as_utc(api: Api) -> None:
    event = {**typed("custom", {"type": "t", "data": 1}, session="ts"), "timestamp": "2026-02-08T10:00:00.5+02:00"}
    await api.post_typed([event])
    rest = (await api.get("/api/events"))["events"][0]["timestamp"]
    data = await api.data('{ events(filter: {from: "2026-02-08T08:00:00"}) { nodes { timestamp receivedAt } } '
                          'session(id: "ts") { startedAt } }')
    node = data["events"]["nodes"][0]
    assert rest == node["timestamp"] == data["session"]["startedAt"] == "2026-02-08T08:00:00.500Z"
    assert node["receivedAt"].endswith("Z") and len(node["receivedAt"]) == len("2026-02-08T08:00:00.500Z")
    later = await api.data('{ events(filter: {from: "2026-02-08T08:00:00.501"}) { totalCount } }')
    assert later["events"]["totalCount"] == 0  # naive input is UTC, compared at millisecond precision
    bad = await api.gql('{ events(filter: {from: "0001-01-01T00:00:00+01:00"}) { totalCount } }')
    assert bad["errors"][0]["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    assert "9999-12-31" in bad["errors"][0]["message"]
