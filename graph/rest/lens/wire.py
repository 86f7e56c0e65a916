"""Seed 001's wire format: `{"status": "ok", "data": ...}` answers, snake_case fields, times to the second
(2024-01-15T14:32:00Z), and `{"status": "error", "error": {"code", "message", ...}}` errors.

The seed documents three error bodies (RATE_LIMIT_EXCEEDED, QUESTION_LIMIT_EXCEEDED, INVALID_QUESTION); every
other failure takes the same shape with a code named for its status, and a 400 lists what is wrong in details.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal, NotRequired, cast

import orjson
from aiohttp import web
from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from graph.rest.http import Handler, json_response
from resolvers.anomalies import present
from resolvers.anomalies.metrics import OPERATORS
from resolvers.anomalies.service import RuleView, Usage
from resolvers.assistant.questions import Unanswerable
from resolvers.assistant.service import Chat
from resolvers.core.errors import Problem
from storage.models.anomalies import Anomaly, Report, RuleFilter

CLOSED = ConfigDict(extra="forbid")
CODES = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
         409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "RATE_LIMIT_EXCEEDED",
         500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"}
RATE_LIMITED = "Too many requests to LENS API"  # the seed's message, word for word
# The seed's operator names, for rules stored with the engine's.
OPERATOR_NAMES = {engine: seed for seed, engine in reversed(OPERATORS.items()) if seed != engine}


when = present.when


# -- errors ---------------------------------------------------------------------------------------------------


@with_config(CLOSED)
class DetailOut(TypedDict):
    field: str
    message: str


@with_config(CLOSED)
class ErrorBody(TypedDict):
    code: str
    message: str
    retry_after: NotRequired[int]  # 429 and 503: seconds, as Retry-After
    details: NotRequired[list[DetailOut]]  # 400: each field that is wrong
    suggestions: NotRequired[list[str]]  # INVALID_QUESTION: what to ask instead
    limit: NotRequired[int]  # QUESTION_LIMIT_EXCEEDED: the month's questions, used and when they reset
    used: NotRequired[int]
    resets_at: NotRequired[str]
    overage_available: NotRequired[bool]


@with_config(CLOSED)
class ErrorOut(TypedDict):
    status: Literal["error"]
    error: ErrorBody


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: ErrorBody = {"code": CODES.get(status, "ERROR"), "message": message}
    if status == 429:
        body["message"] = RATE_LIMITED
    if status in (429, 503):
        body["retry_after"] = 60  # the seed's; retry_after_header() sets the limiter's own
    if status == 400 and problems:
        body["details"] = [{"field": p.path, "message": p.message} for p in problems]
    answer: ErrorOut = {"status": "error", "error": body}
    return json_response(answer, status)


@web.middleware
async def retry_after_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The family's outermost middleware: a 429 or 503 body says what its Retry-After header says (the error
    renderer is called before the limiter's header is set)."""
    response = await handler(request)
    seconds = response.headers.get("Retry-After")
    if response.status in (429, 503) and seconds and isinstance(response, web.Response) and response.body:
        body = orjson.loads(response.body)  # type: ignore[arg-type]
        body["error"]["retry_after"] = int(seconds)
        response.body = orjson.dumps(body)
    return response


def ok(data: Any, status: int = 200, **extra: Any) -> web.Response:
    return json_response({"status": "ok", "data": data, **extra}, status)


def failed(status: int, body: ErrorBody) -> web.Response:
    """One of the seed's own error bodies (INVALID_QUESTION, QUESTION_LIMIT_EXCEEDED)."""
    answer: ErrorOut = {"status": "error", "error": body}
    return json_response(answer, status)


# -- the assistant --------------------------------------------------------------------------------------------


@with_config(CLOSED)
class MetricReferencedOut(TypedDict):
    name: str
    value: float | None
    change: float | None  # percent against the period before; None where that had nothing


@with_config(CLOSED)
class ChatAnswerOut(TypedDict):
    answer: str
    conversation_id: str
    metrics_referenced: list[MetricReferencedOut]
    confidence: float
    follow_ups: list[str]


@with_config(CLOSED)
class ChatUsageOut(TypedDict):
    questions_used: int
    questions_limit: int
    questions_remaining: int


def chat_json(found: Chat) -> ChatAnswerOut:
    return {"answer": found.answer.text, "conversation_id": found.conversation_id,
            "metrics_referenced": [{"name": m["name"], "value": m["value"], "change": m["change"]}
                                   for m in found.answer.metrics],
            "confidence": found.answer.confidence, "follow_ups": found.answer.follow_ups}


def chat_usage_json(u: Usage) -> ChatUsageOut:
    return {"questions_used": u.used, "questions_limit": u.limit, "questions_remaining": u.remaining}


