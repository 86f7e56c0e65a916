"""Seed 002's session reads over real HTTP: explain, export, compare, on a known data set.

The expected values are worked out by hand from the events below, with the reference
backend's rules (its lib/explain.js, lib/csv-export.js and lib/session-metrics.js).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest

from graph.app.factory import families
from graph.app.settings import Settings
from tests.conftest import Api
from tests.graph.test_security import ADMIN, new_project

LONG_PROMPT = "Summarise " + "x" * 120  # 130 characters: cut to 120 and an ellipsis

RUN_A = [
    {"event_type": "session_start", "session_id": "run-a", "agent_name": "research-agent",
     "metadata": {"version": "2.0"}, "timestamp": "2026-02-14T10:30:00Z"},
    {"event_type": "llm_call", "session_id": "run-a", "event_id": "evt-a1", "timestamp": "2026-02-14T10:30:01Z",
     "model": "gpt-4", "tokens_in": 100, "tokens_out": 40, "duration_ms": 250.25,
     "input_data": {"prompt": "Find papers"}, "output_data": {"response": "Here are three"},
     "decision_trace": {"reasoning": "Need sources"}},
    {"event_type": "tool_call", "session_id": "run-a", "event_id": "evt-a2", "timestamp": "2026-02-14T10:30:02Z",
     "duration_ms": 400, "tool_call": {"tool_name": "web_search", "tool_input": {"q": "agents"},
                                       "tool_output": {"hits": 3}}},
    {"event_type": "tool_call", "session_id": "run-a", "event_id": "evt-a3", "timestamp": "2026-02-14T10:30:03Z",
     "duration_ms": 100.5, "tool_call": {"tool_name": "calculator", "tool_input": {"expr": "1+1"}}},
    {"event_type": "agent_call", "session_id": "run-a", "event_id": "evt-a4", "timestamp": "2026-02-14T10:30:04Z",
     "duration_ms": 1250, "decision_trace": {"reasoning": "-1+1 is the next step"}},
    {"event_type": "llm_call", "session_id": "run-a", "event_id": "evt-a5", "timestamp": "2026-02-14T10:30:05Z",
     "model": "gpt-4", "tokens_in": 200, "tokens_out": 60, "duration_ms": 99.75,
     "input_data": {"prompt": LONG_PROMPT}, "output_data": {"response": 'Done, with "quotes"'}},
    {"event_type": "tool_error", "session_id": "run-a", "event_id": "evt-a6", "timestamp": "2026-02-14T10:30:06Z"},
    # as the SDK's end_session sends it, a minute later than the batch's clock would say
    {"event_type": "session_end", "session_id": "run-a", "ended_at": "2026-02-14T10:31:01.250Z",
     "total_tokens_in": 300, "total_tokens_out": 100, "status": "completed"},
]
RUN_B = [
    {"event_type": "session_start", "session_id": "run-b", "agent_name": "research-agent",
     "timestamp": "2026-02-15T09:00:00Z"},
    {"event_type": "llm_call", "session_id": "run-b", "event_id": "evt-b1", "timestamp": "2026-02-15T09:00:01Z",
     "model": "gpt-4o", "tokens_in": 150, "tokens_out": 50, "duration_ms": 300},
    {"event_type": "tool_call", "session_id": "run-b", "event_id": "evt-b2", "timestamp": "2026-02-15T09:00:02Z",
     "duration_ms": 500.5, "tool_call": {"tool_name": "web_search"}},
    {"event_type": "decision", "session_id": "run-b", "event_id": "evt-b3", "timestamp": "2026-02-15T09:00:03Z",
     "duration_ms": 10},
    {"event_type": "session_end", "session_id": "run-b", "ended_at": "2026-02-15T09:00:30Z", "status": "error"},
]

EXPLAIN_A = "\n".join([
    "## Agent Session: research-agent",
    "**Duration:** 1.0m",
    "**Total tokens used:** 400 (300 input, 100 output)",
    "",
    "### What happened:",
    "",
    "**Step 1:** The agent made an LLM call using gpt-4.",
    '- *Input:* "Find papers"',
    '- *Output:* "Here are three"',
    "- *Tokens:* 100 in / 40 out",
    "- 💡 *Reasoning:* Need sources",
    "",
    "**Step 2:** The agent called the **web_search** tool.",
    '- *Input:* {"q":"agents"}',
    '- *Output:* {"hits":3}',
    "- *Duration:* 400.0ms",
    "",
    "**Step 3:** The agent called the **calculator** tool.",
    '- *Input:* {"expr":"1+1"}',
    "- *Duration:* 100.5ms",
    "",
    "**Step 4:** Agent function executed.",
    "- 💡 *Reasoning:* -1+1 is the next step",
    "- *Duration:* 1250.0ms",
    "",
    "**Step 5:** The agent made an LLM call using gpt-4.",
    f'- *Input:* "{LONG_PROMPT[:120]}…"',
    '- *Output:* "Done, with "quotes""',
    "- *Tokens:* 200 in / 60 out",
    "",
    "### Summary",
    "- 2 LLM call(s), 2 tool call(s), 1 error(s)",
    "- Total tokens: 400",
    "- Session status: completed",
])
CSV_HEADER = ("event_id,event_type,timestamp,model,tokens_in,tokens_out,duration_ms,input_data,output_data,"
              "tool_name,tool_input,tool_output,reasoning")


async def compare(api: Api, a: str, b: str) -> dict:
    resp = await api.client.post("/sessions/compare", json={"session_a": a, "session_b": b})
    assert resp.status == 200, await resp.text()
    return await resp.json()


@pytest.fixture
async def loaded(api: Api) -> Api:
    assert (await api.post_sdk(RUN_A + RUN_B))["processed"] == len(RUN_A) + len(RUN_B)
    return api


async def test_session_detail_is_the_tracked_events_and_the_sdks_end_time(loaded: Api) -> None:
    session = await loaded.get("/sessions/run-a")
    assert [e["event_id"] for e in session["events"]] == ["evt-a1", "evt-a2", "evt-a3", "evt-a4", "evt-a5", "evt-a6"]
    assert (session["started_at"], session["ended_at"]) == ("2026-02-14T10:30:00.000Z", "2026-02-14T10:31:01.250Z")
    assert (session["status"], session["total_tokens_in"], session["total_tokens_out"]) == ("completed", 300, 100)


async def test_explain_tells_the_timeline_with_tokens_and_reasoning(loaded: Api) -> None:
    assert await loaded.get("/sessions/run-a/explain") == {"session_id": "run-a", "explanation": EXPLAIN_A}

    text = (await loaded.get("/sessions/run-b/explain"))["explanation"]
    lines = text.split("\n")
    assert lines[:3] == ["## Agent Session: research-agent", "**Duration:** 30.0s",
                         "**Total tokens used:** 200 (150 input, 50 output)"]
    assert "**Step 1:** The agent made an LLM call using gpt-4o." in lines
    assert '- *Input:* "unknown prompt"' in lines and '- *Output:* "unknown response"' in lines
    assert "**Step 2:** The agent called the **web_search** tool." in lines
    assert "**Step 3:**" not in text  # a "decision" event is no step
    assert lines[-3:] == ["- 1 LLM call(s), 1 tool call(s), 0 error(s)", "- Total tokens: 200",
                          "- Session status: error"]

    await loaded.post_sdk([{"event_type": "session_start", "session_id": "run-c", "agent_name": "a",
                            "timestamp": "2026-02-16T09:00:00Z"},
                           {"event_type": "tool_call", "session_id": "run-c", "timestamp": "2026-02-16T09:00:01Z"}])
    lines = (await loaded.get("/sessions/run-c/explain"))["explanation"].split("\n")
    assert lines[1] == "**Duration:** ongoing"
    assert lines[6:8] == ["**Step 1:** The agent called the **unknown tool** tool.", ""]
    await loaded.post_sdk([{"event_type": "session_end", "session_id": "run-c",
                            "ended_at": "2026-02-16T09:00:00.850Z"}])
    assert (await loaded.get("/sessions/run-c/explain"))["explanation"].split("\n")[1] == "**Duration:** 850ms"


async def test_export_json_has_the_documented_fields_and_summary(loaded: Api) -> None:
    resp = await loaded.client.get("/sessions/run-a/export")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="agentlens-research-agent-run-a.json"'
    body = await resp.json()
    assert list(body) == ["exported_at", "session", "events", "summary"]
    datetime.fromisoformat(body["exported_at"].replace("Z", "+00:00"))
    assert body["session"] == {
        "session_id": "run-a", "agent_name": "research-agent", "status": "completed",
        "started_at": "2026-02-14T10:30:00.000Z", "ended_at": "2026-02-14T10:31:01.250Z",
        "total_tokens_in": 300, "total_tokens_out": 100, "metadata": {"version": "2.0"},
    }
    assert body["summary"] == {
        "total_events": 6, "total_tokens": 400, "models_used": ["gpt-4"],
        "event_types": ["llm_call", "tool_call", "agent_call", "tool_error"], "total_duration_ms": 2100.5,
    }
    first, second, *_, last = body["events"]
    assert first == {
        "event_id": "evt-a1", "event_type": "llm_call", "timestamp": "2026-02-14T10:30:01.000Z", "model": "gpt-4",
        "tokens_in": 100, "tokens_out": 40, "duration_ms": 250.25, "input_data": {"prompt": "Find papers"},
        "output_data": {"response": "Here are three"}, "tool_call": None,
        "decision_trace": {"reasoning": "Need sources"},
    }
    # the reference's defaults: "" for no model, 0 for no number, {} for no input/output, null for no tool call
    assert (second["model"], second["tokens_in"], second["input_data"], second["decision_trace"]) == ("", 0, {}, None)
    assert (last["event_type"], last["duration_ms"], last["output_data"], last["tool_call"]) == ("tool_error", 0, {},
                                                                                                  None)
    again = await (await loaded.client.get("/sessions/run-a/export", params={"format": "json"})).json()
    assert {**again, "exported_at": None} == {**body, "exported_at": None}


async def test_export_csv_has_the_documented_columns_escaped(loaded: Api) -> None:
    resp = await loaded.client.get("/sessions/run-a/export", params={"format": "csv"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="agentlens-research-agent-run-a.csv"'
    text = await resp.text()
    lines = text.split("\n")
    assert lines[0] == CSV_HEADER and lines[-1] == "" and len(lines) == 8  # header, 6 events, final newline
    assert lines[1] == ('evt-a1,llm_call,2026-02-14T10:30:01.000Z,gpt-4,100,40,250.25,"{""prompt"":""Find papers""}",'
                        '"{""response"":""Here are three""}",,,,Need sources')
    assert lines[2] == ('evt-a2,tool_call,2026-02-14T10:30:02.000Z,,0,0,400,{},{},web_search,"{""q"":""agents""}",'
                        '"{""hits"":3}",')
    # a cell a spreadsheet would run as a formula is defused
    assert lines[4] == "evt-a4,agent_call,2026-02-14T10:30:04.000Z,,0,0,1250,{},{},,,,'-1+1 is the next step"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[5][7:9] == ['{"prompt":"' + LONG_PROMPT + '"}', '{"response":"Done, with \\"quotes\\""}']
    assert rows[3][9:12] == ["calculator", '{"expr":"1+1"}', ""]
    assert rows[6] == ["evt-a6", "tool_error", "2026-02-14T10:30:06.000Z", "", "0", "0", "0", "{}", "{}", "", "", "",
                       ""]
    # any case, as the reference lowercases it
    assert (await loaded.client.get("/sessions/run-a/export", params={"format": "CSV"})).content_type == "text/csv"


async def test_export_filename_is_safe_in_a_header(api: Api) -> None:
    await api.post_sdk([{"event_type": "session_start", "session_id": 'x"y/z:1234', "agent_name": "my bot/v2é"}])
    resp = await api.client.get('/sessions/x"y%2Fz:1234/export', params={"format": "csv"})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Disposition"] == 'attachment; filename="agentlens-my_bot_v2_-x_y_z_12.csv"'
    assert await resp.text() == CSV_HEADER + "\n"


async def test_compare_computes_every_documented_delta(loaded: Api) -> None:
    body = await compare(loaded, "run-a", "run-b")
    assert list(body) == ["compared_at", "session_a", "session_b", "deltas", "shared"]
    assert body["session_a"] == {
        "session_id": "run-a", "agent_name": "research-agent", "status": "completed",
        "started_at": "2026-02-14T10:30:00.000Z", "ended_at": "2026-02-14T10:31:01.250Z",
        "session_duration_ms": 61250, "tokens_in": 300, "tokens_out": 100, "total_tokens": 400, "event_count": 6,
        "error_count": 1, "total_processing_ms": 2100.5, "avg_event_duration_ms": 350.08,
        "models": {"gpt-4": {"calls": 2, "tokens_in": 300, "tokens_out": 100}},
        "event_types": {"llm_call": 2, "tool_call": 2, "agent_call": 1, "tool_error": 1},
        "tools": {"web_search": {"calls": 1, "total_duration": 400},
                  "calculator": {"calls": 1, "total_duration": 100.5}},
        "metadata": {"version": "2.0"},
    }
    b = body["session_b"]
    assert (b["status"], b["session_duration_ms"], b["total_tokens"], b["event_count"], b["error_count"]) == (
        "error", 30000, 200, 3, 0)
    assert (b["total_processing_ms"], b["avg_event_duration_ms"]) == (810.5, 270.17)
    assert b["tools"] == {"web_search": {"calls": 1, "total_duration": 500.5}}
    assert body["deltas"] == {
        "total_tokens": {"absolute": -200, "percent": -50},
        "tokens_in": {"absolute": -150, "percent": -50},
        "tokens_out": {"absolute": -50, "percent": -50},
        "event_count": {"absolute": -3, "percent": -50},
        "error_count": {"absolute": -1, "percent": -100},
        "total_processing_ms": {"absolute": -1290, "percent": -61.41},  # -1290 / 2100.5
        "avg_event_duration_ms": {"absolute": -79.91, "percent": -22.83},  # -79.91 / 350.08
    }
    # shared: what either session used, A's first (the seed's example lists B's "decision" too)
    assert body["shared"] == {"event_types": ["llm_call", "tool_call", "agent_call", "tool_error", "decision"],
                              "tools": ["web_search", "calculator"], "models": ["gpt-4", "gpt-4o"]}

    # B against A: from a zero baseline the change is +100 percent
    back = await compare(loaded, "run-b", "run-a")
    assert back["deltas"]["error_count"] == {"absolute": 1, "percent": 100}
    assert back["deltas"]["total_tokens"] == {"absolute": 200, "percent": 100}
    assert back["shared"]["event_types"] == ["llm_call", "tool_call", "decision", "agent_call", "tool_error"]


async def test_bad_input_is_refused_naming_the_parameter_and_stores_nothing(loaded: Api) -> None:
    before = (await loaded.get("/sessions"))["total"], await loaded.data("{ events { totalCount } }")
    c = loaded.client
    for body, named in [
        ({"session_a": "run-a"}, "session_b"),
        ({}, "session_a"),
        ({"session_a": 7, "session_b": "run-b"}, "session_a"),
        ({"session_a": "run-a", "session_b": ""}, "session_b"),
        ({"session_a": "run-a", "session_b": "r" * 257}, "session_b"),
        ({"session_a": "run-a", "session_b": "run-a"}, "session_b"),
        (["run-a", "run-b"], "body"),
    ]:
        resp = await c.post("/sessions/compare", json=body)
        answer = await resp.json()
        assert resp.status == 400 and set(answer) == {"error"}, (body, answer)
        assert answer["error"].startswith(named), (body, answer)
    for raw in (b"{", b"", b'"run-a"'):
        resp = await c.post("/sessions/compare", data=raw, headers={"content-type": "application/json"})
        assert resp.status == 400 and (await resp.json())["error"].startswith("body"), raw

    for fmt in ("xml", "ndjson", "pdf"):
        resp = await c.get("/sessions/run-a/export", params={"format": fmt})
        assert resp.status == 400
        assert await resp.json() == {"error": f"format: unknown value {fmt!r}; expected json or csv"}
    # the format is checked first, as the reference does
    assert (await c.get("/sessions/nope/export", params={"format": "xml"})).status == 400

    assert await loaded.get("/sessions/nope/explain", expect=404) == {"error": "Session not found"}
    assert await loaded.get("/sessions/nope/export", expect=404) == {"error": "Session not found"}
    assert await loaded.get("/sessions/nope/export", expect=404, format="csv") == {"error": "Session not found"}
    for body, missing in [({"session_a": "nope", "session_b": "run-b"}, "nope"),
                          ({"session_a": "run-a", "session_b": "gone"}, "gone"),
                          ({"session_a": "nope", "session_b": "gone"}, "nope")]:
        resp = await c.post("/sessions/compare", json=body)
        assert resp.status == 404
        assert await resp.json() == {"error": f"Session {missing} not found"}

    assert ((await loaded.get("/sessions"))["total"], await loaded.data("{ events { totalCount } }")) == before


async def test_fixed_paths_win_over_session_ids(loaded: Api) -> None:
    # a session may be called "compare": POST /sessions/compare still compares, GET reads that session
    await loaded.post_sdk([{"event_type": "session_start", "session_id": "compare", "agent_name": "tricky",
                            "timestamp": "2026-02-17T09:00:00Z"}])
    resp = await loaded.client.post("/sessions/compare", json={"session_a": "compare", "session_b": "run-a"})
    assert resp.status == 200
    assert (await resp.json())["session_a"]["agent_name"] == "tricky"
    assert (await loaded.get("/sessions/compare"))["agent_name"] == "tricky"
    assert (await loaded.get("/sessions/compare/explain"))["session_id"] == "compare"


def test_every_family_declares_fixed_paths_before_the_patterns_they_would_match() -> None:
    for prefix, family in families(Settings()):
        ops = family.spec.operations
        for i, earlier in enumerate(ops):
            if "{" not in earlier.path:
                continue
            pattern = re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(earlier.path)) + "$")
            for later in ops[i + 1:]:
                shadowed = later.method == earlier.method and "{" not in later.path and pattern.match(later.path)
                assert not shadowed, f"{prefix}: {later.method} {later.path} is declared after {earlier.path}"
    paths = [(op.method, op.path) for op in next(f for p, f in families(Settings()) if p == "/").spec.operations]
    assert paths.index(("POST", "/sessions/compare")) < paths.index(("GET", "/sessions/{id}"))


async def test_another_projects_sessions_are_not_found(make_api) -> None:
    secured = await make_api(api_key=ADMIN)
    _, key_a, _ = await new_project(secured, "alpha")
    _, key_b, _ = await new_project(secured, "beta")
    a, b = {"X-API-Key": key_a}, {"X-API-Key": key_b}
    c = secured.client
    assert (await c.post("/events", json={"events": RUN_A + RUN_B}, headers=a)).status == 200
    assert (await c.post("/events", json={"events": RUN_B}, headers=b)).status == 200  # B's own run-b

    for path in ("/sessions/run-a", "/sessions/run-a/explain", "/sessions/run-a/export",
                 "/sessions/run-a/export?format=csv"):
        resp = await c.get(path, headers=b)
        assert resp.status == 404, path
        assert await resp.json() == {"error": "Session not found"}
    resp = await c.post("/sessions/compare", json={"session_a": "run-b", "session_b": "run-a"}, headers=b)
    assert resp.status == 404 and await resp.json() == {"error": "Session run-a not found"}
    # each project compares its own sessions of the same id
    resp = await c.post("/sessions/compare", json={"session_a": "run-a", "session_b": "run-b"}, headers=a)
    assert (await resp.json())["session_b"]["total_tokens"] == 200
    exported = await (await c.get("/sessions/run-b/export", headers=b)).json()
    assert exported["summary"]["total_events"] == 3
    assert (await c.get("/sessions/run-a/explain")).status == 401
    assert (await c.post("/sessions/compare", json={"session_a": "run-a", "session_b": "run-b"})).status == 401
