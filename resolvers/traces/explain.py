"""A session told as Markdown: its duration and tokens, a timeline of steps with their reasoning, a summary.

Seed 002's GET /sessions/:id/explain. The text is the reference backend's (lib/explain.js of
the AgentLens backend), line for line, so a reader or a tool that parses it sees the same:
"## Agent Session: <agent>", "**Duration:** 45.2s", a "**Step n:**" per LLM, tool or agent
call, "### Summary".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from resolvers.core.services import Services
from resolvers.traces.jsfmt import js_string, js_stringify, to_fixed, truthy, utf16_len, utf16_prefix
from resolvers.traces.reads import session_steps
from storage.models import Event, Session

PREVIEW = 120  # characters of an input or output shown in a step


async def explain_session(services: Services, project_id: str, session_id: str) -> str:
    """The explanation of one of the project's sessions; NotFound when it has none by that id."""
    return explain(*await session_steps(services, project_id, session_id))


def explain(session: Session, events: list[Event]) -> str:
    """The explanation of a session from its events (oldest first, without its start and end records)."""
    total_in, total_out = session.tokens_in, session.tokens_out
    lines = [
        f"## Agent Session: {agent_label(session)}",
        f"**Duration:** {format_duration(session.started_at, session.ended_at)}",
        f"**Total tokens used:** {total_in + total_out} ({total_in} input, {total_out} output)",
        "",
        "### What happened:",
        "",
    ]
    step = 1
    for event in events:
        trace = _object(event.payload.get("decision_trace"))
        reasoning = trace.get("reasoning")
        if event.type == "llm_call":
            prompt = _object(event.payload.get("input_data")).get("prompt")
            response = _object(event.payload.get("output_data")).get("response")
            lines.append(f"**Step {step}:** The agent made an LLM call"
                         + (f" using {event.model}" if event.model else "") + ".")
            lines.append(f'- *Input:* "{truncate(prompt if truthy(prompt) else "unknown prompt")}"')
            lines.append(f'- *Output:* "{truncate(response if truthy(response) else "unknown response")}"')
            if event.tokens_in or event.tokens_out:
                lines.append(f"- *Tokens:* {event.tokens_in or 0} in / {event.tokens_out or 0} out")
            if truthy(reasoning):
                lines.append(f"- 💡 *Reasoning:* {js_string(reasoning)}")
        elif event.type == "tool_call":
            tool = _object(event.payload.get("tool_call"))
            name = js_string(tool["tool_name"]) if truthy(tool.get("tool_name")) else "unknown tool"
            lines.append(f"**Step {step}:** The agent called the **{name}** tool.")
            for key, label in (("tool_input", "Input"), ("tool_output", "Output")):
                if truthy(tool.get(key)):
                    lines.append(f"- *{label}:* {truncate(js_stringify(tool[key]))}")
            if event.duration_ms:
                lines.append(f"- *Duration:* {to_fixed(event.duration_ms, 1)}ms")
        elif event.type == "agent_call":
            lines.append(f"**Step {step}:** Agent function executed.")
            if truthy(reasoning):
                lines.append(f"- 💡 *Reasoning:* {js_string(reasoning)}")
            if event.duration_ms:
                lines.append(f"- *Duration:* {to_fixed(event.duration_ms, 1)}ms")
        else:
            continue
        lines.append("")
        step += 1

    llm_calls = sum(1 for e in events if e.type == "llm_call")
    tool_calls = sum(1 for e in events if e.type == "tool_call")
    errors = sum(1 for e in events if "error" in e.type)  # any type naming an error, as the reference counts
    lines += [
        "### Summary",
        f"- {llm_calls} LLM call(s), {tool_calls} tool call(s), {errors} error(s)",
        f"- Total tokens: {total_in + total_out}",
        f"- Session status: {session.status.value}",
    ]
    return "\n".join(lines)


def agent_label(session: Session) -> str:
    # The reference names a session created by a plain event "default-agent"; here it has no name yet.
    return session.agent_name or "default-agent"


def format_duration(start: datetime | None, end: datetime | None) -> str:
    """Wall-clock time from start to end: "850ms", "45.2s" or "3.5m"; "ongoing" before the end."""
    if start is None:
        return "unknown"
    if end is None:
        return "ongoing"
    ms = duration_ms(start, end)
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60000:
        return f"{to_fixed(ms / 1000, 1)}s"
    return f"{to_fixed(ms / 60000, 1)}m"


def duration_ms(start: datetime, end: datetime) -> int:
    """Whole milliseconds between two stored times (both are kept at millisecond precision)."""
    delta = end - start
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + delta.microseconds // 1000


def truncate(value: Any, limit: int = PREVIEW) -> str:
    text = js_string(value)
    return utf16_prefix(text, limit) + "…" if utf16_len(text) > limit else text


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
