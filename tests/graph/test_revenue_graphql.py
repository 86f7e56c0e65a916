"""Revenue in GraphQL over real HTTP: mutations sharing the REST code, revenue joined to the agents' trace
cost, and DataLoaders (100 agents with revenue and cost cost the same store calls as one)."""

from __future__ import annotations

from tests.conftest import Api, typed

CREATE = """mutation($input: RevenueInput!) {
  createRevenue(input: $input) { id amount currency source agent { id } session { id } goal { name } }
}"""
AGENTS = """query($first: Int) { agents(first: $first) { nodes {
  id revenue { currency amount count }
  roi(from: "2026-01-01T00:00:00Z") { currency revenue cost net roi }
  sessions(first: 5) { nodes { id costUsd revenue { amount } roi { revenue cost net roi } } }
} } }"""


def cost(agent: str, session: str, usd: float) -> dict:
    return typed("cost_tracked", {"provider": "p", "model": "m", "inputTokens": 1, "outputTokens": 1,
                                  "totalTokens": 2, "costUsd": usd}, agent=agent, session=session)


async def test_revenue_joins_the_agents_trace_cost(api: Api) -> None:
    await api.post_typed([cost("closer", "s1", 0.25), cost("closer", "s1", 0.75), cost("helper", "s2", 4)])
    event = (await api.get("/api/events", sessionId="s1"))["events"][0]["id"]
    goal = (await api.data('mutation { createGoal(input: {name: "Close"}) { id name completions } }'))["createGoal"]
    assert goal["completions"] == 0
    made = (await api.data(CREATE, {"input": {"amount": "10.5", "agentId": "closer", "eventId": event,
                                              "goalId": goal["id"]}}))["createRevenue"]
    assert (made["amount"], made["currency"], made["source"], made["agent"], made["session"], made["goal"]) == (
        "10.5", "USD", "Manual", {"id": "closer"}, {"id": "s1"}, {"name": "Close"})
    await api.data(CREATE, {"input": {"amount": "3", "agentId": "closer", "currency": "EUR"}})
    await api.data(CREATE, {"input": {"amount": "1", "agentId": "helper"}})

    agents = {a["id"]: a for a in (await api.data(AGENTS, {"first": 10}))["agents"]["nodes"]}
    closer, helper = agents["closer"], agents["helper"]
    assert closer["revenue"] == [{"currency": "EUR", "amount": "3", "count": 1},
                                 {"currency": "USD", "amount": "10.5", "count": 1}]
    assert closer["roi"] == {"currency": "USD", "revenue": "10.5", "cost": "1", "net": "9.5", "roi": "9.5"}
    assert helper["roi"] == {"currency": "USD", "revenue": "1", "cost": "4", "net": "-3", "roi": "-0.75"}
    (s1,) = closer["sessions"]["nodes"]
    assert (s1["id"], s1["costUsd"], s1["revenue"]) == ("s1", "1", [{"amount": "10.5"}])
    assert s1["roi"] == {"revenue": "10.5", "cost": "1", "net": "9.5", "roi": "9.5"}
    by_goal_type = await api.data('{ revenueAttribution(groupBy: "goal") { key currency amount } }')
    assert by_goal_type["revenueAttribution"] == [
        {"key": None, "currency": "EUR", "amount": "3"}, {"key": None, "currency": "USD", "amount": "1"},
        {"key": goal["id"], "currency": "USD", "amount": "10.5"}]


async def test_a_hundred_agents_with_revenue_and_cost_cost_the_store_calls_of_one(api: Api) -> None:
    await api.post_typed([cost(f"agent-{i:03}", f"s-{i}", 0.01 * (i + 1)) for i in range(100)])
    for i in range(0, 100, 7):
        await api.data(CREATE, {"input": {"amount": f"{i}.5", "agentId": f"agent-{i:03}"}})
    counts = {}
    for first in (1, 100):
        api.store.reset()
        nodes = (await api.data(AGENTS, {"first": first}))["agents"]["nodes"]
        assert len(nodes) == first
        counts[first] = dict(api.store.calls)
    assert counts[1] == counts[100], counts
    # agents, their sessions, revenue per agent and per session, then the revenue and cost the ROI reads.
    assert sum(counts[100].values()) <= 8, counts


