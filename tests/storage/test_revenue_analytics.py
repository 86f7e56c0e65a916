"""The analytics engine's "revenues" source on every backend: one data set, one corpus, identical answers,
hand-computed values (test_analytics_parity.py's approach), and sums of money exact past 2**63.

The revenues are written through the revenue contract, as the API writes them. The range is the parity
suite's; the edges are its UTC edges (a leap day, a year's end on a Sunday, a Sunday night and Monday).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from resolvers.analytics import engine
from resolvers.core.errors import InputError
from storage.models import Revenue
from storage.models.analytics import AnalyticsQuery, GroupBy, Metric, OrderBy, Ref, Row
from storage.sqlite.store import SQLiteStore
from tests.mongo_server import OpenStore, server_for, server_ids
from tests.storage.test_analytics_parity import (
    END,
    LEAP_END,
    MARCH,
    MONDAY,
    NEW_YEAR,
    OTHER,
    START,
    SUNDAY,
    YEAR_END,
    P,
    epoch_ms,
    f,
    prop,
    rows,
)

HUGE = 9 * 10**18  # two of these pass 2**63: SQLite's SUM overflows there and MongoDB's $sum turns to a double
HOUR = timedelta(hours=1)


def q(**kw: Any) -> AnalyticsQuery:
    kw.setdefault("project_id", P)
    kw.setdefault("start", START)
    kw.setdefault("end", END)
    kw.setdefault("source", "revenues")
    kw.setdefault("metrics", (COUNT, AMOUNT))
    return AnalyticsQuery(**kw)


def revenue(id_: str, nanos: int, at: datetime, project: str = P, **kw: Any) -> Revenue:
    return Revenue(project_id=project, id=id_, key=f"k-{id_}", amount_nanos=nanos, recorded_at=at,
                   created_at=at + HOUR, updated_at=at + HOUR, **kw)


DATA = [
    revenue("r1", 100, YEAR_END, agent_id="a1", goal_id="g1", customer_id="c1", source="Stripe", session_id="s1"),
    revenue("r2", 250, NEW_YEAR, agent_id="a1", goal_id="g1", customer_id="c2"),
    revenue("r3", 7, LEAP_END, agent_id="a1", customer_id="c1", currency="EUR", description="first in euros"),
    revenue("r4", 5, MARCH, agent_id="a2", goal_id="g2", customer_id="c1", source="Stripe", session_id="s2"),
    revenue("r5", 1, SUNDAY, goal_id="g2"),
    revenue("r6", 30, MONDAY, agent_id="a2", customer_id="c3", source="API", currency="GBP", event_id="e6"),
    revenue("r7", HUGE, MARCH + HOUR, agent_id="big", session_id="s2"),
    revenue("r8", HUGE, MARCH + 2 * HOUR, agent_id="big"),
    revenue("r9", 1, MONDAY, agent_id="big"),
    revenue("x1", 999, MARCH, project=OTHER, agent_id="a1"),
]


async def load(store: Any) -> Any:
    for r in DATA:
        await store.revenue.create_record(r)
    return store


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> Any:
    store = SQLiteStore(tmp_path / "revenue.db")
    await store.start()
    yield await load(store)
    await store.close()


@pytest.fixture(params=server_ids())
async def mongo_store(request: pytest.FixtureRequest, open_mongo: OpenStore) -> Any:
    return await load(await open_mongo(server_for(request, request.param)))


@pytest.fixture(params=["sqlite", *server_ids()])
async def store(request: pytest.FixtureRequest, tmp_path: Path, open_mongo: OpenStore) -> Any:
    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "revenue.db")
        await backend.start()
        yield await load(backend)
        await backend.close()
    else:
        yield await load(await open_mongo(server_for(request, request.param)))


COUNT, AMOUNT = Metric("count"), Metric("sum", Ref("amount_nanos"))
CURRENCY = GroupBy(Ref("currency"))
CORPUS: dict[str, AnalyticsQuery] = {
    "total": q(),
    "other project": q(project_id=OTHER),
    "unknown project": q(project_id="nobody"),
    "by agent": q(group_by=(GroupBy(Ref("agent_id")), CURRENCY)),
    "by goal": q(group_by=(GroupBy(Ref("goal_id")), CURRENCY)),
    "by customer": q(group_by=(GroupBy(Ref("customer_id")), CURRENCY)),
    "by source, USD": q(group_by=(GroupBy(Ref("source")),), filters=(f("currency", "eq", "USD"),)),
    "by currency": q(group_by=(CURRENCY,)),
    "by session": q(group_by=(GroupBy(Ref("session_id")),), metrics=(COUNT, AMOUNT, Metric("unique_sessions"))),
    "by day": q(group_by=(GroupBy(bucket="day"), CURRENCY)),
    "by week": q(group_by=(GroupBy(bucket="week"), CURRENCY)),
    "by month": q(group_by=(GroupBy(bucket="month"), CURRENCY)),
    "agents in": q(group_by=(GroupBy(Ref("agent_id")),), filters=(f("agent_id", "in", ("a1", "a2", "zz")),)),
    "no agent": q(filters=(f("agent_id", "eq", None),)),
    "amount over 100": q(filters=(f("amount_nanos", "gt", 100),), group_by=(GroupBy(Ref("agent_id")),)),
    "since March": q(filters=(f("recorded_at", "gte", MARCH),), group_by=(CURRENCY,)),
    "created after": q(filters=(f("created_at", "gt", epoch_ms(MARCH)),)),
    "described": q(filters=(f("description", "contains", "euro"),), metrics=(COUNT, AMOUNT)),
    "with an event": q(filters=(f("event_id", "exists", True),)),
    "by id": q(group_by=(GroupBy(Ref("id")),), filters=(f("currency", "neq", "USD"),)),
    "amount stats": q(group_by=(CURRENCY,), metrics=(
        Metric("min", Ref("amount_nanos")), Metric("max", Ref("amount_nanos")),
        Metric("percentile", Ref("amount_nanos"), p=0.5), Metric("avg", Ref("amount_nanos")))),
    "top agents by amount": q(group_by=(GroupBy(Ref("agent_id")),), order_by=(OrderBy(metric=1),), limit=2),
    "half-open edge": q(start=MARCH, end=MARCH + HOUR, group_by=(GroupBy(Ref("agent_id")),)),
    "rate of Stripe": q(metrics=(Metric("rate", where=(f("source", "eq", "Stripe"),)),)),
}


async def answers(store: Any) -> dict[str, list[Row]]:
    return {name: await store.analytics.aggregate(query) for name, query in CORPUS.items()}


async def test_backends_agree(sqlite_store: Any, mongo_store: Any) -> None:
    expected, found = await answers(sqlite_store), await answers(mongo_store)
    mismatched = {name: (expected[name], found[name]) for name in expected if expected[name] != found[name]}
    assert not mismatched, mismatched
    # and exactly: the sum past 2**63 is the same int on both, not a float
    for answer in (expected, found):
        (total,) = answer["total"]
        assert total == Row((), (9, 2 * HUGE + 394)) and type(total.values[1]) is int


async def test_totals_by_hand(store: Any) -> None:
    aggregate = store.analytics.aggregate
    assert await aggregate(CORPUS["total"]) == rows(((), (9, 2 * HUGE + 394)))
    assert await aggregate(CORPUS["other project"]) == rows(((), (1, 999)))
    assert await aggregate(CORPUS["unknown project"]) == rows(((), (0, None)))
    assert await aggregate(CORPUS["by agent"]) == rows(
        ((None, "USD"), (1, 1)), (("a1", "EUR"), (1, 7)), (("a1", "USD"), (2, 350)), (("a2", "GBP"), (1, 30)),
        (("a2", "USD"), (1, 5)), (("big", "USD"), (3, 2 * HUGE + 1)))
    assert await aggregate(CORPUS["by goal"]) == rows(
        ((None, "EUR"), (1, 7)), ((None, "GBP"), (1, 30)), ((None, "USD"), (3, 2 * HUGE + 1)),
        (("g1", "USD"), (2, 350)), (("g2", "USD"), (2, 6)))
    assert await aggregate(CORPUS["by customer"]) == rows(
        ((None, "USD"), (4, 2 * HUGE + 2)), (("c1", "EUR"), (1, 7)), (("c1", "USD"), (2, 105)),
        (("c2", "USD"), (1, 250)), (("c3", "GBP"), (1, 30)))
    assert await aggregate(CORPUS["by source, USD"]) == rows(
        (("Manual",), (5, 2 * HUGE + 252)), (("Stripe",), (2, 105)))
    assert await aggregate(CORPUS["by currency"]) == rows(
        (("EUR",), (1, 7)), (("GBP",), (1, 30)), (("USD",), (7, 2 * HUGE + 357)))
    assert await aggregate(CORPUS["by session"]) == rows(
        ((None,), (6, HUGE + 289, 0)), (("s1",), (1, 100, 1)), (("s2",), (2, HUGE + 5, 1)))


async def test_buckets_on_recorded_at(store: Any) -> None:
    aggregate = store.analytics.aggregate

    def d(year: int, month: int, day: int) -> int:
        return epoch_ms(datetime(year, month, day, tzinfo=UTC))

    assert await aggregate(CORPUS["by day"]) == rows(
        ((d(2023, 12, 31), "USD"), (1, 100)), ((d(2024, 1, 1), "USD"), (1, 250)), ((d(2024, 2, 29), "EUR"), (1, 7)),
        ((d(2024, 3, 1), "USD"), (3, 2 * HUGE + 5)), ((d(2024, 3, 3), "USD"), (1, 1)),
        ((d(2024, 3, 4), "GBP"), (1, 30)), ((d(2024, 3, 4), "USD"), (1, 1)))
    # weeks start on Monday: Sunday 31 December is in the week of the 25th, the leap day in that of 26 February
    assert await aggregate(CORPUS["by week"]) == rows(
        ((d(2023, 12, 25), "USD"), (1, 100)), ((d(2024, 1, 1), "USD"), (1, 250)), ((d(2024, 2, 26), "EUR"), (1, 7)),
        ((d(2024, 2, 26), "USD"), (4, 2 * HUGE + 6)), ((d(2024, 3, 4), "GBP"), (1, 30)),
        ((d(2024, 3, 4), "USD"), (1, 1)))
    assert await aggregate(CORPUS["by month"]) == rows(
        ((d(2023, 12, 1), "USD"), (1, 100)), ((d(2024, 1, 1), "USD"), (1, 250)), ((d(2024, 2, 1), "EUR"), (1, 7)),
        ((d(2024, 3, 1), "GBP"), (1, 30)), ((d(2024, 3, 1), "USD"), (5, 2 * HUGE + 7)))


async def test_filters_by_hand(store: Any) -> None:
    aggregate = store.analytics.aggregate
    assert await aggregate(CORPUS["agents in"]) == rows((("a1",), (3, 357)), (("a2",), (2, 35)))
    assert await aggregate(CORPUS["no agent"]) == rows(((), (1, 1)))
    assert await aggregate(CORPUS["amount over 100"]) == rows((("a1",), (1, 250)), (("big",), (2, 2 * HUGE)))
    assert await aggregate(CORPUS["since March"]) == rows(
        (("GBP",), (1, 30)), (("USD",), (5, 2 * HUGE + 7)))
    # created an hour after recorded: the leap day's last millisecond (r3) was created after MARCH, as r4..r9
    assert await aggregate(CORPUS["created after"]) == rows(((), (7, 2 * HUGE + 44)))
    assert await aggregate(CORPUS["described"]) == rows(((), (1, 7)))
    assert await aggregate(CORPUS["with an event"]) == rows(((), (1, 30)))
    assert await aggregate(CORPUS["by id"]) == rows((("r3",), (1, 7)), (("r6",), (1, 30)))
    assert await aggregate(CORPUS["half-open edge"]) == rows((("a2",), (1, 5)))
    assert await aggregate(CORPUS["top agents by amount"]) == rows(
        (("big",), (3, 2 * HUGE + 1)), (("a1",), (3, 357)))
    stats = await aggregate(CORPUS["amount stats"])
    assert [r.keys for r in stats] == [("EUR",), ("GBP",), ("USD",)]
    # USD amounts sorted: 1 1 5 100 250 HUGE HUGE; the median is the 4th
    assert stats[2].values[:3] == (1, HUGE, 100) and stats[0].values == (7, 7, 7, 7.0)


async def test_revenues_have_no_properties_and_no_users(store: Any) -> None:
    for bad in (q(group_by=(GroupBy(prop("plan")),)), q(filters=(f("plan", "eq", "x", "property"),)),
                q(metrics=(Metric("unique_users"),)), q(metrics=(Metric("sum", prop("n")),))):
        with pytest.raises(ValueError):
            await store.analytics.aggregate(bad)
        with pytest.raises(InputError) as raised:
            engine.validate(bad)
        assert "revenues have no" in str(raised.value.problems[0].message)
    engine.validate(CORPUS["by session"])  # what the corpus asks is valid
