"""The Store contract: the same fixtures give the same answers on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from resolvers.traces.chain import verify
from resolvers.traces.planner import BatchPlanner, Lifecycle
from storage.contract import Conflict, EventQuery, Page, SessionQuery
from storage.models import Account, AccountKey, ApiKey, Event, Project, SessionStatus

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
P = "proj"


def ev(i: int, session: str = "s1", type_: str = "custom", **kw) -> Event:
    return Event(
        project_id=kw.pop("project_id", P),
        id=kw.pop("id", f"{session}-e{i:04d}"),
        session_id=session,
        agent_id=kw.pop("agent_id", "agent"),
        type=type_,
        timestamp=T0 + timedelta(seconds=i),
        received_at=T0,
        payload=kw.pop("payload", {"i": i, "text": f"item number {i}"}),
        **kw,
    )


async def commit(store, events, project=P, hints=None):
    return await store.traces.commit_batch(project, events, BatchPlanner(project, hints or {}))


async def test_commit_and_read_back(store) -> None:
    result = await commit(store, [ev(i) for i in range(5)], hints={"s1-e0000": Lifecycle(agent_name="Agent")})
    assert [e.seq for e in result.events] == [1, 2, 3, 4, 5]
    assert len(result.inserted) == 5
    (session,) = await store.traces.sessions_by_ids(P, ["s1"])
    assert (session.event_count, session.chain_seq, session.agent_name) == (5, 5, "Agent")
    assert session.chain_head == result.events[-1].hash
    events = await store.traces.events_by_ids(P, ["s1-e0002", "missing"])
    assert [(e.id, e.payload, e.timestamp) for e in events] == [("s1-e0002", {"i": 2, "text": "item number 2"},
                                                                   T0 + timedelta(seconds=2))]
    (agent,) = await store.traces.agents_by_ids(P, ["agent"])
    assert agent.name == "Agent"
    assert verify(await store.traces.session_chain(P, "s1"))


async def test_duplicate_ids_are_not_stored_twice(store) -> None:
    first = await commit(store, [ev(1), ev(2)])
    again = await commit(store, [ev(2), ev(3), ev(3)])
    assert [e.id for e in again.inserted] == ["s1-e0003"]
    assert again.events[0].hash == first.events[1].hash
    (session,) = await store.traces.sessions_by_ids(P, ["s1"])
    assert session.event_count == 3
    assert verify(await store.traces.session_chain(P, "s1"))


async def test_concurrent_commits_chain_in_one_line(store) -> None:
    await asyncio.gather(*(commit(store, [ev(b * 100 + i) for i in range(20)]) for b in range(10)))
    chain = await store.traces.session_chain(P, "s1")
    assert [e.seq for e in chain] == list(range(1, 201))
    assert verify(chain)


async def test_a_failing_plan_stores_nothing(store) -> None:
    def broken(current, events):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await store.traces.commit_batch(P, [ev(1)], broken)
    assert await store.traces.events_by_ids(P, ["s1-e0001"]) == []
    assert await store.traces.sessions_by_ids(P, ["s1"]) == []
    await commit(store, [ev(1)])  # the store is still usable
    assert len(await store.traces.events_by_ids(P, ["s1-e0001"])) == 1


async def test_projects_never_see_each_other(store) -> None:
    await commit(store, [ev(1, project_id="a")], project="a")
    await commit(store, [ev(1, session="s2", project_id="b")], project="b")
    assert await store.traces.events_by_ids("b", ["s1-e0001"]) == []
    assert await store.traces.sessions_by_ids("b", ["s1"]) == []
    assert (await store.traces.find_events("b", EventQuery(), Page())).total == 1
    assert (await store.traces.find_sessions("a", SessionQuery(), Page())).total == 1
    assert await store.traces.session_chain("b", "s1") == []


async def test_event_queries(store) -> None:
    await commit(store, [ev(i, type_="tool_call" if i % 2 else "custom", severity="error" if i == 3 else "info")
                         for i in range(10)])
    await commit(store, [ev(i, session="s2", agent_id="other") for i in range(3)])

    async def ids(query=None, **page):
        query = query or EventQuery()
        return [e.id for e in (await store.traces.find_events(P, query, Page(**page))).items]

    everything = await store.traces.find_events(P, EventQuery(), Page(limit=100))
    assert everything.total == 13 and not everything.has_more
    assert await ids(EventQuery(types=("tool_call",)), limit=2) == ["s1-e0001", "s1-e0003"]
    assert await ids(EventQuery(severities=("error",))) == ["s1-e0003"]
    assert await ids(EventQuery(agent_ids=("other",)), descending=True) == ["s2-e0002", "s2-e0001", "s2-e0000"]
    assert await ids(EventQuery(since=T0 + timedelta(seconds=8))) == ["s1-e0008", "s1-e0009"]
    assert await ids(EventQuery(until=T0, session_ids=("s1",))) == ["s1-e0000"]
    assert await ids(EventQuery(search="NUMBER 7")) == ["s1-e0007"]
    assert await ids(EventQuery(search="r 1")) == ["s1-e0001", "s2-e0001"]
    assert await ids(EventQuery(types=())) == []
    page = await store.traces.find_events(P, EventQuery(session_ids=("s1",)), Page(limit=3, offset=8))
    assert ([e.id for e in page.items], page.total, page.has_more) == (["s1-e0008", "s1-e0009"], 10, False)
    # order is (timestamp, session, seq): s1 and s2 interleave second by second
    first = (await store.traces.find_events(P, EventQuery(), Page(limit=4))).items
    assert [e.id for e in first] == ["s1-e0000", "s2-e0000", "s1-e0001", "s2-e0001"]
    last = first[-1]
    assert await ids(after=(last.timestamp, last.session_id, last.seq), limit=2) == ["s1-e0002", "s2-e0002"]


async def test_grouped_reads_for_dataloaders(store) -> None:
    await commit(store, [ev(i, session="a") for i in range(5)] + [ev(i, session="b") for i in range(2)])
    grouped = await store.traces.events_for_sessions(P, ["a", "b", "none"], EventQuery(), Page(limit=3))
    assert [(k, len(v.items), v.total, v.has_more) for k, v in sorted(grouped.items())] == [
        ("a", 3, 5, True), ("b", 2, 2, False), ("none", 0, 0, False)]
    assert [e.id for e in grouped["a"].items] == ["a-e0000", "a-e0001", "a-e0002"]
    newest = await store.traces.events_for_sessions(P, ["a"], EventQuery(), Page(limit=2, descending=True))
    assert [e.id for e in newest["a"].items] == ["a-e0004", "a-e0003"]
    by_agent = await store.traces.sessions_for_agents(P, ["agent", "nobody"], SessionQuery(), Page(limit=10))
    assert by_agent["agent"].total == 2 and by_agent["nobody"].total == 0


async def test_calls_pair_by_session_and_call_id(store) -> None:
    await commit(store, [ev(1, type_="tool_call", call_id="c1"), ev(2, type_="tool_response", call_id="c1"),
                         ev(3, session="s2", type_="tool_response", call_id="c1")])
    found = await store.traces.events_by_call_ids(P, [("s1", "c1")])
    assert sorted(e.type for e in found) == ["tool_call", "tool_response"]


async def test_a_batch_of_many_agents_and_retagged_sessions(store) -> None:
    # 70 agents and 70 sessions: more rows than one multi-row statement holds (storage/sqlite/multirow.py).
    n = 70
    starts = [ev(100, f"m{k:02d}", "session_started", agent_id=f"a{k:02d}", id=f"m{k:02d}-start") for k in range(n)]
    hints = {e.id: Lifecycle(agent_name=f"Agent {k}", tags=["all", f"k{k}"]) for k, e in enumerate(starts)}
    await commit(store, starts, hints=hints)
    # Then, in one batch, each agent seen earlier than before (and not later), each session tagged once more.
    again = [ev(50, f"m{k:02d}", agent_id=f"a{k:02d}", id=f"m{k:02d}-early") for k in range(n)]
    again += [ev(80, f"m{k:02d}", "session_started", agent_id=f"a{k:02d}", id=f"m{k:02d}-late") for k in range(n)]
    await commit(store, again, hints={f"m{k:02d}-late": Lifecycle(tags=[f"j{k}"]) for k in range(n)})

    agents = {a.id: a for a in await store.traces.agents_by_ids(P, [f"a{k:02d}" for k in range(n)])}
    assert sorted(agents) == [f"a{k:02d}" for k in range(n)]
    for k in range(n):
        agent = agents[f"a{k:02d}"]
        assert (agent.name, agent.first_seen, agent.last_seen) == (
            f"Agent {k}", T0 + timedelta(seconds=50), T0 + timedelta(seconds=100))
    sessions = await store.traces.sessions_by_ids(P, [f"m{k:02d}" for k in range(n)])
    assert sorted((s.id, tuple(s.tags)) for s in sessions) == [
        (f"m{k:02d}", ("all", f"k{k}", f"j{k}")) for k in range(n)]

    async def tagged(*tags: str) -> list[str]:
        page = await store.traces.find_sessions(P, SessionQuery(tags=tags), Page(limit=100))
        return sorted(s.id for s in page.items)

    assert await tagged("all") == [f"m{k:02d}" for k in range(n)]
    assert await tagged("k7", "j7") == ["m07"]
    assert await tagged("k7", "j8") == []


async def test_session_queries(store) -> None:
    hints = {"s1-e0000": Lifecycle(tags=["x", "y"]), "s2-e0000": Lifecycle(tags=["y"])}
    await commit(store, [ev(0, "s1", "session_started"), ev(0, "s2", "session_started", agent_id="b")], hints=hints)
    await commit(store, [ev(5, "s1", "session_ended")], hints={"s1-e0005": Lifecycle(end_status=SessionStatus.ERROR)})

    async def ids(**q):
        return [s.id for s in (await store.traces.find_sessions(P, SessionQuery(**q), Page(descending=True))).items]

    assert await ids(tags=("y",)) == ["s2", "s1"]
    assert await ids(tags=("x", "y")) == ["s1"]
    assert await ids(statuses=("error",)) == ["s1"]
    assert await ids(agent_ids=("b",)) == ["s2"]
    (s1,) = await store.traces.sessions_by_ids(P, ["s1"])
    assert (s1.status, s1.ended_at) == (SessionStatus.ERROR, T0 + timedelta(seconds=5))


async def test_retention_deletes_whole_old_sessions_in_bounded_batches(store) -> None:
    old = [ev(i, session=f"old{i % 3}", id=f"old-{i}") for i in range(9)]  # 3 sessions, 3 events each
    new = [ev(10_000 + i, session="new", id=f"new-{i}") for i in range(4)]
    await commit(store, old + new)
    await commit(store, [ev(0, session="old0", project_id="other", id="other-0")], project="other")
    cutoff = T0 + timedelta(seconds=5_000)
    # A budget of 4 events takes one whole 3-event session per batch, never part of one.
    assert await store.traces.delete_sessions_before(P, cutoff, 4) == 1
    assert await store.traces.delete_sessions_before(P, cutoff, 100) == 2
    assert await store.traces.delete_sessions_before(P, cutoff, 100) == 0
    left = await store.traces.find_sessions(P, SessionQuery(), Page(limit=10))
    assert [s.id for s in left.items] == ["new"]
    events = await store.traces.find_events(P, EventQuery(), Page(limit=100))
    assert sorted(e.id for e in events.items) == [f"new-{i}" for i in range(4)]
    assert (await store.traces.find_events(P, EventQuery(search="item number 4"), Page(limit=10))).total == 0
    assert verify(await store.traces.session_chain(P, "new"))
    assert len(await store.traces.sessions_by_ids("other", ["old0"])) == 1  # other projects untouched


def project(id_: str, account: str | None = None, minute: int = 0) -> Project:
    return Project(project_id=id_, id=id_, name=f"name-{id_}", created_at=T0 + timedelta(minutes=minute),
                   tracker_token=f"lgt_{id_}", account_id=account)


async def test_accounts_own_projects_and_list_only_theirs(store) -> None:
    a = Account(id="acc-a", name="Acme", tier="pro", projects_limit=3, created_at=T0)
    b = Account(id="acc-b", name="Bolt", created_at=T0)
    assert await store.projects.create_account(a) == a
    await store.projects.create_account(b)
    with pytest.raises(Conflict):
        await store.projects.create_account(Account(id="acc-c", name="Acme", created_at=T0))
    found = sorted(await store.projects.accounts_by_ids(["acc-b", "acc-a", "missing"]), key=lambda x: x.id)
    assert found == [a, b] and found[1].tier == "self-hosted" and found[1].projects_limit is None

    for index, (id_, account) in enumerate([("p1", "acc-a"), ("p2", "acc-b"), ("p3", "acc-a"), ("p4", None)]):
        await store.projects.create_project(project(id_, account, minute=index))
    mine = await store.projects.find_projects(Page(limit=10), account_id="acc-a")
    assert [p.id for p in mine.items] == ["p1", "p3"] and mine.total == 2 and not mine.has_more
    assert all(p.account_id == "acc-a" for p in mine.items)
    first = await store.projects.find_projects(Page(limit=1), account_id="acc-a")
    assert [p.id for p in first.items] == ["p1"] and first.total == 2 and first.has_more
    assert (await store.projects.find_projects(Page(limit=0), account_id="acc-b")).total == 1
    everything = await store.projects.find_projects(Page(limit=10))
    assert [p.id for p in everything.items] == ["p1", "p2", "p3", "p4"]
    (p4,) = await store.projects.projects_by_ids(["p4"])
    assert p4.account_id is None
    assert (await store.projects.project_by_name("name-p3")).account_id == "acc-a"  # type: ignore[union-attr]
    # An update keeps the owner.
    p1 = (await store.projects.projects_by_ids(["p1"]))[0]
    p1.name = "renamed"
    await store.projects.update_project(p1)
    assert (await store.projects.projects_by_ids(["p1"]))[0].account_id == "acc-a"


async def test_account_keys_are_found_by_hash_and_revoked_per_account(store) -> None:
    await store.projects.create_account(Account(id="acc-a", name="Acme", created_at=T0))
    keys = [
        AccountKey(account_id=account, id=f"k{i}", prefix="lga_xxxxxx", hash=f"{i:064x}",
                   created_at=T0 + timedelta(seconds=i))
        for i, account in enumerate(["acc-a", "acc-a", "acc-b"])
    ]
    for key in keys:
        await store.projects.add_account_key(key)
    assert await store.projects.account_key_by_hash(keys[1].hash) == keys[1]
    assert await store.projects.account_key_by_hash("f" * 64) is None
    # Account keys and project keys never answer for each other.
    await store.projects.add_key(ApiKey(project_id="p1", id="pk", prefix="lg_xxxxxxx", hash="e" * 64, created_at=T0))
    assert await store.projects.key_by_hash(keys[0].hash) is None
    assert await store.projects.account_key_by_hash("e" * 64) is None

    assert await store.projects.revoke_account_keys("acc-a", T0 + timedelta(hours=1)) == 2
    assert await store.projects.revoke_account_keys("acc-a", T0 + timedelta(hours=2)) == 0
    listed = await store.projects.keys_for_account("acc-a")
    assert [k.id for k in listed] == ["k0", "k1"]
    assert all(k.revoked_at == T0 + timedelta(hours=1) for k in listed)
    assert (await store.projects.account_key_by_hash(keys[2].hash)).revoked_at is None  # type: ignore[union-attr]
