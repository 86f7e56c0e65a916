"""A realistic sample so a newcomer sees data at once: agents, tool and LLM calls, errors."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from resolvers.core.services import Services
from resolvers.traces.ingest import ingest_typed
from storage.timeutil import iso_ms, now_ms

AGENTS = [
    ("research-agent", "Research Agent", ["web_search", "fetch_page", "summarize"]),
    ("support-bot", "Support Bot", ["lookup_order", "refund", "send_email"]),
    ("code-reviewer", "Code Reviewer", ["read_file", "run_tests", "post_comment"]),
]
MODELS = [("openai", "gpt-4o", 2.5e-6, 1e-5), ("anthropic", "claude-sonnet-4", 3e-6, 1.5e-5)]


def _session_events(rng: random.Random, index: int) -> list[dict[str, Any]]:
    agent_id, agent_name, tools = AGENTS[index % len(AGENTS)]
    session_id = f"demo-{agent_id}-{index:03d}"
    t = now_ms() - timedelta(hours=rng.randint(1, 72), minutes=rng.randint(0, 59))
    out: list[dict[str, Any]] = []

    def emit(event_type: str, payload: dict[str, Any], severity: str = "info") -> None:
        nonlocal t
        t += timedelta(milliseconds=rng.randint(50, 2500))
        out.append(
            {
                "sessionId": session_id,
                "agentId": agent_id,
                "eventType": event_type,
                "severity": severity,
                "payload": payload,
                "metadata": {"env": "demo"},
                "timestamp": iso_ms(t),
            }
        )

    emit("session_started", {"agentName": agent_name, "agentVersion": "1.4.2", "tags": ["demo", agent_id]})
    failed = False
    for step in range(rng.randint(2, 6)):
        provider, model, price_in, price_out = rng.choice(MODELS)
        call = f"llm-{index}-{step}"
        emit("llm_call", {"callId": call, "provider": provider, "model": model,
                          "messages": [{"role": "user", "content": f"step {step} of task {index}"}]})
        tokens_in, tokens_out = rng.randint(200, 4000), rng.randint(50, 800)
        emit("llm_response", {
            "callId": call, "provider": provider, "model": model,
            "completion": f"I will use {tools[step % len(tools)]}.", "finishReason": "tool_calls",
            "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out},
            "costUsd": round(tokens_in * price_in + tokens_out * price_out, 6),
            "latencyMs": rng.randint(300, 4000)})
        tool, tool_call = tools[step % len(tools)], f"tool-{index}-{step}"
        emit("tool_call", {"toolName": tool, "callId": tool_call, "arguments": {"query": f"item {step}"}})
        if rng.random() < 0.12:
            failed = True
            emit("tool_error", {"callId": tool_call, "toolName": tool, "error": "upstream timed out",
                                "errorCode": "ETIMEDOUT", "durationMs": 30000}, severity="error")
        else:
            emit("tool_response", {"callId": tool_call, "toolName": tool, "result": {"ok": True, "items": step + 1},
                                   "durationMs": rng.randint(20, 1500)})
    if index % 7 != 0:  # a few sessions stay active
        emit("session_ended", {"reason": "error" if failed and rng.random() < 0.5 else "completed",
                               "summary": f"task {index} done"})
    return out


async def load_demo(services: Services, project_id: str, sessions: int = 24, seed: int = 7) -> int:
    """Ingest the sample once; a second call finds it and stores nothing."""
    first = f"demo-{AGENTS[0][0]}-000"
    if await services.store.traces.sessions_by_ids(project_id, [first]):
        return 0
    rng = random.Random(seed)
    stored = 0
    for index in range(sessions):
        result = await ingest_typed(services, project_id, _session_events(rng, index))
        stored += len(result.inserted)
    return stored
