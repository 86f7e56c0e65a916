"""Seed 004 under /api: typed ingest, hash chain, event and session reads, bad input."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3

import pytest

from tests.conftest import Api, typed
from tests.payloads import REQUIRED, VALID


async def test_every_event_type_is_accepted_and_chained(api: Api) -> None:
    events = [typed(t, p) for t, p in VALID.items()]
    body = await api.post_typed(events)
    assert body["ingested"] == 18
    assert len({e["id"] for e in body["events"]}) == 18
    assert all(len(e["hash"]) == 64 for e in body["events"])

    timeline = await api.get("/api/sessions/s1/timeline")
    assert timeline["chainValid"] is True
    chain = timeline["events"]
    assert [e["eventType"] for e in chain] == list(VALID)
    assert chain[0]["prevHash"] is None
    for before, after in itertools.pairwise(chain):
        assert after["prevHash"] == before["hash"]
    assert [e["hash"] for e in chain] == [e["hash"] for e in body["events"]]


@pytest.mark.parametrize("event_type", sorted(REQUIRED))
async def test_missing_payload_field_is_named(api: Api, event_type: str) -> None:
    field = REQUIRED[event_type]
    payload = {k: v for k, v in VALID[event_type].items() if k != field}
    good = typed("custom", VALID["custom"])
    body = await api.post_typed([good, typed(event_type, payload)], expect=400)
    assert f"events[1].payload.{field}" in body["error"]
    assert body["details"][0]["path"] == f"events[1].payload.{field}"
    # all-or-nothing: the valid first event was not stored either
    assert (await api.get("/api/events"))["total"] == 0


@pytest.mark.parametrize(
    ("events", "path"),
    [
        ([], "events"),
        ("nope", "events"),
        ([typed("tool_cal", {})], "events[0].eventType"),
        ([{**typed("custom", VALID["custom"]), "severity": "fatal"}], "events[0].severity"),
        ([{**typed("custom", VALID["custom"]), "sessionId": 5}], "events[0].sessionId"),
        ([{k: v for k, v in typed("custom", VALID["custom"]).items() if k != "agentId"}], "events[0].agentId"),
        ([{**typed("custom", VALID["custom"]), "timestamp": "yesterday"}], "events[0].timestamp"),
        ([typed("llm_response", {**VALID["llm_response"], "usage": {"inputTokens": "100", "outputTokens": 1}})],
         "events[0].payload.usage.inputTokens"),
        ([typed("session_ended", {"reason": "bored"})], "events[0].payload.reason"),
    ],
)
async def test_bad_batches_are_rejected_by_field_path(api: Api, events: object, path: str) -> None:
    resp = await api.client.post("/api/events", json={"events": events})
    assert resp.status == 400
    body = await resp.json()
    assert path in [d["path"] for d in body["details"]], body
    assert (await api.get("/api/events"))["total"] == 0


async def test_too_many_events_is_refused(api: Api) -> None:
    events = [typed("custom", VALID["custom"]) for _ in range(1001)]
    body = await api.post_typed(events, expect=400)
    assert body["details"][0]["path"] == "events"
    assert "1000" in body["error"]


async def test_malformed_json_and_oversized_bodies(make_api) -> None:
    api = await make_api(max_body_bytes=64 * 1024)
    resp = await api.client.post("/api/events", data=b'{"events": [', headers={"content-type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["details"][0]["path"] == "body"

    big = [typed("custom", {"type": "x", "data": "y" * 1000}) for _ in range(100)]
    resp = await api.client.post("/api/events", json={"events": big})
    assert resp.status == 413
    body = await resp.json()
    assert body["details"][0]["path"] == "body"
    assert (await api.get("/api/events"))["total"] == 0


async def test_event_filters(api: Api) -> None:
    await api.post_typed(
        [
            typed("tool_call", VALID["tool_call"], session="a", agent="x", timestamp="2026-01-01T10:00:00Z"),
            typed("tool_error", VALID["tool_error"], session="a", agent="x", severity="error",
                  timestamp="2026-01-01T11:00:00Z"),
            typed("llm_call", VALID["llm_call"], session="b", agent="y", timestamp="2026-01-01T12:00:00Z"),
            typed("custom", {"type": "note", "data": {"text": "The Quick Brown fox"}}, session="b", agent="y",
                  severity="warn", timestamp="2026-01-01T13:00:00Z"),
        ]
    )

    async def types(**params: object) -> list[str]:
        return [e["eventType"] for e in (await api.get("/api/events", **params))["events"]]

    assert await types() == ["custom", "llm_call", "tool_error", "tool_call"]  # newest first
    assert await types(order="asc") == ["tool_call", "tool_error", "llm_call", "custom"]
    assert await types(sessionId="b", order="asc") == ["llm_call", "custom"]
    assert await types(agentId="x", order="asc") == ["tool_call", "tool_error"]
    assert await types(eventType="tool_call,custom", order="asc") == ["tool_call", "custom"]
    resp = await api.client.get("/api/events?eventType=tool_call&eventType=llm_call&order=asc")
    assert [e["eventType"] for e in (await resp.json())["events"]] == ["tool_call", "llm_call"]
    assert await types(severity="error,warn", order="asc") == ["tool_error", "custom"]
    assert await types(**{"from": "2026-01-01T11:00:00Z", "to": "2026-01-01T12:00:00Z"}, order="asc") == [
        "tool_error",
        "llm_call",
    ]
    assert await types(search="quick brown") == ["custom"]  # case-insensitive, by payload values
    assert await types(search="haystack") == ["tool_call"]
    assert await types(search="toolName") == []  # keys are not searched
    assert await types(search="zz") == []

    page = await api.get("/api/events", limit=3, order="asc")
    assert (page["total"], page["hasMore"], len(page["events"])) == (4, True, 3)
    page = await api.get("/api/events", limit=3, offset=3, order="asc")
    assert (page["total"], page["hasMore"], [e["eventType"] for e in page["events"]]) == (4, False, ["custom"])

    for params, field in [({"limit": "x"}, "limit"), ({"order": "up"}, "order"), ({"from": "soon"}, "from"),
                          ({"eventType": "nope"}, "eventType"), ({"severity": "loud"}, "severity"),
                          ({"offset": "-1"}, "offset")]:
        body = await api.get("/api/events", expect=400, **params)
        assert body["details"][0]["path"] == field


async def test_limit_is_capped_at_500(api: Api) -> None:
    await api.post_typed([typed("custom", VALID["custom"]) for _ in range(600)])
    page = await api.get("/api/events", limit=1000)
    assert (len(page["events"]), page["total"], page["hasMore"]) == (500, 600, True)


async def test_event_by_id(api: Api) -> None:
    body = await api.post_typed([typed("tool_call", VALID["tool_call"])])
    event_id = body["events"][0]["id"]
    event = await api.get(f"/api/events/{event_id}")
    assert event["id"] == event_id
    assert event["payload"] == VALID["tool_call"]
    assert event["severity"] == "info"
    assert event["metadata"] == {}
    missing = await api.get("/api/events/nope", expect=404)
    assert "error" in missing


async def test_sessions_counters_and_filters(api: Api) -> None:
    await api.post_typed(
        [
            typed("session_started", VALID["session_started"], session="s1", agent="bot",
                  timestamp="2026-03-01T10:00:00Z"),
            typed("tool_call", VALID["tool_call"], session="s1", agent="bot"),
            typed("tool_error", VALID["tool_error"], session="s1", agent="bot", severity="error"),
            typed("llm_call", VALID["llm_call"], session="s1", agent="bot"),
            typed("llm_response", VALID["llm_response"], session="s1", agent="bot"),
            typed("cost_tracked", VALID["cost_tracked"], session="s1", agent="bot"),
            typed("session_ended", {"reason": "error"}, session="s1", agent="bot",
                  timestamp="2026-03-01T10:05:00Z"),
            typed("session_started", {"agentName": "Other", "tags": ["b"]}, session="s2", agent="other",
                  timestamp="2026-03-02T10:00:00Z"),
        ]
    )
    s1 = await api.get("/api/sessions/s1")
    assert s1 == {
        "id": "s1",
        "agentId": "bot",
        "agentName": "Bot",
        "startedAt": "2026-03-01T10:00:00.000Z",
        "endedAt": "2026-03-01T10:05:00.000Z",
        "status": "error",
        "eventCount": 7,
        "toolCallCount": 1,
        "errorCount": 1,
        "llmCallCount": 1,
        "totalCostUsd": 0.0017,
        "totalInputTokens": 110,
        "totalOutputTokens": 25,
        "tags": ["a", "b"],
    }

    async def ids(**params: object) -> list[str]:
        return [s["id"] for s in (await api.get("/api/sessions", **params))["sessions"]]

    assert await ids() == ["s2", "s1"]
    assert await ids(agentId="bot") == ["s1"]
    assert await ids(status="active") == ["s2"]
    assert await ids(status="error,active") == ["s2", "s1"]
    assert await ids(tags="b") == ["s2", "s1"]
    assert await ids(tags="a,b") == ["s1"]
    assert await ids(**{"from": "2026-03-02T00:00:00Z"}) == ["s2"]
    assert await ids(to="2026-03-01T23:00:00Z") == ["s1"]
    page = await api.get("/api/sessions", limit=1)
    assert (page["total"], page["hasMore"]) == (2, True)
    await api.get("/api/sessions/nope", expect=404)
    await api.get("/api/sessions/nope/timeline", expect=404)
    assert (await api.get("/api/sessions", expect=400, status="done"))["details"][0]["path"] == "status"


async def test_concurrent_batches_keep_one_unbroken_chain(api: Api) -> None:
    async def batch(n: int) -> None:
        await api.post_typed([typed("custom", {"type": "n", "data": {"batch": n, "i": i}}) for i in range(25)])

    await asyncio.gather(*(batch(n) for n in range(16)))
    timeline = await api.get("/api/sessions/s1/timeline")
    assert timeline["chainValid"] is True
    assert len(timeline["events"]) == 400
    assert len({e["hash"] for e in timeline["events"]}) == 400
    # each batch stays contiguous in the chain: batches are atomic
    hashes = {e["hash"]: e for e in timeline["events"]}
    heads = [e for e in timeline["events"] if e["prevHash"] is None]
    assert len(heads) == 1
    session = await api.get("/api/sessions/s1")
    assert session["eventCount"] == 400
    assert len(hashes) == 400


async def test_tampering_breaks_the_chain(api: Api, tmp_path) -> None:
    await api.post_typed([typed("custom", {"type": "n", "data": i}) for i in range(5)])
    assert (await api.get("/api/sessions/s1/timeline"))["chainValid"] is True
    db = sqlite3.connect(api.store.inner.path)
    db.execute("UPDATE events SET payload = '{\"type\":\"n\",\"data\":99}' WHERE seq = 3")
    db.commit()
    db.close()
    assert (await api.get("/api/sessions/s1/timeline"))["chainValid"] is False


async def test_health(api: Api) -> None:
    body = await api.get("/api/health")
    assert body["status"] == "ok"
    assert body["version"]
