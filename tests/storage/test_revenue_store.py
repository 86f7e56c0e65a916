"""The revenue contract: the same answers on every backend (tests/storage/conftest.py's `store`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.contract import Claim, Conflict, Page, RecordQuery
from storage.models import Customer, Goal, GoalType, Outcome, Project, Revenue

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
P, OTHER = "proj", "other"
BILLION = 10**9


def revenue(id_: str, nanos: int, project: str = P, minute: int = 0, **kw: object) -> Revenue:
    at = T0 + timedelta(minutes=minute)
    return Revenue(project_id=project, id=id_, key=f"key-{id_}", amount_nanos=nanos, created_at=at, updated_at=at,
                   recorded_at=kw.pop("recorded_at", at), **kw)  # type: ignore[arg-type]


def claim(key: str, answer: bytes = b"first") -> Claim[Revenue]:
    return Claim(P, key, "fp", T0, T0 + timedelta(days=1), lambda r: (201, answer + r.id.encode(), "application/json"))


async def test_every_kind_is_created_read_listed_updated_and_deleted(store) -> None:
    records = [
        Customer(project_id=P, id="c1", key="ext-1", name="Ada", email="ada@example.com", metadata={"tier": "gold"},
                 created_at=T0, updated_at=T0),
        GoalType(project_id=P, id="t1", name="Sales", description="closing deals", created_at=T0, updated_at=T0),
        Goal(project_id=P, id="g1", name="Close", goal_type_id="t1", agent_id="a1", created_at=T0, updated_at=T0),
        Outcome(project_id=P, id="o1", key="k", name="deal", agent_id="a1", goal_id="g1", customer_id="c1",
                event_id="e1", session_id="s1", value_nanos=5 * BILLION, currency="EUR", recorded_at=T0,
                created_at=T0, updated_at=T0),
        revenue("r1", 100 * BILLION, agent_id="a1", goal_id="g1", customer_id="c1", event_id="e1", session_id="s1",
                description="first sale", source="Stripe", currency="EUR"),
    ]
    for record in records:
        kind = type(record)
        created = await store.revenue.create_record(record)
        assert (created.record, created.replayed, created.response) == (record, False, None)
        assert await store.revenue.records_by_ids(kind, P, [record.id, "missing"]) == [record]
        assert await store.revenue.records_by_ids(kind, OTHER, [record.id]) == []
        listed = await store.revenue.find_records(kind, P, RecordQuery(), Page(limit=10))
        assert (listed.items, listed.total, listed.has_more) == ([record], 1, False)
        changed = record.model_copy(update={"updated_at": T0 + timedelta(hours=1)})
        assert await store.revenue.update_record(changed) is True
        assert await store.revenue.records_by_ids(kind, P, [record.id]) == [changed]
        assert await store.revenue.update_record(changed.model_copy(update={"id": "nope"})) is False
        with pytest.raises(Conflict):
            await store.revenue.create_record(record)
        assert await store.revenue.delete_record(kind, P, record.id) is True
        assert await store.revenue.delete_record(kind, P, record.id) is False
        assert await store.revenue.records_by_ids(kind, P, [record.id]) == []


async def test_listing_is_newest_first_paged_and_filtered(store) -> None:
    for i in range(7):
        await store.revenue.create_record(revenue(f"r{i}", i, minute=i, agent_id="a1" if i % 2 else None,
                                                  recorded_at=T0 + timedelta(days=i)))
    await store.revenue.create_record(revenue("x", 1, project=OTHER, agent_id="a1"))
    page = await store.revenue.find_records(Revenue, P, RecordQuery(), Page(limit=3, offset=2))
    assert ([r.id for r in page.items], page.total, page.has_more) == (["r4", "r3", "r2"], 7, True)
    mine = await store.revenue.find_records(Revenue, P, RecordQuery({"agent_id": "a1"}), Page(limit=10))
    assert [r.id for r in mine.items] == ["r5", "r3", "r1"] and mine.total == 3
    either = await store.revenue.find_records(Revenue, P, RecordQuery({"agent_id": ("a1", "zz")}), Page(limit=10))
    assert [r.id for r in either.items] == ["r5", "r3", "r1"]
    none = await store.revenue.find_records(Revenue, P, RecordQuery({"agent_id": None}), Page(limit=10))
    assert [r.id for r in none.items] == ["r6", "r4", "r2", "r0"]
    ranged = await store.revenue.find_records(
        Revenue, P, RecordQuery(since=T0 + timedelta(days=2), until=T0 + timedelta(days=4)), Page(limit=10))
    assert [r.id for r in ranged.items] == ["r3", "r2"]


async def test_records_are_paged_per_group_in_one_call(store) -> None:
    # c1: r0..r4, c2: s0..s1 (one minute apart), c3: two records created at the same instant (id breaks the tie).
    for i in range(5):
        await store.revenue.create_record(revenue(f"r{i}", i, minute=i, customer_id="c1"))
    for i in range(2):
        await store.revenue.create_record(revenue(f"s{i}", i, minute=10 + i, customer_id="c2"))
    await store.revenue.create_record(revenue("t-a", 1, minute=3, customer_id="c3"))
    await store.revenue.create_record(revenue("t-b", 1, minute=3, customer_id="c3"))
    await store.revenue.create_record(revenue("nobody", 1))
    await store.revenue.create_record(revenue("x", 1, project=OTHER, customer_id="c1"))

    def ids(found: dict) -> dict:
        return {k: ([r.id for r in v.items], v.total, v.has_more) for k, v in found.items()}

    groups = ["c1", "c2", "c3", "none"]
    first = await store.revenue.find_records_per_group(Revenue, P, "customer_id", groups, Page(limit=2))
    assert ids(first) == {"c1": (["r4", "r3"], 5, True), "c2": (["s1", "s0"], 2, False),
                          "c3": (["t-b", "t-a"], 2, False), "none": ([], 0, False)}
    second = await store.revenue.find_records_per_group(Revenue, P, "customer_id", groups, Page(limit=2, offset=2))
    assert ids(second) == {"c1": (["r2", "r1"], 5, True), "c2": ([], 2, False), "c3": ([], 2, False),
                           "none": ([], 0, False)}
    last = await store.revenue.find_records_per_group(Revenue, P, "customer_id", ["c1"], Page(limit=10, offset=4))
    assert ids(last) == {"c1": (["r0"], 5, False)}
    # The same answer as find_records, group by group.
    for customer in groups:
        alone = await store.revenue.find_records(Revenue, P, RecordQuery({"customer_id": customer}), Page(limit=2))
        assert (alone.items, alone.total, alone.has_more) == (
            first[customer].items, first[customer].total, first[customer].has_more)
    other = await store.revenue.find_records_per_group(Revenue, OTHER, "customer_id", ["c1", "c2"], Page(limit=5))
    assert ids(other) == {"c1": (["x"], 1, False), "c2": ([], 0, False)}
    assert await store.revenue.find_records_per_group(Revenue, P, "customer_id", [], Page(limit=5)) == {}
    many = [f"m{i}" for i in range(1200)] + ["c2", "c1", "c1"]  # past one IN list, a value repeated
    paged = await store.revenue.find_records_per_group(Revenue, P, "customer_id", many, Page(limit=1))
    assert len(paged) == 1202 and ids(paged)["c1"] == (["r4"], 5, True) and ids(paged)["c2"] == (["s1"], 2, True)
    assert paged["m1199"].items == [] and paged["m1199"].total == 0
    with pytest.raises(ValueError):
        await store.revenue.find_records_per_group(Revenue, P, "amount_nanos", ["c1"], Page(limit=5))


async def test_a_claim_creates_once_and_replays_the_first_answer(store) -> None:
    first = await store.revenue.create_record(revenue("r1", 42), claim("k1"))
    assert first.record is not None and not first.replayed
    assert first.response is not None and first.response.body == b"firstr1"
    again = await store.revenue.create_record(revenue("r2", 42), claim("k1", b"second"))
    assert again.replayed and again.record is None
    assert again.response is not None and (again.response.status, again.response.body) == (201, b"firstr1")
    assert (await store.revenue.find_records(Revenue, P, RecordQuery(), Page())).total == 1
    other_key = await store.revenue.create_record(revenue("r3", 42), claim("k2"))
    assert not other_key.replayed
    assert (await store.revenue.find_records(Revenue, P, RecordQuery(), Page())).total == 2


async def test_one_key_raced_creates_one_record(store) -> None:
    # The same derived id, as the resolver gives a keyed create: at most one insert can win.
    results = await asyncio.gather(
        *(store.revenue.create_record(revenue("same", 7), claim("race")) for _ in range(5)), return_exceptions=True)
    bodies = {r.response.body for r in results if not isinstance(r, BaseException) and r.response is not None}
    assert bodies == {b"firstsame"}
    assert (await store.revenue.find_records(Revenue, P, RecordQuery(), Page())).total == 1


async def test_the_span_of_revenue_is_its_earliest_and_latest_recorded_at(store) -> None:
    assert await store.revenue.revenue_span(P) is None
    for i, days in enumerate((3, -400, 0, 2000)):
        await store.revenue.create_record(revenue(f"r{i}", 1, recorded_at=T0 + timedelta(days=days)))
    await store.revenue.create_record(revenue("x", 1, project=OTHER, recorded_at=T0 + timedelta(days=5000)))
    assert await store.revenue.revenue_span(P) == (T0 - timedelta(days=400), T0 + timedelta(days=2000))
    assert await store.revenue.revenue_span(OTHER) == (T0 + timedelta(days=5000),) * 2


async def test_outcomes_count_toward_their_goals(store) -> None:
    for i, goal in enumerate(["g1", "g1", "g2", None]):
        await store.revenue.create_record(Outcome(project_id=P, id=f"o{i}", key=f"k{i}", name="won", goal_id=goal,
                                                  recorded_at=T0, created_at=T0, updated_at=T0))
    assert await store.revenue.outcome_counts(P, ["g1", "g2", "g3"]) == {"g1": 2, "g2": 1}
    assert await store.revenue.outcome_counts(OTHER, ["g1"]) == {}


async def test_deleting_a_project_deletes_its_revenue_records(store) -> None:
    for id_ in (P, OTHER):
        await store.projects.create_project(Project(project_id=id_, id=id_, name=f"name-{id_}", created_at=T0,
                                                    tracker_token=f"lgt_{id_}"))
    await store.revenue.create_record(revenue("r1", 1))
    await store.revenue.create_record(Customer(project_id=P, id="c1", created_at=T0, updated_at=T0))
    kept = await store.revenue.create_record(revenue("r1", 2, project=OTHER))
    assert await store.projects.delete_project(P) is True
    assert await store.revenue.records_by_ids(Revenue, P, ["r1"]) == []
    assert await store.revenue.records_by_ids(Customer, P, ["c1"]) == []
    assert await store.revenue.records_by_ids(Revenue, OTHER, ["r1"]) == [kept.record]
