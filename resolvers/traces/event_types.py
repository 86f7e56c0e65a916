"""The typed event vocabulary (seed 004): 18 event types and their payloads.

Used by POST /api/events and the GraphQL ingestEvents mutation alike. Payload
models name only the documented fields; anything else in a payload is kept.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resolvers.core.bounds import CostUsd, DurationMs, Instant, Tokens
from resolvers.core.errors import InputError, Problem, from_pydantic
from resolvers.traces.planner import Lifecycle
from storage.models import NANOS_PER_USD, Event, SessionStatus
from storage.models.construct import from_stored

Severity = Literal["debug", "info", "warn", "error", "critical"]
SEVERITIES: tuple[str, ...] = Severity.__args__  # type: ignore[attr-defined]
MAX_ID_LENGTH = 256


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class SessionStarted(_Payload):
    agentName: str | None = None
    agentVersion: str | None = None
    mcpClientInfo: dict[str, Any] | None = None
    tags: list[str] | None = None


class SessionEnded(_Payload):
    reason: Literal["completed", "error", "timeout", "manual"]
    summary: str | None = None
    totalToolCalls: int | None = None
    totalDurationMs: float | None = None


class ToolCall(_Payload):
    toolName: str
    callId: str
    arguments: dict[str, Any]
    serverName: str | None = None


class ToolResponse(_Payload):
    callId: str
    toolName: str
    result: Any
    durationMs: DurationMs


class ToolError(_Payload):
    callId: str
    toolName: str
    error: str | dict[str, Any]
    errorCode: str | int | None = None
    durationMs: DurationMs


class ApprovalRequested(_Payload):
    requestId: str
    action: str
    params: dict[str, Any]
    urgency: str


class ApprovalDecided(_Payload):
    requestId: str
    action: str
    decidedBy: str
    reason: str | None = None


class FormSubmitted(_Payload):
    submissionId: str
    formId: str
    formName: str | None = None
    fieldCount: int


class FormCompleted(_Payload):
    submissionId: str
    formId: str
    completedBy: str
    durationMs: DurationMs


class FormExpired(_Payload):
    submissionId: str
    formId: str
    expiredAfterMs: DurationMs


class LlmCall(_Payload):
    callId: str
    provider: str
    model: str
    messages: list[Any]
    systemPrompt: str | None = None
    parameters: dict[str, Any] | None = None
    tools: list[Any] | None = None
    redacted: bool | None = None


class Usage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    inputTokens: Tokens
    outputTokens: Tokens
    totalTokens: Tokens | None = None


class LlmResponse(_Payload):
    callId: str
    provider: str
    model: str
    completion: str | None
    toolCalls: list[Any] | None = None
    finishReason: str
    usage: Usage
    costUsd: CostUsd
    latencyMs: DurationMs
    redacted: bool | None = None


class CostTracked(_Payload):
    provider: str
    model: str
    inputTokens: Tokens
    outputTokens: Tokens
    totalTokens: Tokens
    costUsd: CostUsd
    trigger: str | None = None


class AlertTriggered(_Payload):
    alertRuleId: str
    alertName: str
    condition: str
    currentValue: float
    threshold: float
    message: str


class AlertResolved(_Payload):
    alertRuleId: str
    alertName: str
    resolvedBy: str | None = None


class Custom(_Payload):
    type: str
    data: Any


PAYLOADS: dict[str, type[_Payload]] = {
    "session_started": SessionStarted,
    "session_ended": SessionEnded,
    "tool_call": ToolCall,
    "tool_response": ToolResponse,
    "tool_error": ToolError,
    "approval_requested": ApprovalRequested,
    "approval_granted": ApprovalDecided,
    "approval_denied": ApprovalDecided,
    "approval_expired": ApprovalDecided,
    "form_submitted": FormSubmitted,
    "form_completed": FormCompleted,
    "form_expired": FormExpired,
    "llm_call": LlmCall,
    "llm_response": LlmResponse,
    "cost_tracked": CostTracked,
    "alert_triggered": AlertTriggered,
    "alert_resolved": AlertResolved,
    "custom": Custom,
}
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)


class EventIn(BaseModel):
    """One event as POST /api/events and ingestEvents take it."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sessionId: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    agentId: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    eventType: str
    severity: Severity = "info"
    payload: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp: Instant | None = None


def usd_to_nanos(value: float | int | str | Decimal | None) -> int | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return int((amount * NANOS_PER_USD).to_integral_value(ROUND_HALF_EVEN))


