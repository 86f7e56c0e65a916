"""An anomaly (GET /api/lens/anomalies/{id}) and a report (GET /api/lens/reports) as the LENS API shows them,
shared by those routes (graph/rest/lens/wire.py) and the webhooks that announce them, so both say the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage.models.anomalies import Anomaly, Report


def when(value: datetime | None) -> str | None:
    """Seed 001's times: to the second, UTC (2024-01-15T14:32:00Z)."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metric_summary(a: Anomaly) -> dict[str, Any]:
    m = a.metric
    return {"name": m.name, "current_value": m.current_value, "baseline_value": m.baseline_value,
            "change_percentage": m.change_percentage}


def anomaly_detail(a: Anomaly) -> dict[str, Any]:
    return {
        "id": a.id, "rule_id": a.rule_id, "rule_name": a.rule_name, "severity": a.severity.value,
        "status": a.status.value, "detected_at": when(a.detected_at) or "",
        "metric": {**metric_summary(a),
                   "time_series": [{"date": p.date, "value": p.value} for p in a.metric.time_series]},
        "segments": {dim: {k: {"current": s.current, "baseline": s.baseline, "change": s.change}
                           for k, s in values.items()} for dim, values in a.segments.items()},
        "ai_analysis": a.ai_analysis, "recommended_actions": a.recommended_actions,
        "acknowledged_at": when(a.acknowledged_at), "acknowledged_by": a.acknowledged_by,
        "note": a.acknowledge_note, "dismissed_at": when(a.dismissed_at), "dismissed_by": a.dismissed_by,
        "dismiss_reason": a.dismiss_reason.value if a.dismiss_reason else None, "dismiss_note": a.dismiss_note,
        "resolved_at": when(a.resolved_at),
    }


def report_detail(r: Report) -> dict[str, Any]:
    return {"id": r.id, "type": r.kind, "title": r.title,
            "period": {"start": when(r.period_start) or "", "end": when(r.period_end) or ""},
            "generated_at": when(r.generated_at) or "", "summary": r.summary}
