"""Anomaly and rule queries and mutations: resolvers/anomalies/service.py, as the LENS REST routes use it.

`project` is seed 001's account_id (a project id or name); another tenant's anomaly or rule is not found.
Rule inputs become the same dicts the REST body is, so both are validated by one function with one set of
messages (their paths spelled in camelCase under input.).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.schema.anomalies.types import Anomaly as AnomalyType
from graph.schema.anomalies.types import (
    AnomalyPage,
    AnomalyRule,
    AnomalySeverity,
    AnomalyStatus,
    DismissReason,
)
from graph.schema.context import Context
from graph.schema.errors import bad_input
from graph.schema.project_ref import ProjectRef, project_for, spelled
from resolvers.anomalies import service
from storage.contract import Page
from storage.timeutil import now_ms


def _plain(value: Any) -> Any:
    """A GraphQL input as the REST body's dict: fields left unset are left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not strawberry.UNSET}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@strawberry.input
class AnomalyFilter:
    severity: list[AnomalySeverity] | None = None
    status: list[AnomalyStatus] | None = None
    rule_id: str | None = None
    date_range: str | None = strawberry.field(default=None, description="today, last_7_days, 2024-01-01..2024-01-31...")


@strawberry.input
class RuleFilterInput:
    field: str
    operator: str = strawberry.field(description="equals, not_equals, greater_than, less_than, contains, in, exists...")
    value: JSON | None = None


@strawberry.input
class RuleMetricInput:
    type: str
    event: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    field: str | None = strawberry.UNSET
    percentile: float | None = strawberry.UNSET
    filters: list[RuleFilterInput] | None = strawberry.UNSET
    hits: list[RuleFilterInput] | None = strawberry.UNSET


@strawberry.input
class RuleComparisonInput:
    type: str | None = strawberry.UNSET
    window_hours: int | None = strawberry.UNSET


@strawberry.input
class RuleThresholdInput:
    direction: str | None = strawberry.UNSET
    percentage: float | None = strawberry.UNSET
    min_volume: int | None = strawberry.UNSET


@strawberry.input
class RuleAlertInput:
    severity: AnomalySeverity | None = strawberry.UNSET
    cooldown_hours: int | None = strawberry.UNSET
    channels: list[str] | None = strawberry.UNSET


@strawberry.input
class CreateAnomalyRuleInput:
    name: str
    metric: RuleMetricInput
    threshold: RuleThresholdInput
    description: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    comparison: RuleComparisonInput | None = strawberry.UNSET
    alert: RuleAlertInput | None = strawberry.UNSET


@strawberry.input
class UpdateAnomalyRuleInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    metric: RuleMetricInput | None = strawberry.UNSET
    comparison: RuleComparisonInput | None = strawberry.UNSET
    threshold: RuleThresholdInput | None = strawberry.UNSET
    alert: RuleAlertInput | None = strawberry.UNSET


def _body(input: Any) -> dict[str, Any]:
    body = _plain(input)
    alert = body.get("alert")
    if isinstance(alert, dict) and isinstance(alert.get("severity"), AnomalySeverity):
        alert["severity"] = alert["severity"].value
    return body


@strawberry.type
class AnomalyQuery:
    @strawberry.field(description="A project's anomalies, newest detection first.")
    async def anomalies(self, info: Info[Context, None], project: ProjectRef = None,
                        filter: AnomalyFilter | None = None, first: int = 50, offset: int = 0) -> AnomalyPage:
        if not 0 <= first <= info.context.max_page:
            raise bad_input("first", f"must be between 0 and {info.context.max_page}")
        if offset < 0:
            raise bad_input("offset", "must be 0 or more")
        found_project = await project_for(info, project)
        f = filter or AnomalyFilter()
        query = await spelled(_query(f), "filter.")
        found = await service.list_anomalies(info.context.services, found_project, query, Page(first, offset))
        return AnomalyPage(nodes=[AnomalyType(doc=a) for a in found.items], total_count=found.total,
                           has_next_page=found.has_more)

    @strawberry.field
    async def anomaly(self, info: Info[Context, None], id: strawberry.ID, project: ProjectRef = None) -> AnomalyType:
        found = await project_for(info, project)
        return AnomalyType(doc=await service.get_anomaly(info.context.services, found, str(id)))

    @strawberry.field(description="The system rules (as changed by the project), then its custom rules.")
    async def anomaly_rules(self, info: Info[Context, None], project: ProjectRef = None, category: str | None = None,
                            enabled: bool | None = None) -> list[AnomalyRule]:
        found = await project_for(info, project)
        return [AnomalyRule(view=v) for v in await service.list_rules(info.context.services, found, category, enabled)]

    @strawberry.field
    async def anomaly_rule(self, info: Info[Context, None], id: strawberry.ID,
                           project: ProjectRef = None) -> AnomalyRule:
        found = await project_for(info, project)
        return AnomalyRule(view=await service.get_rule(info.context.services, found, str(id)))


async def _query(f: AnomalyFilter) -> Any:
    return service.anomaly_query(
        date_range=f.date_range, rule_id=f.rule_id, now=now_ms(),
        severity=",".join(s.value for s in f.severity) if f.severity else None,
        status=",".join(s.value for s in f.status) if f.status else None)


@strawberry.type
class AnomalyMutation:
    @strawberry.mutation(description="Marks an open anomaly acknowledged; a dismissed or resolved one is a CONFLICT.")
    async def acknowledge_anomaly(self, info: Info[Context, None], id: strawberry.ID, note: str | None = None,
                                  project: ProjectRef = None) -> AnomalyType:
        ctx = info.context
        found = await project_for(info, project)
        return AnomalyType(doc=await spelled(service.acknowledge(ctx.services, found, str(id),
                                                                  service.actor(ctx.principal), note)))

    @strawberry.mutation(description="Dismisses an open or acknowledged anomaly; the reason other needs a note.")
    async def dismiss_anomaly(self, info: Info[Context, None], id: strawberry.ID, reason: DismissReason,
                              note: str | None = None, project: ProjectRef = None) -> AnomalyType:
        ctx = info.context
        found = await project_for(info, project)
        return AnomalyType(doc=await spelled(service.dismiss(ctx.services, found, str(id),
                                                              service.actor(ctx.principal), reason.value, note)))

    @strawberry.mutation(description="A custom rule on any metric the analytics engine computes.")
    async def create_anomaly_rule(self, info: Info[Context, None], input: CreateAnomalyRuleInput,
                                  project: ProjectRef = None) -> AnomalyRule:
        ctx = info.context
        found = await project_for(info, project)
        created = await spelled(service.create_rule(ctx.services, found, _body(input)), "input.")
        return AnomalyRule(view=service.RuleView(created, None, 0))

    @strawberry.mutation(description="Enables or disables a rule, or changes its threshold, alert or comparison.")
    async def update_anomaly_rule(self, info: Info[Context, None], id: strawberry.ID, input: UpdateAnomalyRuleInput,
                                  project: ProjectRef = None) -> AnomalyRule:
        ctx = info.context
        found = await project_for(info, project)
        return AnomalyRule(view=await spelled(service.update_rule(ctx.services, found, str(id), _body(input)),
                                               "input."))
