"""Seed 002's GET /analytics over real HTTP, on a known data set, with every value worked out by hand.

The rules are the reference backend's (routes/analytics.js of the AgentLens backend); the window
is ours (resolvers/traces/overview.py): 400 UTC days up to the end of tomorrow, and the seed's last
90 days for sessions_over_time. Project alpha holds six agent sessions in the window, one from
before it, and a tracked product visit; project beta holds its own run; gamma is empty.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from graph.app.factory import create_app
from graph.app.settings import Settings
from storage.mongo.store import MongoStore
from tests.conftest import Api, ApiFactory
from tests.graph.test_security import ADMIN, new_project
from tests.mongo_server import MongoServer, new_database_name

NOW = datetime.now(UTC)
TODAY = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC)
D1, D2 = TODAY - timedelta(days=1), TODAY - timedelta(days=2)
OLD, ANCIENT = TODAY - timedelta(days=200), TODAY - timedelta(days=500)


def at(day: datetime, hours: int, minutes: int = 0, seconds: float = 0) -> str:
    instant = day + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day(d: datetime) -> str:
    return d.strftime("%Y-%m-%d")


ALPHA = [
    # a1: research-agent two days ago, ended after 61.25 s; the SDK's final totals 300/100.
    {"event_type": "session_start", "session_id": "a1", "agent_name": "research-agent", "timestamp": at(D2, 10)},
    {"event_type": "llm_call", "session_id": "a1", "timestamp": at(D2, 10, 0, 1), "model": "gpt-4",
     "tokens_in": 100, "tokens_out": 40, "duration_ms": 250.25},
    {"event_type": "tool_call", "session_id": "a1", "timestamp": at(D2, 10, 0, 2), "duration_ms": 400},
    {"event_type": "llm_call", "session_id": "a1", "timestamp": at(D2, 10, 0, 5), "model": "gpt-4",
     "tokens_in": 200, "tokens_out": 60, "duration_ms": 99.75},
    {"event_type": "tool_error", "session_id": "a1", "timestamp": at(D2, 10, 0, 6)},
    {"event_type": "session_end", "session_id": "a1", "ended_at": at(D2, 10, 1, 1.25), "status": "completed",
     "total_tokens_in": 300, "total_tokens_out": 100},
    # a2: research-agent yesterday, ended in error after 30 s; 150/50 counted here.
    {"event_type": "session_start", "session_id": "a2", "agent_name": "research-agent", "timestamp": at(D1, 9)},
    {"event_type": "llm_call", "session_id": "a2", "timestamp": at(D1, 9, 0, 1), "model": "gpt-4o",
     "tokens_in": 150, "tokens_out": 50, "duration_ms": 300},
    {"event_type": "tool_call", "session_id": "a2", "timestamp": at(D1, 9, 0, 2), "duration_ms": 500.5},
    {"event_type": "decision", "session_id": "a2", "timestamp": at(D1, 9, 0, 3), "duration_ms": 10},
    {"event_type": "session_end", "session_id": "a2", "ended_at": at(D1, 9, 0, 30), "status": "error"},
    # a3: writer-agent yesterday, still running; a call without a duration.
    {"event_type": "session_start", "session_id": "a3", "agent_name": "writer-agent", "timestamp": at(D1, 14)},
    {"event_type": "llm_call", "session_id": "a3", "timestamp": at(D1, 14, 0, 5), "model": "gpt-4",
     "tokens_in": 500, "tokens_out": 501},
    # a4: writer-agent today, nothing done yet.
    {"event_type": "session_start", "session_id": "a4", "agent_name": "writer-agent", "timestamp": at(TODAY, 1)},
    # a5: no session_start (no agent name): opened by its only call.
    {"event_type": "llm_call", "session_id": "a5", "timestamp": at(TODAY, 2, 30), "model": "claude-3",
     "tokens_in": 7, "tokens_out": 3, "duration_ms": 0.125},
    # old: 200 days ago (in the window, not in the 90-day series); its call names an empty model.
    {"event_type": "session_start", "session_id": "old", "agent_name": "archive-agent", "timestamp": at(OLD, 8)},
    {"event_type": "llm_call", "session_id": "old", "timestamp": at(OLD, 8, 0, 1), "model": "",
     "tokens_in": 10, "tokens_out": 10, "duration_ms": 5},
    {"event_type": "session_end", "session_id": "old", "ended_at": at(OLD, 8, 0, 5), "status": "completed"},
    # ancient: 500 days ago, before the window; counted nowhere.
    {"event_type": "session_start", "session_id": "ancient", "agent_name": "archive-agent",
     "timestamp": at(ANCIENT, 8)},
    {"event_type": "llm_call", "session_id": "ancient", "timestamp": at(ANCIENT, 8, 0, 1), "model": "gpt-4",
     "tokens_in": 1000, "tokens_out": 1000, "duration_ms": 1},
    {"event_type": "session_end", "session_id": "ancient", "ended_at": at(ANCIENT, 8, 10), "status": "completed"},
]
BETA = [
    {"event_type": "session_start", "session_id": "b1", "agent_name": "beta-agent", "timestamp": at(D1, 20)},
    {"event_type": "llm_call", "session_id": "b1", "timestamp": at(D1, 20, 0, 1), "model": "gpt-4",
     "tokens_in": 9000, "tokens_out": 9000, "duration_ms": 1},
    {"event_type": "session_end", "session_id": "b1", "ended_at": at(D1, 20, 5), "status": "error"},
]
# A product visit tracked in alpha (seed 003): a tracker session and a page_view, in the same hours.
TRACKED = {"event": "page_view", "user_id": "u1", "session_id": "a-visit", "properties": {"path": "/home"},
           "timestamp": int((D1 + timedelta(hours=10)).timestamp() * 1000)}

EXPECTED = {
    "overview": {
        "total_sessions": 6,  # a1, a2, a3, a4, a5, old
        "active_sessions": 3,  # a3, a4, a5
        "completed_sessions": 2,  # a1, old
        "error_sessions": 1,  # a2
        "error_rate": 16.67,  # Math.round(1 / 6 * 10000) / 100
        "total_events": 10,  # a1 4, a2 3, a3 1, a5 1, old 1: no start/end records
        "total_tokens": 1631,
        "total_tokens_in": 967,  # 300 + 150 + 500 + 0 + 7 + 10
        "total_tokens_out": 664,  # 100 + 50 + 501 + 0 + 3 + 10
        "avg_tokens_per_session": 272,  # Math.round(1631 / 6 = 271.83)
        "earliest_session": at(OLD, 8),
        "latest_session": at(TODAY, 2, 30),  # a5, from its first event
    },
    # a1 61250, a2 30000, old 5000 (a3, a4, a5 have not ended); avg 32083.33
    "duration": {"avg_ms": 32083, "min_ms": 5000, "max_ms": 61250},
    "top_agents": [
        {"agent_name": "writer-agent", "session_count": 2, "total_tokens": 1001, "avg_tokens": 501},  # 500.5 up
        {"agent_name": "research-agent", "session_count": 2, "total_tokens": 600, "avg_tokens": 300},
        {"agent_name": "archive-agent", "session_count": 1, "total_tokens": 20, "avg_tokens": 20},
        {"agent_name": None, "session_count": 1, "total_tokens": 10, "avg_tokens": 10},
    ],
    "model_usage": [
        # avg over the two calls that reported a duration: (250.25 + 99.75) / 2
        {"model": "gpt-4", "call_count": 3, "total_tokens": 1401, "total_tokens_in": 800, "total_tokens_out": 601,
         "avg_duration_ms": 175},
        {"model": "gpt-4o", "call_count": 1, "total_tokens": 200, "total_tokens_in": 150, "total_tokens_out": 50,
         "avg_duration_ms": 300},
        # Math.round(0.125 * 100) / 100: the half goes up (Python's round(0.125, 2) is 0.12)
        {"model": "claude-3", "call_count": 1, "total_tokens": 10, "total_tokens_in": 7, "total_tokens_out": 3,
         "avg_duration_ms": 0.13},
    ],
    "event_types": [
        {"event_type": "llm_call", "count": 6},
        {"event_type": "tool_call", "count": 2},
        {"event_type": "decision", "count": 1},  # equal counts by name
        {"event_type": "tool_error", "count": 1},
    ],
    "sessions_over_time": [
        {"day": day(D2), "session_count": 1, "total_tokens": 400},
        {"day": day(D1), "session_count": 2, "total_tokens": 1201},
        {"day": day(TODAY), "session_count": 2, "total_tokens": 10},
    ],
    "hourly_activity": [
        {"hour": 2, "event_count": 1},
        {"hour": 8, "event_count": 1},
        {"hour": 9, "event_count": 3},
        {"hour": 10, "event_count": 4},
        {"hour": 14, "event_count": 1},
    ],
}
EMPTY = {
    "overview": {
        "total_sessions": 0, "active_sessions": 0, "completed_sessions": 0, "error_sessions": 0, "error_rate": 0,
        "total_events": 0, "total_tokens": 0, "total_tokens_in": 0, "total_tokens_out": 0,
        "avg_tokens_per_session": 0, "earliest_session": None, "latest_session": None,
    },
    "duration": {"avg_ms": 0, "min_ms": 0, "max_ms": 0},
    "top_agents": [], "model_usage": [], "event_types": [], "sessions_over_time": [], "hourly_activity": [],
}


@pytest.fixture
async def projects(make_api: ApiFactory) -> tuple[Api, dict[str, dict[str, str]]]:
    api = await make_api(api_key=ADMIN)
    keys: dict[str, dict[str, str]] = {}
    for name, events in (("alpha", ALPHA), ("beta", BETA), ("gamma", [])):
        _, key, token = await new_project(api, name)
        keys[name] = {"X-API-Key": key}
        if events:
            resp = await api.client.post("/events", json={"events": events}, headers=keys[name])
            assert resp.status == 200, await resp.text()
        if name == "alpha":
            resp = await api.client.post(f"/agent-analytics/track?token={token}", json=TRACKED)
            assert resp.status == 202, await resp.text()
    return api, keys


async def analytics(api: Api, headers: dict[str, str]) -> Any:
    resp = await api.client.get("/analytics", headers=headers)
    body = await resp.json()
    assert resp.status == 200, body
    return body


async def test_every_section_on_a_known_data_set(projects: tuple[Api, dict[str, dict[str, str]]]) -> None:
    api, keys = projects
    body = await analytics(api, keys["alpha"])
    for section, expected in EXPECTED.items():
        assert body[section] == expected, section
    assert list(body) == list(EXPECTED)  # the reference's key order
    assert list(body["overview"]) == list(EXPECTED["overview"])


async def test_tracked_product_events_count_nowhere(projects: tuple[Api, dict[str, dict[str, str]]]) -> None:
    api, keys = projects
    # The visit is stored in alpha, as a session and an event of its own...
    resp = await api.client.get("/agent-analytics/events", params={"project": "alpha", "event": "page_view"},
                                headers=keys["alpha"])
    assert resp.status == 200, await resp.text()
    assert [e["event"] for e in (await resp.json())["events"]] == ["page_view"]
    # ...and counted in none of /analytics' sections (it would add a session on D1 and an event at 10h).
    body = await analytics(api, keys["alpha"])
    assert body["overview"]["total_sessions"] == 6 and body["overview"]["total_events"] == 10
    assert "page_view" not in [t["event_type"] for t in body["event_types"]]
    assert body["sessions_over_time"][1] == EXPECTED["sessions_over_time"][1]
    assert body["hourly_activity"] == EXPECTED["hourly_activity"]


async def test_each_project_sees_only_its_own(projects: tuple[Api, dict[str, dict[str, str]]]) -> None:
    api, keys = projects
    beta = await analytics(api, keys["beta"])
    assert beta["overview"] | {"earliest_session": None, "latest_session": None} == {
        "total_sessions": 1, "active_sessions": 0, "completed_sessions": 0, "error_sessions": 1, "error_rate": 100,
        "total_events": 1, "total_tokens": 18000, "total_tokens_in": 9000, "total_tokens_out": 9000,
        "avg_tokens_per_session": 18000, "earliest_session": None, "latest_session": None,
    }
    assert beta["overview"]["earliest_session"] == beta["overview"]["latest_session"] == at(D1, 20)
    assert beta["duration"] == {"avg_ms": 300000, "min_ms": 300000, "max_ms": 300000}
    assert [a["agent_name"] for a in beta["top_agents"]] == ["beta-agent"]
    assert beta["hourly_activity"] == [{"hour": 20, "event_count": 1}]


async def test_an_empty_project_answers_zeros_nulls_and_empty_lists(
    projects: tuple[Api, dict[str, dict[str, str]]],
) -> None:
    api, keys = projects
    assert await analytics(api, keys["gamma"]) == EMPTY


async def test_requires_the_api_key(projects: tuple[Api, dict[str, dict[str, str]]]) -> None:
    api, _ = projects
    resp = await api.client.get("/analytics")
    assert resp.status == 401


async def test_mongodb_answers_the_same(secantus_replset: MongoServer) -> None:
    """The same data set on MongoDB (dev mode: the default project, the visit tracked into it too)."""
    url = secantus_replset.url(new_database_name())
    client = TestClient(TestServer(create_app(Settings(database_url=url, rate_limits=False), store=MongoStore(url)),
                                   host="127.0.0.1"))
    await client.start_server()
    try:
        assert (await client.post("/events", json={"events": ALPHA})).status == 200
        assert (await client.post("/agent-analytics/track", json=TRACKED)).status == 202
        resp = await client.get("/analytics")
        assert resp.status == 200
        assert await resp.json() == EXPECTED
    finally:
        await client.close()
