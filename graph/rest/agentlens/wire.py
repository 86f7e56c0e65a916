"""Seed 002's answers as types: the handlers build them (mypy checks each field) and the
OpenAPI document describes them (pydantic turns them into JSON Schema). No runtime cost:
a TypedDict is a plain dict. extra="forbid" makes the published schema closed, so the
test that validates live answers against it catches a field the type does not name."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

CLOSED = ConfigDict(extra="forbid")
SessionStatus = Literal["active", "completed", "error"]


@with_config(CLOSED)
class ErrorOut(TypedDict):
    """Every failure: one message."""

    error: str


@with_config(CLOSED)
class HealthOut(TypedDict):
    status: Literal["ok"]
    timestamp: str


@with_config(CLOSED)
class ProcessedOut(TypedDict):
    status: Literal["ok"]
    processed: int


@with_config(CLOSED)
class SessionOut(TypedDict):
    session_id: str
    agent_name: str | None
    started_at: str
    ended_at: str | None
    metadata: dict[str, Any]
    total_tokens_in: int
    total_tokens_out: int
    status: SessionStatus


@with_config(CLOSED)
class EventOut(TypedDict):
    event_id: str
    session_id: str
    event_type: str
    timestamp: str
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    duration_ms: float | None
    input_data: Any
    output_data: Any
    tool_call: Any
    decision_trace: Any


@with_config(CLOSED)
class SessionListOut(TypedDict):
    sessions: list[SessionOut]
    total: int


@with_config(CLOSED)
class SessionDetailOut(SessionOut):
    events: list[EventOut]


@with_config(CLOSED)
class ExplainOut(TypedDict):
    session_id: str
    explanation: str  # Markdown: "## Agent Session: ...", duration, tokens, "### What happened:", steps, "### Summary"


@with_config(CLOSED)
class ExportSessionOut(TypedDict):
    session_id: str
    agent_name: str | None
    status: SessionStatus
    started_at: str
    ended_at: str | None
    total_tokens_in: int
    total_tokens_out: int
    metadata: dict[str, Any]


@with_config(CLOSED)
class ExportEventOut(TypedDict):
    event_id: str
    event_type: str
    timestamp: str
    model: str  # "" when the event named none
    tokens_in: int
    tokens_out: int
    duration_ms: float
    input_data: Any  # {} when the event had none
    output_data: Any
    tool_call: Any  # null when the event had none
    decision_trace: Any


@with_config(CLOSED)
class ExportSummaryOut(TypedDict):
    total_events: int
    total_tokens: int
    models_used: list[str]
    event_types: list[str]
    total_duration_ms: float


@with_config(CLOSED)
class ExportOut(TypedDict):
    exported_at: str
    session: ExportSessionOut
    events: list[ExportEventOut]
    summary: ExportSummaryOut


@with_config(CLOSED)
class ModelUseOut(TypedDict):
    calls: int
    tokens_in: int
    tokens_out: int


@with_config(CLOSED)
class ToolUseOut(TypedDict):
    calls: int
    total_duration: float


@with_config(CLOSED)
class SessionMetricsOut(TypedDict):
    session_id: str
    agent_name: str | None
    status: SessionStatus
    started_at: str
    ended_at: str | None
    session_duration_ms: int | None  # null while the session runs
    tokens_in: int
    tokens_out: int
    total_tokens: int
    event_count: int
    error_count: int
    total_processing_ms: float
    avg_event_duration_ms: float
    models: dict[str, ModelUseOut]
    event_types: dict[str, int]
    tools: dict[str, ToolUseOut]
    metadata: dict[str, Any]


@with_config(CLOSED)
class DeltaOut(TypedDict):
    absolute: float  # B - A
    percent: float  # (B - A) / A x 100, to two places; +-100 from a zero A, 0 when both are zero


@with_config(CLOSED)
class DeltasOut(TypedDict):
    total_tokens: DeltaOut
    tokens_in: DeltaOut
    tokens_out: DeltaOut
    event_count: DeltaOut
    error_count: DeltaOut
    total_processing_ms: DeltaOut
    avg_event_duration_ms: DeltaOut


@with_config(CLOSED)
class SharedOut(TypedDict):
    """Every event type, tool and model seen in either session, A's first."""

    event_types: list[str]
    tools: list[str]
    models: list[str]


@with_config(CLOSED)
class CompareOut(TypedDict):
    compared_at: str
    session_a: SessionMetricsOut
    session_b: SessionMetricsOut
    deltas: DeltasOut
    shared: SharedOut


@with_config(CLOSED)
class OverviewOut(TypedDict):
    total_sessions: int
    active_sessions: int
    completed_sessions: int
    error_sessions: int
    error_rate: float  # percent of sessions in error, to two places; 0 with no sessions
    total_events: int  # events other than session start/end records
    total_tokens: int
    total_tokens_in: int
    total_tokens_out: int
    avg_tokens_per_session: int
    earliest_session: str | None  # started_at of the first session; null with none
    latest_session: str | None


@with_config(CLOSED)
class DurationOut(TypedDict):
    """Wall-clock length of ended sessions, in milliseconds, rounded; 0 with none."""

    avg_ms: int
    min_ms: int
    max_ms: int


@with_config(CLOSED)
class TopAgentOut(TypedDict):
    agent_name: str | None
    session_count: int
    total_tokens: int
    avg_tokens: int


@with_config(CLOSED)
class ModelUsageOut(TypedDict):
    model: str
    call_count: int
    total_tokens: int
    total_tokens_in: int
    total_tokens_out: int
    avg_duration_ms: float  # over the calls that reported one, to two places


@with_config(CLOSED)
class EventTypeCountOut(TypedDict):
    event_type: str
    count: int


@with_config(CLOSED)
class DayOut(TypedDict):
    day: str  # YYYY-MM-DD, UTC
    session_count: int
    total_tokens: int


@with_config(CLOSED)
class HourOut(TypedDict):
    hour: Annotated[int, Field(ge=0, le=23)]  # hour of day, UTC
    event_count: int


@with_config(CLOSED)
class AnalyticsOut(TypedDict):
    overview: OverviewOut
    duration: DurationOut
    top_agents: list[TopAgentOut]
    model_usage: list[ModelUsageOut]
    event_types: list[EventTypeCountOut]
    sessions_over_time: list[DayOut]
    hourly_activity: list[HourOut]