CUSTOMERS = """query($first: Int) { customers(first: $first) {
  id revenues(first: 2) { totalCount hasNextPage nodes { id amount } }
} }"""
LISTED = """query($customer: String) { revenues(customerId: $customer, first: 2) {
  totalCount hasNextPage nodes { id amount } } }"""


async def test_twenty_customers_with_their_revenues_cost_the_store_calls_of_one(api: Api) -> None:
    customers = []
    for i in range(20):
        made = await api.data('mutation($name: String) { createCustomer(input: {name: $name}) { id } }',
                              {"name": f"customer-{i}"})
        customers.append(made["createCustomer"]["id"])
    for i, customer in enumerate(customers):
        for n in range(i % 4):  # 0 to 3 revenues each: empty pages, short ones and ones with a next page
            await api.data(CREATE, {"input": {"amount": f"{i}.{n + 1}", "customerId": customer}})
    counts = {}
    for first in (1, 20):
        api.store.reset()
        nodes = (await api.data(CUSTOMERS, {"first": first}))["customers"]
        assert len(nodes) == first
        counts[first] = dict(api.store.calls)
    assert counts[1] == counts[20], counts
    assert counts[20] == {"find_records": 1, "find_records_per_group": 1}, counts  # the customers, their pages
    # The same pages as the top-level listing of each customer's revenues.
    assert len({c["id"] for c in nodes}) == 20
    for customer in nodes:
        i = int((await api.data("query($id: ID!) { customer(id: $id) { name } }", {"id": customer["id"]}))[
            "customer"]["name"].split("-")[1])
        page = customer["revenues"]
        assert (page["totalCount"], page["hasNextPage"], len(page["nodes"])) == (i % 4, i % 4 > 2, min(i % 4, 2))
        assert {r["amount"] for r in page["nodes"]} <= {f"{i}.{n + 1}" for n in range(i % 4)}
        assert page == (await api.data(LISTED, {"customer": customer["id"]}))["revenues"]


async def test_mutations_share_idempotency_and_validation_with_rest(api: Api) -> None:
    headers = {"Idempotency-Key": "gql-1"}
    first = await api.gql(CREATE, {"input": {"amount": "2"}}, headers=headers)
    again = await api.gql(CREATE, {"input": {"amount": "2"}}, headers=headers)
    assert "errors" not in first and first == again
    listed = await api.data("{ revenues { totalCount nodes { id } } }")
    assert listed["revenues"]["totalCount"] == 1
    for bad, code in (({"amount": "-2"}, "BAD_USER_INPUT"), ({"amount": "2", "currency": "ZZZ"}, "BAD_USER_INPUT"),
                      ({"amount": "2", "agentId": "ghost"}, "NOT_FOUND"), ({}, "BAD_USER_INPUT")):
        body = await api.gql(CREATE, {"input": bad})
        assert body["errors"][0]["extensions"]["code"] == code, body
    assert (await api.data("{ revenues { totalCount } }"))["revenues"]["totalCount"] == 1
    rid = listed["revenues"]["nodes"][0]["id"]
    changed = await api.data('mutation($id: ID!) { updateRevenue(id: $id, input: {amount: "7.25", source: "Stripe"}) '
                             "{ amount source } }", {"id": rid})
    assert changed["updateRevenue"] == {"amount": "7.25", "source": "Stripe"}
    customer = (await api.data('mutation { createCustomer(input: {name: "Ada"}) { id } }'))["createCustomer"]
    await api.data(CREATE, {"input": {"amount": "1.1", "customerId": customer["id"]}})
    await api.data(CREATE, {"input": {"amount": "2.2", "customerId": customer["id"]}})
    got = await api.data("query($id: ID!) { customer(id: $id) { name revenue { amount } "
                         "revenues(first: 1) { totalCount hasNextPage nodes { amount } } } }", {"id": customer["id"]})
    assert got["customer"] == {"name": "Ada", "revenue": [{"amount": "3.3"}],
                               "revenues": {"totalCount": 2, "hasNextPage": True, "nodes": [{"amount": "2.2"}]}}
    assert (await api.data('mutation($id: ID!) { deleteRevenue(id: $id) }', {"id": rid}))["deleteRevenue"] is True
