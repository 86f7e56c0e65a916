"""Seed 002 at the root: POST /events as the AgentLens SDK sends it, GET /health, session reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Api

SDK_EXAMPLE = [
    {
        "event_type": "session_start",
        "session_id": "abc123",
        "agent_name": "my-agent",
        "metadata": {"version": "1.0"},
        "timestamp": "2026-02-14T10:30:00Z",
    },
    {
        "event_type": "llm_call",
        "session_id": "abc123",
        "event_id": "evt001",
        "model": "gpt-4",
        "input_data": {"prompt": "Hello"},
        "output_data": {"response": "Hi"},
        "tokens_in": 5,
        "tokens_out": 3,
        "duration_ms": 150.0,
        "decision_trace": {"reasoning": "Simple greeting"},
        "timestamp": "2026-02-14T10:30:01Z",
    },
]


async def test_documented_example_round_trips(api: Api) -> None:
    assert await api.post_sdk(SDK_EXAMPLE) == {"status": "ok", "processed": 2}
    session = await api.get("/sessions/abc123")
    assert session["session_id"] == "abc123"
    assert session["agent_name"] == "my-agent"
    assert session["status"] == "active"
    assert session["started_at"] == "2026-02-14T10:30:00.000Z"
    assert session["metadata"] == {"version": "1.0"}
    assert (session["total_tokens_in"], session["total_tokens_out"]) == (5, 3)
    # the session_start is the session itself, not one of its events
    (llm,) = session["events"]
    assert llm["event_id"] == "evt001"
    assert llm["input_data"] == {"prompt": "Hello"}
    assert llm["decision_trace"] == {"reasoning": "Simple greeting"}
    assert (llm["tokens_in"], llm["duration_ms"], llm["model"]) == (5, 150.0, "gpt-4")

    # the same session, read through the typed API and GraphQL
    typed = await api.get("/api/sessions/abc123")
    assert (typed["agentName"], typed["eventCount"], typed["llmCallCount"]) == ("my-agent", 2, 1)
    data = await api.data('{ session(id: "abc123") { agent { id name } tokensIn events { totalCount } } }')
    assert data["session"] == {"agent": {"id": "my-agent", "name": "my-agent"}, "tokensIn": 5,
                               "events": {"totalCount": 2}}


async def test_session_end_closes_with_final_token_counts(api: Api) -> None:
    await api.post_sdk(SDK_EXAMPLE)
    await api.post_sdk(
        [{"event_type": "session_end", "session_id": "abc123", "tokens_in": 1200, "tokens_out": 350,
          "timestamp": "2026-02-14T10:31:00Z"}]
    )
    session = await api.get("/sessions/abc123")
    assert session["status"] == "completed"
    assert session["ended_at"] == "2026-02-14T10:31:00.000Z"
    assert (session["total_tokens_in"], session["total_tokens_out"]) == (1200, 350)

    await api.post_sdk([{"event_type": "session_start", "session_id": "bad", "agent_name": "x"},
                        {"event_type": "session_end", "session_id": "bad", "status": "error"}])
    assert (await api.get("/sessions/bad"))["status"] == "error"


async def test_session_end_as_the_sdk_sends_it(api: Api) -> None:
    """The SDK's end_session sends ended_at (no timestamp) and total_tokens_in/out; it arrives later."""
    await api.post_sdk(SDK_EXAMPLE)
    await api.post_sdk([{"event_type": "session_end", "session_id": "abc123", "ended_at": "2026-02-14T10:31:00+00:00",
                         "total_tokens_in": 40, "total_tokens_out": 20, "status": "completed"}])
    session = await api.get("/sessions/abc123")
    assert (session["status"], session["ended_at"]) == ("completed", "2026-02-14T10:31:00.000Z")
    assert (session["total_tokens_in"], session["total_tokens_out"]) == (40, 20)
    assert [e["event_type"] for e in session["events"]] == ["llm_call"]
    listed = (await api.get("/sessions"))["sessions"][0]
    assert listed["ended_at"] == "2026-02-14T10:31:00.000Z"
    # every record is still in the chain, and the chain verifies with the SDK's end time sealed in it
    timeline = await api.get("/api/sessions/abc123/timeline")
    assert timeline["chainValid"] is True
    assert [e["eventType"] for e in timeline["events"]] == ["session_start", "llm_call", "session_end"]
    assert timeline["events"][-1]["timestamp"] == "2026-02-14T10:31:00.000Z"

    # totals of 0 keep what was counted (as the reference backend); a bad ended_at is refused
    await api.post_sdk([{"event_type": "llm_call", "session_id": "z", "tokens_in": 7, "tokens_out": 2},
                        {"event_type": "session_end", "session_id": "z", "total_tokens_in": 0,
                         "total_tokens_out": 0}])
    assert ((await api.get("/sessions/z"))["total_tokens_in"], (await api.get("/sessions/z"))["status"]) == (
        7, "completed")
    body = await api.post_sdk([{"event_type": "session_end", "session_id": "y", "ended_at": "soon"}], expect=400)
    assert "events[0].ended_at" in body["error"]
    assert (await api.get("/sessions/y", expect=404)) == {"error": "Session not found"}