def invalid_question(exc: Unanswerable) -> web.Response:
    return failed(400, {"code": "INVALID_QUESTION", "message": exc.message, "suggestions": list(exc.suggestions)})


def question_limit(u: Usage) -> web.Response:
    return failed(429, {"code": "QUESTION_LIMIT_EXCEEDED", "message": "Monthly question limit reached",
                        "limit": u.limit, "used": u.used, "resets_at": when(u.resets_at) or "",
                        "overage_available": False})  # no paid overage on a self-hosted server


# -- anomalies ------------------------------------------------------------------------------------------------


@with_config(CLOSED)
class MetricSummaryOut(TypedDict):
    name: str
    current_value: float | None
    baseline_value: float | None
    change_percentage: float | None


@with_config(CLOSED)
class PointOut(TypedDict):
    date: str
    value: float | None


@with_config(CLOSED)
class MetricOut(MetricSummaryOut):
    time_series: list[PointOut]


@with_config(CLOSED)
class SegmentOut(TypedDict):
    current: float | None
    baseline: float | None
    change: float | None


@with_config(CLOSED)
class AnomalySummaryOut(TypedDict):
    """A listing's item: exactly the seed's fields; segments give each segment's change in percent."""

    id: str
    rule_id: str
    rule_name: str
    severity: str
    status: str
    detected_at: str
    metric: MetricSummaryOut
    segments: dict[str, dict[str, float | None]]


@with_config(CLOSED)
class AnomalyOut(TypedDict):
    """The seed's details, and what was done about the anomaly (null until it was)."""

    id: str
    rule_id: str
    rule_name: str
    severity: str
    status: str
    detected_at: str
    metric: MetricOut
    segments: dict[str, dict[str, SegmentOut]]
    ai_analysis: str | None
    recommended_actions: list[str]
    acknowledged_at: str | None
    acknowledged_by: str | None
    note: str | None  # the acknowledgement's
    dismissed_at: str | None
    dismissed_by: str | None
    dismiss_reason: str | None
    dismiss_note: str | None
    resolved_at: str | None


@with_config(CLOSED)
class AcknowledgedOut(TypedDict):
    id: str
    status: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    note: str | None


@with_config(CLOSED)
class DismissedOut(TypedDict):
    id: str
    status: str
    dismissed_at: str | None
    dismissed_by: str | None
    reason: str | None
    note: str | None


def _summary(a: Anomaly) -> MetricSummaryOut:
    return cast(MetricSummaryOut, present.metric_summary(a))


def anomaly_summary(a: Anomaly) -> AnomalySummaryOut:
    return {"id": a.id, "rule_id": a.rule_id, "rule_name": a.rule_name, "severity": a.severity.value,
            "status": a.status.value, "detected_at": when(a.detected_at) or "", "metric": _summary(a),
            "segments": {dim: {k: s.change for k, s in values.items()} for dim, values in a.segments.items()}}


def anomaly_detail(a: Anomaly) -> AnomalyOut:
    """resolvers/anomalies/present.py's, which the anomaly webhooks send too."""
    return cast(AnomalyOut, present.anomaly_detail(a))


def acknowledged(a: Anomaly) -> AcknowledgedOut:
    return {"id": a.id, "status": a.status.value, "acknowledged_at": when(a.acknowledged_at),
            "acknowledged_by": a.acknowledged_by, "note": a.acknowledge_note}


def dismissed(a: Anomaly) -> DismissedOut:
    return {"id": a.id, "status": a.status.value, "dismissed_at": when(a.dismissed_at),
            "dismissed_by": a.dismissed_by, "reason": a.dismiss_reason.value if a.dismiss_reason else None,
            "note": a.dismiss_note}


# -- rules ----------------------------------------------------------------------------------------------------


@with_config(CLOSED)
class ThresholdSummaryOut(TypedDict):
    direction: str
    percentage: float


@with_config(CLOSED)
class ThresholdOut(ThresholdSummaryOut):
    min_volume: int


@with_config(CLOSED)
class FilterOut(TypedDict):
    field: str
    operator: str
    value: Any


@with_config(CLOSED)
class RuleMetricOut(TypedDict):
    type: str
    event: str | None
    source: str
    field: str | None
    percentile: float | None
    filters: list[FilterOut]
    hits: list[FilterOut]


@with_config(CLOSED)
class ComparisonOut(TypedDict):
    type: str
    window_hours: int


@with_config(CLOSED)
class AlertOut(TypedDict):
    severity: str
    cooldown_hours: int
    channels: list[str]


@with_config(CLOSED)
class RuleSummaryOut(TypedDict):
    id: str
    name: str
    category: str
    type: str
    enabled: bool
    threshold: ThresholdSummaryOut
    last_triggered: str | None
    trigger_count_30d: int


