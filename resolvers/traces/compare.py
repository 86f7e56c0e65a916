"""Two sessions side by side: seed 002's POST /sessions/compare.

Each session's metrics and the deltas between them are the reference backend's
(lib/session-metrics.js of the AgentLens backend): deltas are B relative to A, percent is
((B - A) / A) x 100 rounded to two places (+-100 from a zero baseline, 0 when both are
zero), millisecond fields are rounded to two places, and `shared` lists every event type,
tool and model seen in either session (A's first, in first-seen order), as the seed's
example shows ("decision" appears in `shared` though only B has it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resolvers.core.errors import NotFound
from resolvers.core.services import Services
from resolvers.traces.explain import duration_ms
from resolvers.traces.jsfmt import js_num, js_round, js_string, round2, truthy
from resolvers.traces.reads import LIFECYCLE_TYPES
from storage.contract import EventQuery, Page
from storage.models import Event, Session

# The documented deltas, in the documented order.
DELTA_FIELDS = (
    "total_tokens", "tokens_in", "tokens_out", "event_count", "error_count", "total_processing_ms",
    "avg_event_duration_ms",
)
ERROR_TYPES = frozenset({"error", "agent_error", "tool_error"})


@dataclass(slots=True)
class ModelUse:
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(slots=True)
class ToolUse:
    calls: int = 0
    total_duration: float = 0.0


@dataclass(slots=True)
class SessionMetrics:
    session: Session
    session_duration_ms: int | None
    tokens_in: int
    tokens_out: int
    event_count: int
    error_count: int
    total_processing_ms: int | float
    avg_event_duration_ms: int | float
    models: dict[str, ModelUse] = field(default_factory=dict)
    event_types: dict[str, int] = field(default_factory=dict)
    tools: dict[str, ToolUse] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    def value(self, name: str) -> int | float:
        number: int | float = getattr(self, name)
        return number


@dataclass(frozen=True, slots=True)
class Delta:
    absolute: int | float
    percent: int | float


@dataclass(frozen=True, slots=True)
class Comparison:
    a: SessionMetrics
    b: SessionMetrics
    deltas: dict[str, Delta]
    shared_event_types: list[str]
    shared_tools: list[str]
    shared_models: list[str]


def session_metrics(session: Session, events: list[Event]) -> SessionMetrics:
    """A session's totals (tokens from the session, the rest from its events, start and end records excluded)."""
    models: dict[str, ModelUse] = {}
    event_types: dict[str, int] = {}
    tools: dict[str, ToolUse] = {}
    total = 0.0
    errors = 0
    for event in events:
        duration = event.duration_ms or 0
        total += duration
        if event.model:
            use = models.setdefault(event.model, ModelUse())
            use.calls += 1
            use.tokens_in += event.tokens_in or 0
            use.tokens_out += event.tokens_out or 0
        event_types[event.type] = event_types.get(event.type, 0) + 1
        tool = event.payload.get("tool_call")
        if isinstance(tool, dict) and truthy(tool.get("tool_name")):
            used = tools.setdefault(js_string(tool["tool_name"]), ToolUse())
            used.calls += 1
            used.total_duration += duration
        if event.type in ERROR_TYPES:
            errors += 1
    count = len(events)
    return SessionMetrics(
        session=session,
        session_duration_ms=duration_ms(session.started_at, session.ended_at) if session.ended_at else None,
        tokens_in=session.tokens_in,
        tokens_out=session.tokens_out,
        event_count=count,
        error_count=errors,
        total_processing_ms=js_num(round2(total)),
        avg_event_duration_ms=js_num(round2(total / count if count else 0)),
        models=models,
        event_types=event_types,
        tools=tools,
    )


def pct_delta(a: float, b: float) -> int | float:
    """B's change from A in percent, to two places; from a zero baseline +-100 (0 if B is zero too)."""
    if a == 0:
        return 0 if b == 0 else (100 if b > 0 else -100)
    return js_num(js_round((b - a) / a * 10000) / 100)  # as the reference: Math.round(r * 10000) / 100


def deltas(a: SessionMetrics, b: SessionMetrics) -> dict[str, Delta]:
    out: dict[str, Delta] = {}
    for name in DELTA_FIELDS:
        va, vb = a.value(name), b.value(name)
        raw = vb - va
        absolute = js_num(round2(raw)) if name.endswith("_ms") else js_num(raw)
        out[name] = Delta(absolute=absolute, percent=pct_delta(va, vb))
    return out


def compare(a: SessionMetrics, b: SessionMetrics) -> Comparison:
    return Comparison(
        a=a,
        b=b,
        deltas=deltas(a, b),
        shared_event_types=_union(a.event_types, b.event_types),
        shared_tools=_union(a.tools, b.tools),
        shared_models=_union(a.models, b.models),
    )


async def compare_sessions(services: Services, project_id: str, session_a: str, session_b: str) -> Comparison:
    """Both sessions of the caller's project, compared; NotFound names the first one missing."""
    found = {s.id: s for s in await services.store.traces.sessions_by_ids(project_id, [session_a, session_b])}
    for wanted in (session_a, session_b):
        if wanted not in found:
            raise NotFound("session", wanted)
    a, b = found[session_a], found[session_b]
    events = await services.store.traces.events_for_sessions(
        project_id, [a.id, b.id], EventQuery(), Page(limit=max(a.event_count, b.event_count, 1), count_total=False)
    )
    steps = {sid: [e for e in page.items if e.type not in LIFECYCLE_TYPES] for sid, page in events.items()}
    return compare(session_metrics(a, steps.get(a.id, [])), session_metrics(b, steps.get(b.id, [])))


def _union(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))
