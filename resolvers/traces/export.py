"""A session exported whole, as JSON or CSV: seed 002's GET /sessions/:id/export.

Field for field the reference backend's export (lib/csv-export.js of the AgentLens backend):
missing numbers are 0 and a missing model "", input_data/output_data default to {} and
tool_call/decision_trace to null; the summary's lists keep first-seen order; the CSV has
the documented thirteen columns, cells escaped against spreadsheet formula injection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from resolvers.traces.jsfmt import js_num, js_string, js_stringify
from resolvers.traces.reads import session_steps
from storage.models import Event, Session
from storage.timeutil import iso_ms

FORMATS = ("json", "csv")
CSV_COLUMNS = (
    "event_id", "event_type", "timestamp", "model", "tokens_in", "tokens_out", "duration_ms",
    "input_data", "output_data", "tool_name", "tool_input", "tool_output", "reasoning",
)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")
_FORMULA_TRIGGERS = ("=", "+", "-", "@")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")
_JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000\ufeff"


@dataclass(frozen=True, slots=True)
class ExportedEvent:
    event_id: str
    event_type: str
    timestamp: datetime
    model: str
    tokens_in: int
    tokens_out: int
    duration_ms: int | float
    input_data: Any
    output_data: Any
    tool_call: Any
    decision_trace: Any


@dataclass(frozen=True, slots=True)
class ExportSummary:
    total_events: int
    total_tokens: int
    models_used: list[str]
    event_types: list[str]
    total_duration_ms: int | float


@dataclass(frozen=True, slots=True)
class SessionExport:
    session: Session
    events: list[ExportedEvent]
    summary: ExportSummary


def export_format(raw: str | None) -> str:
    """The format asked for: json (the default) or csv, in any case."""
    chosen = (raw or "json").lower()
    if chosen not in FORMATS:
        raise InputError(Problem("format", f"unknown value {(raw or '')[:40]!r}; expected json or csv"))
    return chosen


async def export_session(services: Services, project_id: str, session_id: str) -> SessionExport:
    """One of the project's sessions with every event it tracked; NotFound when it has none by that id."""
    session, steps = await session_steps(services, project_id, session_id)
    events = [exported_event(e) for e in steps]
    return SessionExport(session, events, summary(session, events))


def exported_event(event: Event) -> ExportedEvent:
    payload = event.payload
    return ExportedEvent(
        event_id=event.id,
        event_type=event.type,
        timestamp=event.timestamp,
        model=event.model or "",
        tokens_in=event.tokens_in or 0,
        tokens_out=event.tokens_out or 0,
        duration_ms=js_num(event.duration_ms or 0),
        input_data=_or(payload.get("input_data"), {}),
        output_data=_or(payload.get("output_data"), {}),
        tool_call=payload.get("tool_call"),
        decision_trace=payload.get("decision_trace"),
    )


def summary(session: Session, events: list[ExportedEvent]) -> ExportSummary:
    total = 0.0
    for event in events:
        total += event.duration_ms
    return ExportSummary(
        total_events=len(events),
        total_tokens=session.tokens_in + session.tokens_out,
        models_used=list(dict.fromkeys(e.model for e in events if e.model)),
        event_types=list(dict.fromkeys(e.event_type for e in events)),
        total_duration_ms=js_num(total),
    )


def filename(session: Session, extension: str) -> str:
    """agentlens-<agent>-<first 8 of the id>.<ext>, reduced to characters safe in a header."""
    agent = _UNSAFE_FILENAME.sub("_", session.agent_name)[:64] if session.agent_name else "unknown"
    return f"agentlens-{agent}-{_UNSAFE_FILENAME.sub('_', session.id[:8])}.{extension}"


def csv_text(events: list[ExportedEvent]) -> str:
    """The header and one line per event, each ending in a newline."""
    lines = [",".join(CSV_COLUMNS)]
    for e in events:
        tool = e.tool_call if isinstance(e.tool_call, dict) else {}
        trace = e.decision_trace if isinstance(e.decision_trace, dict) else {}
        cells = (
            e.event_id, e.event_type, iso_ms(e.timestamp), e.model, e.tokens_in, e.tokens_out, e.duration_ms,
            e.input_data, e.output_data, tool.get("tool_name"), tool.get("tool_input"), tool.get("tool_output"),
            trace.get("reasoning"),
        )
        lines.append(",".join(csv_cell(c) for c in cells))
    return "\n".join(lines) + "\n"


def csv_cell(value: Any) -> str:
    """One cell: null empty, objects as JSON, formula triggers (=, +, -, @, even after leading
    spaces) behind an apostrophe unless the text is a number, quoted when it holds , " or a newline."""
    if value is None:
        return ""
    text = js_stringify(value) if isinstance(value, dict | list) else js_string(value)
    if not (text and _is_finite_number(text)):
        stripped = text.lstrip(" \t\r\n")
        if stripped and stripped[0] in _FORMULA_TRIGGERS:
            text = "'" + stripped
        elif text[:1] in ("\t", "\r"):
            text = "'" + text
    if "," in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _is_finite_number(text: str) -> bool:
    """isFinite(Number(text)): JavaScript's reading of a string as a number."""
    body = text.strip(_JS_SPACE)
    if not body:
        return True  # Number("  ") is 0
    if _NUMBER.fullmatch(body) is None:
        return False
    if body[:2].lower() in ("0x", "0o", "0b"):
        return True
    return float(body) not in (float("inf"), float("-inf"))


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
