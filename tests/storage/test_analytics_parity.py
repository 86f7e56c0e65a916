"""Analytics on every backend: one fixture data set, one corpus of queries, identical answers.

The corpus runs on SQLite and on each MongoDB server and the answers must match exactly;
a representative subset also checks hand-computed values, so that the two are not just
equally wrong. The data set is committed through traces.commit_batch, as ingest does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from resolvers.traces.planner import BatchPlanner, Lifecycle
from storage.models import Event
from storage.models.analytics import (
    AnalyticsQuery,
    Filter,
    GroupBy,
    Metric,
    OrderBy,
    Ref,
    Row,
    StepQuery,
    StepRow,
    first_step_groups,
    percentile_rank,
    rounded,
)
from storage.sqlite.store import SQLiteStore
from tests.mongo_server import OpenStore, server_for, server_ids

P, OTHER = "proj", "other"
ms = timedelta(milliseconds=1)
# UTC edges: the last millisecond of a leap day and the first of March; the last of a year (a Sunday)
# and the first of the next (a Monday); a Sunday night and Monday morning inside one month.
LEAP_END = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)  # Thursday
MARCH = datetime(2024, 3, 1, tzinfo=UTC)  # Friday
YEAR_END = datetime(2023, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)  # Sunday
NEW_YEAR = datetime(2024, 1, 1, tzinfo=UTC)  # Monday
SUNDAY = datetime(2024, 3, 3, 23, 59, 59, 999000, tzinfo=UTC)
MONDAY = datetime(2024, 3, 4, tzinfo=UTC)
NOON = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
START, END = datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
INJECTION = "a'); DROP TABLE events;--"


def f(name: str, op: str, value: Any = None, kind: str = "field") -> Filter:
    return Filter(Ref(name, kind), op, value)  # type: ignore[arg-type]


def prop(name: str) -> Ref:
    return Ref(name, "property")


def q(**kw: Any) -> AnalyticsQuery:
    kw.setdefault("project_id", P)
    kw.setdefault("start", START)
    kw.setdefault("end", END)
    return AnalyticsQuery(**kw)


# -- the data set ---------------------------------------------------------------------------------------------

_ids = iter(range(10_000))


def agent_event(session: str, at: datetime, type_: str = "llm_call", project: str = P, **kw: Any) -> Event:
    return Event(
        project_id=project, id=f"e{next(_ids):05d}", session_id=session, agent_id=kw.pop("agent_id", "bot"),
        type=type_, timestamp=at, received_at=at, **kw,
    )


def tracked(session: str, at: datetime, type_: str = "pageview", user: str | None = "u1", **kw: Any) -> Event:
    return Event(
        project_id=kw.pop("project", P), id=f"e{next(_ids):05d}", session_id=session, agent_id=None, type=type_,
        timestamp=at, received_at=at, kind="tracker", user_id=user, **kw,
    )


PAGE = {"device": "desktop", "browser": "Firefox", "os": "Linux", "country": "FR"}


def data_set() -> list[tuple[str, list[Event], BatchPlanner]]:
    agent = [
        agent_event("a1", YEAR_END - timedelta(hours=1), "session_start"),
        agent_event("a1", YEAR_END, "llm_call", model="gpt", tokens_in=100, tokens_out=20, cost_nanos=1500,
                    duration_ms=120.5, payload={"n": 1, "plan": "pro"}),
        agent_event("a1", NEW_YEAR, "tool_call", duration_ms=30.0, payload={"n": 1.0, "plan": "free"}),
        agent_event("a1", NEW_YEAR + timedelta(hours=1), "session_end", severity="info"),
        agent_event("a2", LEAP_END, "llm_call", model="claude", tokens_in=300, tokens_out=50, cost_nanos=4500,
                    duration_ms=900.25, payload={"n": "1", "plan": None}),
        agent_event("a2", MARCH, "llm_call", model="claude", tokens_in=7, tokens_out=1, cost_nanos=3,
                    duration_ms=0.1, payload={"n": True, "café": "東京", "emoji": "🎉"}),
        agent_event("a2", MARCH + timedelta(minutes=5), "error", severity="error", duration_ms=0.2,
                    payload={"n": -3, "nested": {"a": 1, "b": [1, 2]}, "a.b": "dotted", INJECTION: 1}),
        agent_event("a2", MARCH + timedelta(minutes=6), "tool_call", duration_ms=0.3,
                    payload={"n": 2.5, "nested": {"a": 2}, '"x"': "quoted", "arr": [1, "x"], "k\\z": "back"}),
    ]
    hints = {
        agent[0].id: Lifecycle(agent_name="Bot", metadata={"plan": "pro", "n": 3, "café": "☕"}, tags=["t"]),
        agent[3].id: None,
    }
    visits = [
        tracked("t1", SUNDAY - timedelta(minutes=2), path="/", referrer_domain="google.com", utm_source="news",
                payload={"plan": "pro", "value": 10}, **PAGE),
        tracked("t1", SUNDAY, path="/pricing", referrer_domain=None, payload={"plan": "pro", "value": 5}, **PAGE),
        tracked("t1", MONDAY, "signup", path="/signup", payload={"plan": "team", "value": 0}, **PAGE),
        tracked("t2", NOON, user="u2", path="/", referrer_domain="bing.com", payload={"value": 2.5},
                device="mobile", browser="Safari", os="iOS", country="JP"),
        tracked("t2", NOON + timedelta(seconds=30), "signup", user="u2", path="/signup", payload={"value": 7},
                device="mobile", browser="Safari", os="iOS", country="JP"),
        tracked("t3", NOON + timedelta(hours=3), user=None, anonymous_id="anon-1", path="/", utm_source="news",
                payload={"plan": "free", "value": None}, device="tablet", country="東京"),
        tracked("t4", LEAP_END - timedelta(minutes=1), user="u3", path="/", payload={"value": 1}, country="DE"),
        tracked("t4", LEAP_END, "signup", user="u3", path="/signup", payload={"value": 3}, country="DE"),
    ]
    other = [
        agent_event("o1", NOON, "llm_call", project=OTHER, tokens_in=999, duration_ms=5.0, payload={"plan": "pro"}),
        tracked("o2", NOON, user="u1", project=OTHER, path="/", payload={"plan": "pro"}),
    ]
    return [
        (P, agent, BatchPlanner(P, {k: v for k, v in hints.items() if v})),
        (P, visits, BatchPlanner(P, kind="tracker")),
        (OTHER, other[:1], BatchPlanner(OTHER)),
        (OTHER, other[1:], BatchPlanner(OTHER, kind="tracker")),
    ]


async def load(store: Any) -> None:
    for project, events, planner in data_set():
        await store.traces.commit_batch(project, events, planner)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> Any:
    store = SQLiteStore(tmp_path / "analytics.db")
    await store.start()
    await load(store)
    yield store
    await store.close()


@pytest.fixture(params=server_ids())
async def mongo_store(request: pytest.FixtureRequest, open_mongo: OpenStore) -> Any:
    store = await open_mongo(server_for(request, request.param))
    await load(store)
    return store


@pytest.fixture(params=["sqlite", *server_ids()])
async def store(request: pytest.FixtureRequest, tmp_path: Path, open_mongo: OpenStore) -> Any:
    if request.param == "sqlite":
        backend: Any = SQLiteStore(tmp_path / "analytics.db")
        await backend.start()
        await load(backend)
        yield backend
        await backend.close()
    else:
        backend = await open_mongo(server_for(request, request.param))
        await load(backend)
        yield backend


# -- the corpus -----------------------------------------------------------------------------------------------

COUNT, USERS, SESSIONS = Metric("count"), Metric("unique_users"), Metric("unique_sessions")
DURATION = Ref("duration_ms")
CORPUS: dict[str, AnalyticsQuery] = {
    "total": q(),
    "total three metrics": q(metrics=(COUNT, USERS, SESSIONS)),
    "other project": q(project_id=OTHER, metrics=(COUNT, USERS, Metric("sum", Ref("tokens_in")))),
    "unknown project": q(project_id="nobody", metrics=(COUNT, Metric("sum", DURATION), Metric("rate"))),
    "empty range": q(start=MARCH, end=MARCH, group_by=(GroupBy(bucket="day"),)),
    "empty range total": q(start=END, end=END + timedelta(days=1), metrics=(COUNT, Metric("avg", DURATION))),
    "half-open edge": q(start=MARCH, end=MARCH + ms, group_by=(GroupBy(Ref("type")),)),
    "by hour": q(group_by=(GroupBy(bucket="hour"),), metrics=(COUNT, USERS)),
    "by day": q(group_by=(GroupBy(bucket="day"),), metrics=(COUNT, USERS, SESSIONS)),
    "by week": q(group_by=(GroupBy(bucket="week"),)),
    "by month": q(group_by=(GroupBy(bucket="month"),), metrics=(COUNT, Metric("sum", Ref("cost_nanos")))),
    "by hour of day": q(group_by=(GroupBy(bucket="hour_of_day"),)),
    "by day of week": q(group_by=(GroupBy(bucket="day_of_week"),), metrics=(COUNT, SESSIONS)),
    "by type": q(group_by=(GroupBy(Ref("type")),), metrics=(COUNT, Metric("avg", DURATION))),
    "by kind and type": q(group_by=(GroupBy(Ref("kind")), GroupBy(Ref("type"))), metrics=(COUNT, USERS)),
    "by day and path": q(group_by=(GroupBy(bucket="day"), GroupBy(Ref("path"))), filters=(f("kind", "eq", "tracker"),)),
    "by country": q(group_by=(GroupBy(Ref("country")),), metrics=(COUNT, USERS)),
    "by referrer domain": q(group_by=(GroupBy(Ref("referrer_domain")),)),
    "by device browser os": q(group_by=(GroupBy(Ref("device")), GroupBy(Ref("browser")), GroupBy(Ref("os")))),
    "by utm source": q(group_by=(GroupBy(Ref("utm_source")),), metrics=(COUNT, Metric("rate", where=(
        f("type", "eq", "signup"),)))),
    "by user": q(group_by=(GroupBy(Ref("user_id")),), metrics=(COUNT, SESSIONS)),
    "by session": q(group_by=(GroupBy(Ref("session_id")),), metrics=(COUNT, Metric("max", Ref("timestamp")))),
    "by model tokens": q(group_by=(GroupBy(Ref("model")),), metrics=(
        Metric("sum", Ref("tokens_in")), Metric("sum", Ref("tokens_out")), Metric("avg", Ref("cost_nanos")),
        Metric("min", DURATION), Metric("max", DURATION))),
    "by property n": q(group_by=(GroupBy(prop("n")),), metrics=(COUNT, SESSIONS)),
    "by property plan": q(group_by=(GroupBy(prop("plan")),), metrics=(COUNT, USERS)),
    "by property plan desc": q(group_by=(GroupBy(prop("plan")),), order_by=(OrderBy(group=0),)),
    "by unicode property": q(group_by=(GroupBy(prop("café")),)),
    "by nested property": q(group_by=(GroupBy(prop("nested")),)),
    "by dotted key": q(group_by=(GroupBy(prop("a.b")),)),
    "by injection key": q(group_by=(GroupBy(prop(INJECTION)),)),
    "by quoted key": q(group_by=(GroupBy(prop('"x"')),), filters=(f('"x"', "exists", True, "property"),)),
    "by backslash key": q(group_by=(GroupBy(prop("k\\z")),)),
    "by array property": q(group_by=(GroupBy(prop("arr")),)),
    "eq number matches 1.0": q(filters=(f("n", "eq", 1, "property"),)),
    "eq string": q(filters=(f("n", "eq", "1", "property"),)),
    "eq true": q(filters=(f("n", "eq", True, "property"),)),
    "eq null": q(filters=(f("plan", "eq", None, "property"),)),
    "neq missing counts": q(filters=(f("plan", "neq", "pro", "property"),), group_by=(GroupBy(prop("plan")),)),
    "neq field": q(filters=(f("country", "neq", "FR"),), group_by=(GroupBy(Ref("country")),)),
    "in": q(filters=(f("type", "in", ("signup", "error")),), group_by=(GroupBy(Ref("type")),)),
    "in empty": q(filters=(f("type", "in", ()),)),
    "in mixed property": q(filters=(f("n", "in", (1, "1", None), "property"),), metrics=(COUNT, SESSIONS)),
    "contains": q(filters=(f("path", "contains", "sign"),), metrics=(COUNT, USERS)),
    "contains property unicode": q(filters=(f("café", "contains", "東", "property"),)),
    "contains on number property": q(filters=(f("value", "contains", "1", "property"),)),
    "gt number property": q(filters=(f("value", "gt", 2.5, "property"),),
                            metrics=(COUNT, Metric("sum", prop("value")))),
    "gte lte": q(filters=(f("value", "gte", 1, "property"), f("value", "lte", 5, "property"))),
    "lt string": q(filters=(f("path", "lt", "/s"),), group_by=(GroupBy(Ref("path")),)),
    "gt string property": q(filters=(f("plan", "gt", "free", "property"),)),
    "gt on text field with number": q(filters=(f("path", "gt", 1),)),
    "time field filter": q(filters=(f("timestamp", "gte", MARCH),), group_by=(GroupBy(bucket="day"),)),
    "time field filter ms": q(filters=(f("timestamp", "lt", int(MARCH.timestamp() * 1000)),)),
    "exists true": q(filters=(f("plan", "exists", True, "property"),)),
    "exists false": q(filters=(f("plan", "exists", False, "property"),)),
    "exists field": q(filters=(f("user_id", "exists", False),), group_by=(GroupBy(Ref("kind")),)),
    "filter on missing property": q(filters=(f("nothing", "eq", "x", "property"),), metrics=(COUNT, USERS)),
    "neq on missing property": q(filters=(f("nothing", "neq", "x", "property"),)),
    "sum avg min max property": q(group_by=(GroupBy(Ref("kind")),), metrics=(
        Metric("sum", prop("value")), Metric("avg", prop("value")), Metric("min", prop("value")),
        Metric("max", prop("value")), Metric("sum", prop("n")), Metric("avg", prop("n")))),
    "sum over nothing": q(metrics=(Metric("sum", prop("nothing")), Metric("avg", prop("plan")),
                                   Metric("percentile", prop("nothing"), p=0.5))),
    "percentiles": q(metrics=(Metric("percentile", DURATION, p=0.5), Metric("percentile", DURATION, p=0.9),
                              Metric("percentile", DURATION, p=1.0), Metric("percentile", DURATION, p=0.01))),
    "percentile per group two refs": q(group_by=(GroupBy(Ref("kind")),), metrics=(
        Metric("percentile", DURATION, p=0.5), Metric("percentile", prop("value"), p=0.75),
        Metric("percentile", Ref("tokens_in"), p=0.3))),
    "rate": q(metrics=(Metric("rate", where=(f("type", "eq", "signup"),)),
                       Metric("rate", where=(f("kind", "eq", "tracker"), f("country", "eq", "JP"))),
                       Metric("rate"))),
    "order by count desc limit": q(group_by=(GroupBy(Ref("type")),), order_by=(OrderBy(metric=0),), limit=2),
    "order by metric asc then key": q(group_by=(GroupBy(Ref("path")),), metrics=(COUNT, USERS),
                                      order_by=(OrderBy(metric=1, descending=False),), limit=3),
    "order by group desc": q(group_by=(GroupBy(bucket="day"),), order_by=(OrderBy(group=0),), limit=4),
    "order by null metric": q(group_by=(GroupBy(Ref("type")),), metrics=(Metric("avg", prop("value")),),
                              order_by=(OrderBy(metric=0),)),
    "limit zero": q(group_by=(GroupBy(Ref("type")),), limit=0),
    "limit one total": q(limit=1),
    "sessions total": q(source="sessions", metrics=(COUNT, USERS, SESSIONS, Metric("sum", Ref("event_count")))),
    "sessions by kind": q(source="sessions", group_by=(GroupBy(Ref("kind")),), metrics=(
        COUNT, Metric("avg", DURATION), Metric("max", DURATION), Metric("sum", Ref("tokens_in")),
        Metric("percentile", Ref("event_count"), p=0.5))),
    "sessions duration": q(source="sessions", group_by=(GroupBy(Ref("id")),), metrics=(
        Metric("sum", DURATION), Metric("min", Ref("ended_at")), Metric("max", Ref("last_event_at")))),
    "sessions by entry path": q(source="sessions", group_by=(GroupBy(Ref("entry_path")), GroupBy(Ref("exit_path")))),
    "sessions by status and day": q(source="sessions", group_by=(GroupBy(Ref("status")), GroupBy(bucket="day"))),
    "sessions metadata property": q(source="sessions", group_by=(GroupBy(prop("plan")),), metrics=(
        COUNT, Metric("sum", prop("n")))),
    "sessions filter duration": q(source="sessions", filters=(f("duration_ms", "exists", True),),
                                  metrics=(COUNT, Metric("rate", where=(f("duration_ms", "gt", 60_000),)))),
    "sessions by month": q(source="sessions", group_by=(GroupBy(bucket="month"),), metrics=(COUNT, USERS)),
}


def steps_corpus() -> dict[str, StepQuery]:
    visit, signup = (f("type", "eq", "pageview"),), (f("type", "eq", "signup"),)
    return {
        "funnel": StepQuery(P, START, END, steps=(visit, signup)),
        "funnel by session, breakdown country": StepQuery(
            P, START, END, steps=(visit, signup), actor="session_id", breakdown=Ref("country")),
        "funnel property breakdown": StepQuery(
            P, START, END, steps=((), signup), actor="session_id", breakdown=prop("plan"), limit=5),
        "funnel filtered": StepQuery(P, START, END, steps=(visit,), filters=(f("country", "neq", "DE"),),
                                     actor="anonymous_id"),
        "no steps": StepQuery(P, START, END, steps=()),
        "funnel by user, breakdown plan": StepQuery(P, START, END, steps=(visit, signup), breakdown=prop("plan")),
    }


async def answers(store: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, query in CORPUS.items():
        out[name] = await store.analytics.aggregate(query)
    for name, sq in steps_corpus().items():
        out["steps: " + name] = await store.analytics.steps(sq)
    for name in FIRST_STEPS:
        out["first steps: " + name] = await store.analytics.first_step_conversions(steps_corpus()[name])
    return out


# Two-step queries with a breakdown: what first_step_conversions (experiments' counts) takes.
FIRST_STEPS = ("funnel by session, breakdown country", "funnel property breakdown", "funnel by user, breakdown plan")


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) + len(steps_corpus()) >= 40


async def test_backends_agree(sqlite_store: Any, mongo_store: Any) -> None:
    expected, found = await answers(sqlite_store), await answers(mongo_store)
    mismatched = [name for name in expected if expected[name] != found[name]]
    detail = {name: (expected[name], found[name]) for name in mismatched}
    assert not mismatched, detail
    # and not vacuously: keys keep their JSON types on both
    for rows in (expected["by property n"], found["by property n"]):
        keys = [r.keys[0] for r in rows]
        assert [type(k) for k in keys] == [type(None), int, int, float, float, str, bool], keys


# -- hand-computed answers, on every backend --------------------------------------------------------------


def rows(*pairs: tuple[tuple[Any, ...], tuple[Any, ...]]) -> list[Row]:
    return [Row(keys, values) for keys, values in pairs]


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def test_totals_and_isolation(store: Any) -> None:
    aggregate = store.analytics.aggregate
    assert await aggregate(CORPUS["total three metrics"]) == rows(((), (16, 3, 6)))
    assert await aggregate(CORPUS["other project"]) == rows(((), (2, 1, 999)))
    assert await aggregate(CORPUS["unknown project"]) == rows(((), (0, None, None)))
    assert await aggregate(CORPUS["empty range"]) == []
    assert await aggregate(CORPUS["half-open edge"]) == rows((("llm_call",), (1,)))
    assert await aggregate(CORPUS["limit zero"]) == []


async def test_buckets_at_the_edges(store: Any) -> None:
    aggregate = store.analytics.aggregate
    day = await aggregate(q(group_by=(GroupBy(bucket="day"),), start=LEAP_END, end=MARCH + ms))
    assert day == rows(((epoch_ms(datetime(2024, 2, 29, tzinfo=UTC)),), (2,)), ((epoch_ms(MARCH),), (1,)))
    month = await aggregate(q(group_by=(GroupBy(bucket="month"),), start=YEAR_END, end=MARCH + ms))
    assert [r.keys[0] for r in month] == [epoch_ms(datetime(2023, 12, 1, tzinfo=UTC)), epoch_ms(NEW_YEAR),
                                         epoch_ms(datetime(2024, 2, 1, tzinfo=UTC)), epoch_ms(MARCH)]
    assert [r.values[0] for r in month] == [1, 2, 3, 1]
    week = await aggregate(q(group_by=(GroupBy(bucket="week"),), start=SUNDAY, end=MONDAY + ms))
    assert week == rows(((epoch_ms(datetime(2024, 2, 26, tzinfo=UTC)),), (1,)), ((epoch_ms(MONDAY),), (1,)))
    dow = await aggregate(q(group_by=(GroupBy(bucket="day_of_week"),), start=YEAR_END, end=NEW_YEAR + ms))
    assert dow == rows(((0,), (1,)), ((1,), (1,)))  # Sunday 0, Monday 1
    hour = await aggregate(q(group_by=(GroupBy(bucket="hour_of_day"), GroupBy(bucket="hour")),
                             start=LEAP_END, end=MARCH + ms))
    assert hour == rows(((0, epoch_ms(MARCH)), (1,)), ((23, epoch_ms(LEAP_END) - 3_599_999), (2,)))


async def test_property_keys_keep_json_types(store: Any) -> None:
    found = await store.analytics.aggregate(CORPUS["by property n"])
    assert found == rows(((None,), (10, 5)), ((-3,), (1, 1)), ((1,), (1, 1)), ((1.0,), (1, 1)),
                         ((2.5,), (1, 1)), (("1",), (1, 1)), ((True,), (1, 1)))
    assert await store.analytics.aggregate(CORPUS["by injection key"]) == rows(((None,), (15,)), ((1,), (1,)))
    assert await store.analytics.aggregate(CORPUS["by quoted key"]) == rows((("quoted",), (1,)))
    assert await store.analytics.aggregate(CORPUS["by dotted key"]) == rows(((None,), (15,)), (("dotted",), (1,)))
    assert await store.analytics.aggregate(CORPUS["eq number matches 1.0"]) == rows(((), (2,)))
    assert await store.analytics.aggregate(CORPUS["in mixed property"]) == rows(((), (13, 6)))


async def test_metrics_by_hand(store: Any) -> None:
    aggregate = store.analytics.aggregate
    # durations of the agent events: 120.5, 30.0, 900.25, 0.1, 0.2, 0.3 (sorted 0.1 0.2 0.3 30 120.5 900.25)
    assert await aggregate(CORPUS["percentiles"]) == rows(((), (0.3, 900.25, 900.25, 0.1)))
    assert percentile_rank(0.3, 10) == 3 and percentile_rank(0.5, 6) == 3 and percentile_rank(0.01, 6) == 1
    model = await aggregate(CORPUS["by model tokens"])
    assert model == rows(((None,), (None, None, None, 0.2, 30.0)), (("claude",), (307, 51, 2251.5, 0.1, 900.25)),
                         (("gpt",), (100, 20, 1500.0, 120.5, 120.5)))
    # 3 signups over 8 tracked rows of 16; 2 JP rows; rate() with no where is 1
    assert await aggregate(CORPUS["rate"]) == rows(((), (rounded(3 / 16), 2 / 16, 1.0)))
    values = await aggregate(CORPUS["sum avg min max property"])
    assert values == rows((("agent",), (None, None, None, None, 1.5, 0.375)),
                          (("tracker",), (28.5, rounded(28.5 / 7), 0, 10, None, None)))
    assert await aggregate(CORPUS["gt number property"]) == rows(((), (4, 25)))
    assert await aggregate(CORPUS["by user"]) == rows(((None,), (9, 3)), (("u1",), (3, 1)), (("u2",), (2, 1)),
                                                     (("u3",), (2, 1)))
    assert await aggregate(CORPUS["order by count desc limit"]) == rows((("pageview",), (5,)), (("llm_call",), (3,)))


async def test_sessions(store: Any) -> None:
    aggregate = store.analytics.aggregate
    assert await aggregate(CORPUS["sessions total"]) == rows(((), (6, 3, 6, 16)))
    durations = await aggregate(q(source="sessions", group_by=(GroupBy(Ref("id")),),
                                  metrics=(Metric("sum", DURATION),)))
    # a1 ended: session_start an hour before YEAR_END, session_end an hour after NEW_YEAR; the rest run
    # to their last event: a2 LEAP_END to MARCH + 6 min, t1 SUNDAY - 2 min to MONDAY, t2 30 s, t3 one
    # event, t4 LEAP_END - 1 min to LEAP_END.
    assert durations == rows((("a1",), (2 * 3_600_000 + 1,)), (("a2",), (360_001,)), (("t1",), (120_001,)),
                             (("t2",), (30_000,)), (("t3",), (0,)), (("t4",), (60_000,)))
    entry = await aggregate(CORPUS["sessions by entry path"])
    assert entry == rows(((None, None), (2,)), (("/", "/"), (1,)), (("/", "/signup"), (3,)))


async def test_steps(store: Any) -> None:
    found = await store.analytics.steps(steps_corpus()["funnel"])
    assert found == [
        StepRow("u1", 0, epoch_ms(SUNDAY) - 120_000), StepRow("u1", 0, epoch_ms(SUNDAY)),
        StepRow("u1", 1, epoch_ms(MONDAY)), StepRow("u2", 0, epoch_ms(NOON)),
        StepRow("u2", 1, epoch_ms(NOON) + 30_000), StepRow("u3", 0, epoch_ms(LEAP_END) - 60_000),
        StepRow("u3", 1, epoch_ms(LEAP_END)),
    ]
    limited = await store.analytics.steps(steps_corpus()["funnel property breakdown"])
    assert [(r.actor, r.step, r.breakdown) for r in limited] == [
        ("a1", 0, None), ("a1", 0, "pro"), ("a1", 0, "free"), ("a1", 0, None), ("a2", 0, None)]
    assert await store.analytics.steps(steps_corpus()["no steps"]) == []


async def test_first_step_conversions_is_the_reference_walk(store: Any) -> None:
    converted = 0
    for name in FIRST_STEPS:
        query = replace(steps_corpus()[name], limit=1_000_000)
        expected = first_step_groups(await store.analytics.steps(query))
        assert expected, name
        assert await store.analytics.first_step_conversions(replace(query, limit=1)) == expected, name
        converted += sum(g.converted for g in expected)
    assert converted > 0  # the data exercises both counts
    with pytest.raises(ValueError):
        await store.analytics.first_step_conversions(steps_corpus()["funnel"])  # no breakdown


async def test_unsafe_queries_are_refused(store: Any) -> None:
    with pytest.raises(ValueError):
        await store.analytics.aggregate(q(group_by=(GroupBy(Ref("payload; DROP TABLE events")),)))
    with pytest.raises(ValueError):
        await store.analytics.steps(StepQuery(P, START, END, steps=((),), actor="agent_id; --"))
    assert (await store.analytics.aggregate(q()))[0].values == (16,)
