"""Seed 002's answers as types: the handlers build them (mypy checks each field) and the
OpenAPI document describes them (pydantic turns them into JSON Schema). No runtime cost:
a TypedDict is a plain dict. extra="forbid" makes the published schema closed, so the
test that validates live answers against it catches a field the type does not name."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, with_config
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