async def test_defaults_for_omitted_fields(api: Api) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    await api.post_sdk([{"model": "gpt-4"}])
    session = await api.get("/sessions/unknown")
    assert session["status"] == "active"
    (event,) = session["events"]
    assert event["event_type"] == "generic"
    assert len(event["event_id"]) == 36  # a UUID
    stamp = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)


async def test_other_events_auto_create_their_session(api: Api) -> None:
    await api.post_sdk([{"event_type": "tool_call", "session_id": "auto", "tool_call": {"name": "search"}}])
    session = await api.get("/sessions/auto")
    assert session["events"][0]["tool_call"] == {"name": "search"}


async def test_repeated_event_id_is_stored_once(api: Api) -> None:
    await api.post_sdk(SDK_EXAMPLE[1:])
    await api.post_sdk(SDK_EXAMPLE[1:])
    session = await api.get("/sessions/abc123")
    assert len(session["events"]) == 1
    assert session["total_tokens_in"] == 5


async def test_bad_input_names_the_field_and_stores_nothing(api: Api) -> None:
    cases = [
        ([{"event_type": "session_start", "session_id": "x"}], "events[0].agent_name"),
        ([{"event_type": "session_start", "agent_name": "a"}], "events[0].session_id"),
        ([SDK_EXAMPLE[0], {"session_id": "abc123", "tokens_in": "5"}], "events[1].tokens_in"),
        ([{"session_id": 7}], "events[0].session_id"),
        ([{"timestamp": "not a time"}], "events[0].timestamp"),
        ([{"duration_ms": -1}], "events[0].duration_ms"),
        ([{"tool_call": "search"}], "events[0].tool_call"),
        ([{"event_type": "session_end", "status": "weird"}], "events[0].status"),
    ]
    for events, path in cases:
        body = await api.post_sdk(events, expect=400)
        assert set(body) == {"error"}
        assert path in body["error"], (path, body)
    assert (await api.get("/sessions"))["total"] == 0

    for raw, path in [(b"{", "body"), (b"[]", "body"), (b'{"events": {}}', "events"), (b"", "body")]:
        resp = await api.client.post("/events", data=raw, headers={"content-type": "application/json"})
        assert resp.status == 400
        assert (await resp.json())["error"].startswith(path)


async def test_batch_and_body_limits(make_api) -> None:
    api = await make_api(max_batch_events=10, max_body_bytes=8 * 1024)
    body = await api.post_sdk([{"session_id": "s"} for _ in range(11)], expect=400)
    assert body["error"].startswith("events:")
    resp = await api.client.post("/events", json={"events": [{"input_data": "x" * 10_000}]})
    assert resp.status == 413
    assert (await resp.json())["error"].startswith("body:")
    assert (await api.get("/sessions"))["total"] == 0


async def test_sessions_list_pagination_and_status(api: Api) -> None:
    for i in range(5):
        await api.post_sdk([{"event_type": "session_start", "session_id": f"s{i}", "agent_name": "a",
                             "timestamp": f"2026-02-1{i}T10:00:00Z"}])
    await api.post_sdk([{"event_type": "session_end", "session_id": "s0"}])
    listing = await api.get("/sessions", limit=2)
    assert listing["total"] == 5
    assert [s["session_id"] for s in listing["sessions"]] == ["s4", "s3"]
    listing = await api.get("/sessions", limit=2, offset=4)
    assert [s["session_id"] for s in listing["sessions"]] == ["s0"]
    done = await api.get("/sessions", status="completed")
    assert (done["total"], done["sessions"][0]["session_id"]) == (1, "s0")
    assert "status" in (await api.get("/sessions", expect=400, status="finished"))["error"]
    assert (await api.get("/sessions/missing", expect=404)) == {"error": "Session not found"}


async def test_health_and_unknown_routes(api: Api) -> None:
    body = await api.get("/health")
    assert body["status"] == "ok"
    datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    assert "error" in await api.get("/no-such-route", expect=404)
