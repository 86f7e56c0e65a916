"""Revenue attribution through the analytics engine on every store: all-time reports past the engine's range
limit, more groups than one engine query answers, more ids than one "in" filter takes, sums past 2**63."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from resolvers.analytics import engine
from resolvers.core.services import Services
from resolvers.revenue import attribution
from resolvers.revenue.attribution import Total
from storage.contract import RecordQuery
from storage.models import Revenue
from storage.sqlite.store import SQLiteStore
from tests.mongo_server import OpenStore, server_for, server_ids

P, OTHER = "proj", "other"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HUGE = 9 * 10**18


def revenue(id_: str, nanos: int, days: float = 0, project: str = P, **kw: Any) -> Revenue:
    at = T0 + timedelta(days=days)
    return Revenue(project_id=project, id=id_, key=f"k-{id_}", amount_nanos=nanos, recorded_at=at, created_at=at,
                   updated_at=at, **kw)


@pytest.fixture(params=["sqlite", *server_ids()])
async def services(request: pytest.FixtureRequest, tmp_path: Path, open_mongo: OpenStore) -> Any:
    if request.param == "sqlite":
        store: Any = SQLiteStore(tmp_path / "attribution.db")
        await store.start()
        yield Services.build(store)
        await store.close()
    else:
        yield Services.build(await open_mongo(server_for(request, request.param)))


async def write(services: Services, *records: Revenue) -> None:
    for r in records:
        await services.store.revenue.create_record(r)


async def test_all_time_spans_more_than_the_engines_range(services: Services) -> None:
    # Three years apart, past engine.MAX_RANGE (400 days) twice; two amounts past 2**63 together.
    await write(services, revenue("old", 5, -1000, agent_id="a1"), revenue("mid", 7, -500, agent_id="a1"),
                revenue("h1", HUGE, 0, agent_id="a1"), revenue("h2", HUGE, 0.5, agent_id="a1", currency="EUR"),
                revenue("h3", HUGE, 1, agent_id="a1", currency="EUR"), revenue("late", 1, 300, agent_id="a2"),
                revenue("x", 99, -1000, project=OTHER, agent_id="a1"))
    assert await attribution.totals(services, P, "agent") == [
        Total("a1", "EUR", 2, 2 * HUGE), Total("a1", "USD", 3, HUGE + 12), Total("a2", "USD", 1, 1)]
    assert await attribution.totals(services, P, "month") == [
        Total("2023-08-01", "USD", 1, 5), Total("2024-12-01", "USD", 1, 7), Total("2026-05-01", "EUR", 2, 2 * HUGE),
        Total("2026-05-01", "USD", 1, HUGE), Total("2027-02-01", "USD", 1, 1)]
    since = await attribution.totals(services, P, "currency", RecordQuery(since=T0 - timedelta(days=600)))
    assert since == [Total("EUR", "EUR", 2, 2 * HUGE), Total("USD", "USD", 3, HUGE + 8)]
    # an explicit range of 1,100 days, cut into the engine's
    wide = RecordQuery({"agent_id": "a1"}, T0 - timedelta(days=1100), T0 + timedelta(hours=13))
    assert await attribution.totals(services, P, "currency", wide) == [
        Total("EUR", "EUR", 1, HUGE), Total("USD", "USD", 3, HUGE + 12)]
    assert await attribution.totals(services, "nobody", "agent") == []
    assert await attribution.totals(services, P, "agent", RecordQuery(since=T0, until=T0)) == []


async def test_more_groups_than_one_engine_query_answers(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_ROWS", 3)  # pages of 3 groups; each customer has two currencies
    await write(services, revenue("none", 1, 0))
    for i in range(5):
        await write(services, revenue(f"u{i}", 10 + i, i, customer_id=f"c{i}"),
                    revenue(f"e{i}", 20 + i, i, customer_id=f"c{i}", currency="EUR"))
    expected = [Total(None, "USD", 1, 1)] + [
        Total(f"c{i}", currency, 1, base + i) for i in range(5) for currency, base in (("EUR", 20), ("USD", 10))]
    assert await attribution.totals(services, P, "customer") == expected
    days = await attribution.totals(services, P, "day")
    assert [(t.key, t.currency, t.amount_nanos) for t in days] == [
        ("2026-05-01", "EUR", 20), ("2026-05-01", "USD", 11), *(
            (f"2026-05-0{i + 1}", currency, base + i) for i in range(1, 5) for currency, base in (
                ("EUR", 20), ("USD", 10)))]


async def test_more_ids_than_one_in_filter_takes(services: Services) -> None:
    await write(services, revenue("r0", 1, agent_id="agent-000"), revenue("r1", 2, agent_id="agent-150"),
                revenue("r2", HUGE, agent_id="agent-249"), revenue("r3", HUGE, agent_id="agent-249"),
                revenue("r4", 8, agent_id="agent-249", currency="EUR"), revenue("r5", 16, agent_id="agent-250"))
    wanted = [f"agent-{i:03}" for i in range(250)]
    found = await attribution.revenue_of(services, P, "agent_id", wanted)
    assert found == {"agent-000": [Total("agent-000", "USD", 1, 1)], "agent-150": [Total("agent-150", "USD", 1, 2)],
                     "agent-249": [Total("agent-249", "EUR", 1, 8), Total("agent-249", "USD", 2, 2 * HUGE)]}
    earned = await attribution.agent_earnings(services, P, wanted, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert len(earned) == 250 and earned["agent-249"].revenue_nanos == 2 * HUGE  # USD only
    assert earned["agent-150"].revenue_nanos == 2 and earned["agent-001"].revenue_nanos == 0
    assert await attribution.revenue_of(services, P, "agent_id", []) == {}


async def test_the_first_day_of_the_epoch_is_a_day_like_another(services: Services) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    days = (epoch - T0) / timedelta(days=1)  # -20574.5, exactly
    await write(services, revenue("d0", 3, days), revenue("d1", 4, days + 1.5))
    assert await attribution.totals(services, P, "day") == [
        Total("1970-01-01", "USD", 1, 3), Total("1970-01-02", "USD", 1, 4)]