def validate_events(
    items: Any, *, prefix: str = "events", max_events: int = 1000
) -> list[tuple[EventIn, _Payload, dict[str, Any]]]:
    """Validate a whole batch; raise one InputError naming every bad field.

    Each event comes back with its payload model and its payload document (what is stored). A valid batch
    takes one pydantic call (resolvers/traces/typed_batch.py); one with any problem is validated again event
    by event, which names every problem as it always has.
    """
    if not isinstance(items, list):
        raise InputError(Problem(prefix, "must be an array of events"))
    if not items:
        raise InputError(Problem(prefix, "must hold at least 1 event"))
    if len(items) > max_events:
        raise InputError(Problem(prefix, f"holds {len(items)} events; at most {max_events} are allowed"))
    from resolvers.traces.typed_batch import validate_batch  # it builds its models from this module's

    fast = validate_batch(items)
    if fast is not None:
        return fast
    problems: list[Problem] = []
    out: list[tuple[EventIn, _Payload, dict[str, Any]]] = []
    for index, raw in enumerate(items):
        try:
            item = EventIn.model_validate(raw)
        except ValidationError as exc:
            problems.extend(from_pydantic(exc, (prefix, index)).problems)
            continue
        model = PAYLOADS.get(item.eventType)
        if model is None:
            problems.append(
                Problem(
                    f"{prefix}[{index}].eventType",
                    f"unknown event type {item.eventType!r}; expected one of {', '.join(EVENT_TYPES)}",
                )
            )
            continue
        try:
            payload = model.model_validate(item.payload)
        except ValidationError as exc:
            problems.extend(from_pydantic(exc, (prefix, index, "payload")).problems)
            continue
        out.append((item, payload, item.payload))
    if problems:
        raise InputError(problems)
    return out


def _call_id(payload: _Payload) -> str | None:
    """The callId that pairs calls with answers. Types that do not declare one keep extra fields
    as they came, so only a string counts."""
    value = getattr(payload, "callId", None)
    return value if isinstance(value, str) and len(value) <= MAX_ID_LENGTH else None


def to_event(
    project_id: str, item: EventIn, payload: _Payload, doc: dict[str, Any], received_at: datetime, event_id: str
) -> tuple[Event, Lifecycle | None]:
    """The stored event (unsealed) and what it says about its session. doc is the payload as stored.

    Every value here was validated already (item, payload, the id and times are ours), so the Event is built
    without validating it again: what Event(...) would hold, field for field (tests/resolvers/test_typed_batch.py).
    """
    tokens_in = tokens_out = cost = None
    duration = None
    model = None
    if isinstance(payload, LlmResponse):
        usage = payload.usage
        tokens_in, tokens_out = usage.inputTokens, usage.outputTokens
        cost, duration, model = usd_to_nanos(payload.costUsd), payload.latencyMs, payload.model
    elif isinstance(payload, CostTracked):
        tokens_in, tokens_out = payload.inputTokens, payload.outputTokens
        cost, model = usd_to_nanos(payload.costUsd), payload.model
    elif isinstance(payload, LlmCall):
        model = payload.model
    elif isinstance(payload, (ToolResponse, ToolError, FormCompleted)):
        duration = payload.durationMs

    values: dict[str, Any] = {
        "project_id": project_id,
        "id": event_id,
        "session_id": item.sessionId,
        "agent_id": item.agentId,
        "type": item.eventType,
        "severity": item.severity,
        "timestamp": item.timestamp or received_at,
        "received_at": received_at,
        "call_id": _call_id(payload),
        "model": model,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "duration_ms": duration,
        "cost_nanos": cost,
        "payload": doc,
        "metadata": item.metadata,
    }
    event = unsealed_event(values)
    hint = None
    if isinstance(payload, SessionStarted):
        hint = Lifecycle(agent_name=payload.agentName, metadata=item.metadata, tags=payload.tags)
    elif isinstance(payload, SessionEnded):
        hint = Lifecycle(
            end_status=SessionStatus.ERROR
            if payload.reason in ("error", "timeout")
            else SessionStatus.COMPLETED
        )
    return event, hint


# Event's fields in their order, at their defaults (seq, hashes, position, product fields), for
# unsealed_event. Not the payload and metadata: default dicts would be shared by every event.
_UNSEALED: dict[str, Any] = {
    name: None if name in ("payload", "metadata") else field.get_default(call_default_factory=True)
    for name, field in Event.model_fields.items()
}


def unsealed_event(values: dict[str, Any]) -> Event:
    """Event(**values) for values that are validated already, without validating them again (a quarter of
    the loop's time per event went to validating Events built from validated input). values must hold the
    types Event's fields validate to (floats for durations, aware datetimes, dicts as documents) and be
    the caller's own: they become the event's, as do the payload and metadata dicts themselves (which
    values must hold)."""
    merged = {**_UNSEALED, **values}
    if type(merged["payload"]) is not dict or type(merged["metadata"]) is not dict:
        raise TypeError("an event's payload and metadata must be the caller's own dicts")
    return from_stored(Event, merged)