@with_config(CLOSED)
class RuleOut(TypedDict):
    id: str
    name: str
    description: str | None
    category: str
    type: str
    enabled: bool
    metric: RuleMetricOut
    comparison: ComparisonOut
    threshold: ThresholdOut
    alert: AlertOut
    last_triggered: str | None
    trigger_count_30d: int
    created_at: str
    updated_at: str


@with_config(CLOSED)
class RuleCreatedOut(TypedDict):
    id: str
    name: str
    created_at: str
    enabled: bool


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value  # 20, as the seed writes it, not 20.0


def rule_summary(v: RuleView) -> RuleSummaryOut:
    r = v.rule
    return {"id": r.id, "name": r.name, "category": r.category, "type": r.type, "enabled": r.enabled,
            "threshold": {"direction": r.threshold.direction, "percentage": _number(r.threshold.percentage)},
            "last_triggered": when(v.last_triggered), "trigger_count_30d": v.trigger_count_30d}


def _filters(filters: list[RuleFilter]) -> list[FilterOut]:
    return [{"field": f.field, "operator": OPERATOR_NAMES.get(f.op, f.op), "value": f.value} for f in filters]


def rule_detail(v: RuleView) -> RuleOut:
    r = v.rule
    m = r.metric
    return {
        "id": r.id, "name": r.name, "description": r.description, "category": r.category, "type": r.type,
        "enabled": r.enabled,
        "metric": {"type": m.type, "event": m.event, "source": m.source, "field": m.field, "percentile": m.percentile,
                   "filters": _filters(m.filters), "hits": _filters(m.hits)},
        "comparison": {"type": r.comparison.type, "window_hours": r.comparison.window_hours},
        "threshold": {"direction": r.threshold.direction, "percentage": _number(r.threshold.percentage),
                      "min_volume": r.threshold.min_volume},
        "alert": {"severity": r.alert.severity.value, "cooldown_hours": r.alert.cooldown_hours,
                  "channels": r.alert.channels},
        "last_triggered": when(v.last_triggered), "trigger_count_30d": v.trigger_count_30d,
        "created_at": when(r.created_at) or "", "updated_at": when(r.updated_at) or "",
    }


def rule_created(v: RuleView) -> RuleCreatedOut:
    r = v.rule
    return {"id": r.id, "name": r.name, "created_at": when(r.created_at) or "", "enabled": r.enabled}


# -- reports and usage ----------------------------------------------------------------------------------------


@with_config(CLOSED)
class PeriodOut(TypedDict):
    start: str
    end: str


@with_config(CLOSED)
class ReportOut(TypedDict):
    id: str
    type: str
    title: str
    period: PeriodOut
    generated_at: str
    summary: dict[str, Any]


def report_json(r: Report) -> ReportOut:
    return cast(ReportOut, present.report_detail(r))


@with_config(CLOSED)
class QuestionsOut(TypedDict):
    limit: int
    used: int
    remaining: int


@with_config(CLOSED)
class DayCountOut(TypedDict):
    date: str
    count: int


@with_config(CLOSED)
class UserCountOut(TypedDict):
    email: str
    count: int


@with_config(CLOSED)
class OverageOut(TypedDict):
    count: int
    cost: int


@with_config(CLOSED)
class UsageOut(TypedDict):
    period: PeriodOut
    questions: QuestionsOut
    daily_usage: list[DayCountOut]
    by_user: list[UserCountOut]
    overage: OverageOut
    resets_at: str


def _day(d: date) -> str:
    return d.isoformat()


def usage_json(u: Usage) -> UsageOut:
    return {
        "period": {"start": _day(u.period_start), "end": _day(u.period_end)},
        "questions": {"limit": u.limit, "used": u.used, "remaining": u.remaining},
        "daily_usage": [{"date": d, "count": c} for d, c in u.daily],
        "by_user": [{"email": e, "count": c} for e, c in u.by_user],
        "overage": {"count": u.overage, "cost": 0},  # no paid overage on a self-hosted server
        "resets_at": when(u.resets_at) or "",
    }


# -- envelopes, for the OpenAPI document ----------------------------------------------------------------------


@with_config(CLOSED)
class PaginationOut(TypedDict):
    total: int
    limit: int
    offset: int


def envelope(name: str, data: Any, paginated: bool = False, usage: Any = None) -> Any:
    """`{"status": "ok", "data": data}` (and the pagination or usage block) as a closed TypedDict named for the
    route."""
    fields: dict[str, Any] = {"status": Literal["ok"], "data": data}
    if paginated:
        fields["pagination"] = PaginationOut
    if usage is not None:
        fields["usage"] = usage
    made: Any = TypedDict(name, fields)  # type: ignore[misc]
    setattr(made, "__pydantic_config__", CLOSED)  # noqa: B010  (a class mypy cannot see through)
    return made
