"""Seed 004's answers as types: the handlers build them (mypy checks each field) and the
OpenAPI document describes them. A TypedDict is a plain dict at run time; extra="forbid"
closes the published schema, so the test against live answers catches an unnamed field."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

CLOSED = ConfigDict(extra="forbid")


@with_config(CLOSED)
class ProblemOut(TypedDict):
    path: str
    message: str


@with_config(CLOSED)
class ErrorOut(TypedDict):
    """Every failure; validation failures name each bad field in details."""

    error: str
    details: NotRequired[list[ProblemOut]]


@with_config(CLOSED)
class HealthOut(TypedDict):
    status: Literal["ok"]
    version: str


@with_config(CLOSED)
class Sealed(TypedDict):
    id: str
    hash: str | None


@with_config(CLOSED)
class IngestedOut(TypedDict):
    ingested: int
    events: list[Sealed]


@with_config(CLOSED)
class EventOut(TypedDict):
    id: str
    timestamp: str
    sessionId: str
    agentId: str | None
    eventType: str
    severity: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    prevHash: str | None
    hash: str | None


@with_config(CLOSED)
class SessionOut(TypedDict):
    id: str
    agentId: str | None
    agentName: str | None
    startedAt: str
    endedAt: str | None
    status: Literal["active", "completed", "error"]
    eventCount: int
    toolCallCount: int
    errorCount: int
    llmCallCount: int
    totalCostUsd: float
    totalInputTokens: int
    totalOutputTokens: int
    tags: list[str]


@with_config(CLOSED)
class EventListOut(TypedDict):
    events: list[EventOut]
    total: int
    hasMore: bool


@with_config(CLOSED)
class SessionListOut(TypedDict):
    sessions: list[SessionOut]
    total: int
    hasMore: bool


@with_config(CLOSED)
class TimelineOut(TypedDict):
    events: list[EventOut]
    chainValid: bool
