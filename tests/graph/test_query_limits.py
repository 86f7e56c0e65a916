"""Query limits over real HTTP: fragment bombs, depth, aliases, cost, cycles, and validation's own bound."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from tests.conftest import Api, typed
from tests.graph.test_graphql import seed_trace
from tests.graph.test_live import GqlWs

LIMIT = "QUERY_LIMIT_EXCEEDED"


def doubling(levels: int, operation: str = "query", on: str = "Query", leaf: str = "sessions { totalCount }") -> str:
    """Each fragment spreads the previous one twice: a few hundred bytes, 2**levels leaves once expanded."""
    parts = [f"{operation} {{ ...F{levels} }}", f"fragment F0 on {on} {{ {leaf} }}"]
    parts += [f"fragment F{i} on {on} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(parts)


def only_error(body: dict) -> dict:
    assert body.get("data") is None, body
    (error,) = body["errors"]
    return error


@pytest.mark.parametrize("levels", [20, 30, 60])
async def test_doubling_fragments_are_refused_for_their_expanded_size(api: Api, levels: int) -> None:
    error = only_error(await api.gql(doubling(levels)))
    assert error["extensions"] == {"code": LIMIT, "limit": "fields", "maximum": 2000}
    assert "fields once its fragments are expanded" in error["message"]
    assert "the maximum is 2000" in error["message"]


async def test_doubling_fragments_of_typename_too(api: Api) -> None:
    # __typename costs 1 and has no page size: the expanded size alone refuses it.
    error = only_error(await api.gql(doubling(60, leaf="__typename")))
    assert error["extensions"]["code"] == LIMIT and error["extensions"]["limit"] == "fields"


async def test_doubling_fragments_within_the_limits_still_run(api: Api) -> None:
    # 2**9 copies of the same field merge into one: the answer is one field.
    assert await api.data(doubling(9)) == {"sessions": {"totalCount": 0}}


async def test_the_expanded_size_limit_is_a_setting(make_api) -> None:
    api = await make_api(max_query_fields=6)
    query = "query { ...S } fragment S on Query { sessions { nodes { id status } pageInfo { hasNextPage } } }"
    assert await api.data(query) == {"sessions": {"nodes": [], "pageInfo": {"hasNextPage": False}}}
    error = only_error(await api.gql("query { a: events { totalCount } ...S }" + query.removeprefix("query { ...S }")))
    assert error["extensions"] == {"code": LIMIT, "limit": "fields", "maximum": 6}


FRAGMENTS = """
query Trace($id: ID!, $first: Int) {
  session(id: $id) { ...SessionFields events(first: $first) { ...Events } }
  sessions { totalCount nodes { ... on Session { id } } }
}
fragment SessionFields on Session { id status eventCount agent { ...AgentFields } }
fragment AgentFields on Agent { id name }
fragment Events on EventConnection { totalCount nodes { ...EventFields children { ...EventFields } } }
fragment EventFields on Event { id type sequence session { ...Tiny } }
fragment Tiny on Session { id }
"""

INLINE = """
query Trace($id: ID!, $first: Int) {
  session(id: $id) {
    id status eventCount agent { id name }
    events(first: $first) {
      totalCount nodes { id type sequence session { id } children { id type sequence session { id } } }
    }
  }
  sessions { totalCount nodes { id } }
}
"""


async def test_fragments_give_the_same_data_as_the_query_written_out(api: Api) -> None:
    await seed_trace(api)
    variables = {"id": "s1", "first": 3}
    data = await api.data(FRAGMENTS, variables)
    assert data == await api.data(INLINE, variables)
    session = data["session"]
    assert (session["id"], session["eventCount"], session["agent"]) == ("s1", 8, {"id": "bot", "name": "Bot"})
    assert session["events"]["totalCount"] == 8
    assert [e["sequence"] for e in session["events"]["nodes"]] == [1, 2, 3]
    assert {e["session"]["id"] for e in session["events"]["nodes"]} == {"s1"}
    assert data["sessions"] == {"totalCount": 1, "nodes": [{"id": "s1"}]}


async def test_the_introspection_query_passes_the_limits(api: Api) -> None:
    data = await api.data(get_introspection_query(descriptions=True))
    assert data["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(
    "query",
    [
        "query { ...A } fragment A on Query { ...A }",
        "query { ...A } fragment A on Query { sessions { totalCount } ...B } fragment B on Query { ...A }",
        "query { sessions { nodes { ...S } } } fragment S on Session { id agent { sessions { nodes { ...S } } } }",
    ],
)
async def test_fragment_cycles_are_validation_errors_not_hangs(api: Api, query: str) -> None:
    body = await api.gql(query)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
    assert "within itself" in body["errors"][0]["message"]


async def test_unknown_fragments_are_validation_errors(api: Api) -> None:
    body = await api.gql("query { ...Nowhere sessions { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
    assert "Unknown fragment 'Nowhere'" in body["errors"][0]["message"]


def nested(depth: int, via_fragment: bool = False) -> str:
    """A leaf with `depth` fields above it, the depth the limit counts."""
    cycle = ("sessions(first: 1)", "nodes", "agent")
    names = [cycle[i % 3] for i in range(depth)]
    leaf = {"sessions(first: 1)": "totalCount", "nodes": "id", "agent": "id"}[names[-1]]
    body = " { ".join(names) + " { " + leaf + " }" * depth
    if via_fragment:
        return "query Deep { ...D } fragment D on Query { " + body + " }"
    return "query Deep { " + body + " }"


@pytest.mark.parametrize("via_fragment", [False, True])
async def test_depth_limit(api: Api, via_fragment: bool) -> None:
    assert "errors" not in await api.gql(nested(12, via_fragment))
    for depth in (13, 150):
        error = only_error(await api.gql(nested(depth, via_fragment)))
        assert error["extensions"] == {"code": LIMIT, "limit": "depth", "maximum": 12}
        assert error["message"] == "'Deep' exceeds maximum operation depth of 12"


async def test_alias_limit_counts_aliases_in_fragments(api: Api) -> None:
    aliases = " ".join(f"a{i}: sessions {{ totalCount }}" for i in range(15))
    query = f"query {{ ...A ...B }} fragment A on Query {{ {aliases} }} fragment B on Query {{ {aliases} }}"
    assert "errors" not in await api.gql(query)
    error = only_error(await api.gql(query.replace("...A ...B", "...A ...B x: agents { totalCount }")))
    assert error["extensions"] == {"code": LIMIT, "limit": "aliases", "maximum": 30}
    assert "31 aliases found; the maximum is 30" in error["message"]


async def test_cost_limit_names_the_cost(api: Api) -> None:
    query = (
        "query($n: Int) { ...S }"
        " fragment S on Query { sessions(first: $n) { nodes { events(first: $n) { nodes { id } } } } }"
    )
    assert "errors" not in await api.gql(query, {"n": 10})
    error = only_error(await api.gql(query, {"n": 900}))
    assert error["extensions"] == {"code": LIMIT, "limit": "cost", "maximum": 50000}
    assert error["message"].startswith("query cost of at least ")


async def test_limits_count_every_operation_of_the_document(make_api) -> None:
    api = await make_api(max_query_aliases=3)
    two = "query A { a: sessions { totalCount } b: agents { totalCount } } query B { c: events { totalCount } }"
    resp = await api.client.post("/graphql", json={"query": two, "operationName": "A"})
    assert "errors" not in await resp.json()
    three = two.replace("query B {", "query B { d: sessions { totalCount }")
    resp = await api.client.post("/graphql", json={"query": three, "operationName": "A"})
    assert (await resp.json())["errors"][0]["extensions"]["limit"] == "aliases"


async def test_validation_work_is_bounded(api: Api) -> None:
    # Within our limits (1320 fields, cost 49830), but OverlappingFieldsCanBeMerged
    # compares every two of the 330 `sessions`: refused once its budget is spent.
    error = only_error(await api.gql("query { " + "sessions { nodes { agent { id } } } " * 330 + "}"))
    assert error["extensions"] == {"code": LIMIT, "limit": "validation", "maximum": 10000}
    assert error["message"].startswith("validation aborted: the query takes too much work to validate")


async def test_fragment_chains_longer_than_the_recursion_limit(api: Api) -> None:
    # 495 fragments each spreading the next: measured without recursion; graphql-core
    # aborts validation past 200 levels of nesting, answered as a limit too.
    parts = ["query { ...F494 }", "fragment F0 on Query { sessions { totalCount } }"]
    parts += [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, 495)]
    error = only_error(await api.gql("\n".join(parts)))
    assert error["extensions"]["code"] == LIMIT and error["extensions"]["limit"] == "validation"
    assert await api.data(parts[0].replace("F494", "F150") + "\n" + "\n".join(parts[1:152])) == {
        "sessions": {"totalCount": 0}
    }


async def test_limits_apply_to_subscriptions_over_websockets(api: Api) -> None:
    client = await GqlWs.connect(api)
    await client.subscribe("bomb", doubling(30, operation="subscription", on="Subscription", leaf="eventAdded { id }"))
    message = await client.receive()
    assert (message["id"], message["type"]) == ("bomb", "error"), message
    assert message["payload"][0]["extensions"]["limit"] == "fields"
    # the connection still works
    await client.subscribe("ok", "subscription { eventAdded { id type } }")
    await api.post_typed([typed("custom", {"type": "x", "data": 1})])
    (event,) = await client.collect(1)
    assert event["data"]["eventAdded"]["type"] == "custom"
    await client.ws.close()


async def test_query_length_limit(make_api) -> None:
    # Lexing costs per character, and a long string literal or comment is one token or none.
    api = await make_api(max_query_length=1000)
    query = 'query { events(filter: {search: "%s"}) { totalCount } }'
    assert await api.data(query % ("x" * 900)) == {"events": {"totalCount": 0}}
    error = only_error(await api.gql(query % ("x" * 1000)))
    assert error["extensions"] == {"code": LIMIT, "limit": "length", "maximum": 1000}
    assert error["message"].startswith("the query is 1053 characters long; the maximum is 1000")
    error = only_error(await api.gql("query { sessions { totalCount } }\n#" + "x" * 2000))
    assert error["extensions"]["limit"] == "length"


async def test_default_query_length_limit_refuses_megabytes(api: Api) -> None:
    error = only_error(await api.gql("query { sessions { totalCount } } #" + "x" * 4_000_000))
    assert error["extensions"] == {"code": LIMIT, "limit": "length", "maximum": 100_000}
