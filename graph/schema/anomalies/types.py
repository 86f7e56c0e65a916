"""The AnomalyRule and Anomaly types (seed 001's rules and anomalies, in GraphQL's own camelCase style)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from graph.schema.traces.types import Agent, Session
from resolvers.anomalies.service import RuleView
from storage.contract import Page
from storage.contract.traces import SessionQuery
from storage.models import anomalies as models

MAX_LINKED_SESSIONS = 100


@strawberry.enum
class AnomalySeverity(Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@strawberry.enum(description="open until acknowledged or dismissed; resolved when the metric returned to normal.")
class AnomalyStatus(Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    RESOLVED = "resolved"


@strawberry.enum
class DismissReason(Enum):
    EXPECTED_CHANGE = "expected_change"
    FALSE_POSITIVE = "false_positive"
    NOT_ACTIONABLE = "not_actionable"
    OTHER = "other"


@strawberry.type
class SeriesPoint:
    date: str
    value: float | None


@strawberry.type
class AnomalyMetric:
    name: str
    current_value: float | None
    baseline_value: float | None
    change_percentage: float | None
    time_series: list[SeriesPoint]


@strawberry.type(description="One segment's metric in the window and the baseline, and the change in percent.")
class AnomalySegment:
    dimension: str  # device, source, country, agent, model, tool...
    value: str
    current: float | None
    baseline: float | None
    change: float | None


@strawberry.type
class Anomaly:
    doc: strawberry.Private[models.Anomaly]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def rule_id(self) -> str:
        return self.doc.rule_id

    @strawberry.field
    def rule_name(self) -> str:
        return self.doc.rule_name

    @strawberry.field
    def severity(self) -> AnomalySeverity:
        return AnomalySeverity(self.doc.severity.value)

    @strawberry.field
    def status(self) -> AnomalyStatus:
        return AnomalyStatus(self.doc.status.value)

    @strawberry.field
    def detected_at(self) -> datetime:
        return self.doc.detected_at

    @strawberry.field
    def metric(self) -> AnomalyMetric:
        m = self.doc.metric
        return AnomalyMetric(name=m.name, current_value=m.current_value, baseline_value=m.baseline_value,
                             change_percentage=m.change_percentage,
                             time_series=[SeriesPoint(date=p.date, value=p.value) for p in m.time_series])

    @strawberry.field(description="Every segment of every dimension, in the order the detector stored them.")
    def segments(self) -> list[AnomalySegment]:
        return [AnomalySegment(dimension=dim, value=key, current=s.current, baseline=s.baseline, change=s.change)
                for dim, values in self.doc.segments.items() for key, s in values.items()]

    @strawberry.field
    def ai_analysis(self) -> str | None:
        return self.doc.ai_analysis

    @strawberry.field
    def recommended_actions(self) -> list[str]:
        return self.doc.recommended_actions

    @strawberry.field
    def acknowledged_at(self) -> datetime | None:
        return self.doc.acknowledged_at

    @strawberry.field
    def acknowledged_by(self) -> str | None:
        return self.doc.acknowledged_by

    @strawberry.field
    def acknowledge_note(self) -> str | None:
        return self.doc.acknowledge_note

    @strawberry.field
    def dismissed_at(self) -> datetime | None:
        return self.doc.dismissed_at

    @strawberry.field
    def dismissed_by(self) -> str | None:
        return self.doc.dismissed_by

    @strawberry.field
    def dismiss_reason(self) -> DismissReason | None:
        return None if self.doc.dismiss_reason is None else DismissReason(self.doc.dismiss_reason.value)

    @strawberry.field
    def dismiss_note(self) -> str | None:
        return self.doc.dismiss_note

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.doc.resolved_at

    @strawberry.field
    def window_start(self) -> datetime:
        return self.doc.window_start

    @strawberry.field
    def window_end(self) -> datetime:
        return self.doc.window_end

    @strawberry.field(description="The agent the anomaly concerns: the one that moved most, for agent metrics.")
    async def agent(self, info: Info[Context, None]) -> Agent | None:
        if self.doc.agent_id is None:
            return None
        if self.doc.project_id == info.context.project_id:
            found = await info.context.loaders.agent.load(self.doc.agent_id)
        else:  # an anomaly of another project of the caller's account
            (found,) = await info.context.services.store.traces.agents_by_ids(self.doc.project_id, [self.doc.agent_id])
        return None if found is None else Agent(doc=found)

    @strawberry.field(description="Sessions in the anomaly's window (of its agent, where it concerns one), "
                                  "newest first: where to look for the cause.")
    async def sessions(self, info: Info[Context, None], first: int = 10) -> list[Session]:
        first = max(0, min(first, MAX_LINKED_SESSIONS))
        agent = self.doc.agent_id
        query = SessionQuery(agent_ids=(agent,) if agent else None, since=self.doc.window_start,
                             until=self.doc.window_end, kinds=("agent",) if agent else None)
        page = Page(first, 0, descending=True, count_total=False)
        found = await info.context.services.store.traces.find_sessions(self.doc.project_id, query, page)
        return [Session.of(s) for s in found.items]


@strawberry.type
class AnomalyPage:
    nodes: list[Anomaly]
    total_count: int
    has_next_page: bool


@strawberry.type
class RuleThreshold:
    direction: str
    percentage: float
    min_volume: int


@strawberry.type
class RuleAlert:
    severity: AnomalySeverity
    cooldown_hours: int
    channels: list[str]


@strawberry.type
class AnomalyRule:
    view: strawberry.Private[RuleView]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.view.rule.id)

    @strawberry.field
    def name(self) -> str:
        return self.view.rule.name

    @strawberry.field
    def description(self) -> str | None:
        return self.view.rule.description

    @strawberry.field
    def category(self) -> str:
        return self.view.rule.category

    @strawberry.field(description="system or custom")
    def type(self) -> str:
        return self.view.rule.type

    @strawberry.field
    def enabled(self) -> bool:
        return self.view.rule.enabled

    @strawberry.field(description="An aggregation (count, sum...) or a named metric (conversion_rate, cost...).")
    def metric_type(self) -> str:
        return self.view.rule.metric.type

    @strawberry.field
    def event(self) -> str | None:
        return self.view.rule.metric.event

    @strawberry.field
    def comparison(self) -> str:
        return self.view.rule.comparison.type

    @strawberry.field
    def threshold(self) -> RuleThreshold:
        t = self.view.rule.threshold
        return RuleThreshold(direction=t.direction, percentage=t.percentage, min_volume=t.min_volume)

    @strawberry.field
    def alert(self) -> RuleAlert:
        a = self.view.rule.alert
        return RuleAlert(severity=AnomalySeverity(a.severity.value), cooldown_hours=a.cooldown_hours,
                         channels=a.channels)

    @strawberry.field
    def last_triggered(self) -> datetime | None:
        return self.view.last_triggered

    @strawberry.field(name="triggerCount30d")
    def trigger_count_30d(self) -> int:
        return self.view.trigger_count_30d
