"""What the LENS API does with rules, anomalies, reports and usage: shared by its REST family and GraphQL.

Every function acts on one project, which the caller picked with project_for (seed 001's account_id): another
tenant's rule or anomaly is not found, as if it did not exist. Status changes are compare-and-set, so an
acknowledgement racing a dismissal (or the detector resolving) never overwrites the other unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from resolvers.anomalies import metrics, periods
from resolvers.anomalies.rules import (
    SYSTEM_IDS,
    RuleIn,
    RulePatch,
    StrictIn,
    build_alert,
    build_comparison,
    build_metric,
    build_threshold,
    check_category,
    parse,
    system_rules,
    text,
)
from resolvers.core.auth import Principal
from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.core.services import Services
from resolvers.projects.service import select_project
from storage.contract import AnomalyQuery, Conflict, Page, PageResult
from storage.models import Project
from storage.models.anomalies import (
    Alert,
    Anomaly,
    AnomalyRule,
    AnomalyStatus,
    Comparison,
    DismissReason,
    Report,
    UsageRow,
)
from storage.timeutil import now_ms

TRIGGER_WINDOW = timedelta(days=30)
MAX_NOTE = 2000
CUSTOM_PREFIX = "custom_rule_"
CHANGE_TRIES = 5  # compare-and-set retries before a status change gives up (only under a storm of changes)


class NoteIn(StrictIn):
    """POST /anomalies/{id}/acknowledge."""

    account_id: str | None = None
    note: str | None = None


class DismissIn(StrictIn):
    """POST /anomalies/{id}/dismiss: reason is one of DismissReason's values ("other" needs a note)."""

    account_id: str | None = None
    reason: str
    note: str | None = None


class StateConflict(Conflict):
    """The anomaly's status does not allow the change (acknowledging a dismissed anomaly)."""


async def project_for(services: Services, principal: Principal, account_id: str | None) -> Project:
    """Seed 001's account_id is what LensGraph calls a project: its id or name. An account key may also name
    its own account's id, meaning its oldest project; no account_id means the key's own (or oldest) project."""
    if account_id and account_id == principal.account_id:
        account_id = None
    return await select_project(services, principal, account_id, field="account_id")


def actor(principal: Principal) -> str:
    """Who acknowledged or dismissed: keys carry no e-mail, so the key's id (the admin's, or dev mode)."""
    if principal.key_id:
        return "admin" if principal.key_id == "admin" else f"key:{principal.key_id}"
    return "admin" if principal.admin else "anonymous"


# -- rules ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleView:
    rule: AnomalyRule
    last_triggered: datetime | None
    trigger_count_30d: int


async def effective_rules(services: Services, project: Project) -> list[AnomalyRule]:
    """System rules (the project's changed copy where it has one), then custom rules, oldest first."""
    stored = {r.id: r for r in await services.store.anomalies.list_rules(project.id)}
    system = [stored.pop(r.id, r) for r in system_rules(project.id, project.created_at)]
    return system + [r for r in stored.values() if r.type == "custom"]


async def _views(services: Services, project_id: str, rules: list[AnomalyRule]) -> list[RuleView]:
    triggers = {t.rule_id: t for t in await services.store.anomalies.rule_triggers(project_id,
                                                                                   now_ms() - TRIGGER_WINDOW)}
    out = []
    for r in rules:
        t = triggers.get(r.id)
        out.append(RuleView(r, t.last_detected if t else None, t.count_since if t else 0))
    return out


async def list_rules(services: Services, project: Project, category: str | None = None,
                     enabled: bool | None = None) -> list[RuleView]:
    rules = [r for r in await effective_rules(services, project)
             if (category is None or r.category == category) and (enabled is None or r.enabled == enabled)]
    return await _views(services, project.id, rules)


async def _rule(services: Services, project: Project, rule_id: str) -> AnomalyRule:
    stored = await services.store.anomalies.rule_by_id(project.id, rule_id)
    if stored is not None:
        return stored
    if rule_id in SYSTEM_IDS:
        return next(r for r in system_rules(project.id, project.created_at) if r.id == rule_id)
    raise NotFound("rule", rule_id)


async def get_rule(services: Services, project: Project, rule_id: str) -> RuleView:
    return (await _views(services, project.id, [await _rule(services, project, rule_id)]))[0]


async def _check_event(services: Services, project_id: str, metric: Any) -> None:
    if metric.event is None:
        return
    known = await metrics.known_events(services, project_id, now_ms())
    if metric.event not in known:
        examples = ", ".join(sorted(known)[:12])
        raise InputError(Problem("metric.event", f"unknown event {metric.event!r}: this project has recorded no "
                                                 f"such event; known events include {examples}"))


async def create_rule(services: Services, project: Project, raw: Any) -> AnomalyRule:
    """A custom rule from seed 001's body; everything is checked before the one write."""
    body: RuleIn = parse(RuleIn, raw)
    name = text(body.name, "name", 120)
    description = text(body.description, "description", 2000)
    metric = build_metric(body.metric)
    metrics.check(project.id, metric)
    await _check_event(services, project.id, metric)
    threshold = build_threshold(body.threshold, None)
    alert = build_alert(body.alert, Alert())
    comparison = build_comparison(body.comparison, Comparison())
    category = check_category(body.category, "custom")
    now = now_ms()
    for _ in range(CHANGE_TRIES):
        # Numbered per project as the seed shows (custom_rule_002); a concurrent create taking the same
        # number is a Conflict, and the next number is tried.
        taken = sum(r.type == "custom" for r in await services.store.anomalies.list_rules(project.id))
        rule = AnomalyRule(
            project_id=project.id, id=f"{CUSTOM_PREFIX}{taken + 1:03d}", name=name or "", description=description,
            category=category, type="custom", enabled=body.enabled, metric=metric, comparison=comparison,
            threshold=threshold, alert=alert, created_at=now, updated_at=now,
        )
        try:
            return await services.store.anomalies.create_rule(rule)
        except Conflict:
            continue
    raise Conflict("too many rules created at once; retry")


async def update_rule(services: Services, project: Project, rule_id: str, raw: Any) -> RuleView:
    patch: RulePatch = parse(RulePatch, raw)
    rule = await _rule(services, project, rule_id)
    changes: dict[str, Any] = {"updated_at": now_ms()}
    if patch.metric is not None:
        if rule.type == "system":
            raise InputError(Problem("metric", "a system rule's metric is fixed; create a custom rule instead"))
        metric = build_metric(patch.metric)
        metrics.check(project.id, metric)
        await _check_event(services, project.id, metric)
        changes["metric"] = metric
    if patch.name is not None:
        changes["name"] = text(patch.name, "name", 120)
    if patch.description is not None:
        changes["description"] = text(patch.description, "description", 2000)
    if patch.category is not None:
        changes["category"] = check_category(patch.category, rule.category)
    if patch.enabled is not None:
        changes["enabled"] = patch.enabled
    if patch.threshold is not None:
        changes["threshold"] = build_threshold(patch.threshold, rule.threshold)
    if patch.alert is not None:
        changes["alert"] = build_alert(patch.alert, rule.alert)
    if patch.comparison is not None:
        changes["comparison"] = build_comparison(patch.comparison, rule.comparison)
    saved = await services.store.anomalies.save_rule(rule.model_copy(update=changes))
    return (await _views(services, project.id, [saved]))[0]


# -- anomalies ------------------------------------------------------------------------------------------------


async def list_anomalies(services: Services, project: Project, query: AnomalyQuery, page: Page) -> PageResult[Anomaly]:
    return await services.store.anomalies.find_anomalies(project.id, query, page)


def anomaly_query(*, date_range: str | None, severity: str | None, status: str | None, rule_id: str | None,
                  now: datetime) -> AnomalyQuery:
    """The listing's filters from seed 001's parameters, each checked against its documented values."""
    since = until = None
    if date_range is not None:
        since, until = periods.date_range(date_range, now)
    severities = _choice("severity", severity, ("critical", "high", "medium", "low"))
    statuses = _choice("status", status, tuple(s.value for s in AnomalyStatus))
    if rule_id is not None and not 0 < len(rule_id) <= 200:
        raise InputError(Problem("rule_id", "a rule id"))
    return AnomalyQuery(severities, statuses, rule_id, since, until)


def _choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return ()
    values = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
    bad = [v for v in values if v not in allowed] or ([] if values else [raw])
    if bad:
        raise InputError(Problem(name, f"unknown value {bad[0][:40]!r}; one of {', '.join(allowed)}"))
    return values


async def get_anomaly(services: Services, project: Project, anomaly_id: str) -> Anomaly:
    found = await services.store.anomalies.anomaly_by_id(project.id, anomaly_id)
    if found is None:
        raise NotFound("anomaly", anomaly_id)
    return found


def _note(note: Any) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InputError(Problem("note", f"a string of at most {MAX_NOTE} characters"))
    return note


async def _change(services: Services, project: Project, anomaly_id: str, verb: str,
                  allowed: tuple[AnomalyStatus, ...], changes: dict[str, Any]) -> Anomaly:
    for _ in range(CHANGE_TRIES):
        found = await get_anomaly(services, project, anomaly_id)
        if found.status not in allowed:
            raise StateConflict(f"anomaly {anomaly_id!r} is {found.status.value} and cannot be {verb}; only "
                                f"{' or '.join(s.value for s in allowed)} anomalies can")
        changed = found.model_copy(update={**changes, "updated_at": now_ms()})
        if await services.store.anomalies.update_anomaly(changed, found.status):
            return changed
    raise Conflict(f"anomaly {anomaly_id!r} kept changing; retry")


async def acknowledge(services: Services, project: Project, anomaly_id: str, by: str, note: Any) -> Anomaly:
    text = _note(note)
    return await _change(services, project, anomaly_id, "acknowledged",
                         (AnomalyStatus.OPEN, AnomalyStatus.ACKNOWLEDGED),
                         {"status": AnomalyStatus.ACKNOWLEDGED, "acknowledged_at": now_ms(), "acknowledged_by": by,
                          "acknowledge_note": text})


async def dismiss(services: Services, project: Project, anomaly_id: str, by: str, reason: Any,
                  note: Any) -> Anomaly:
    allowed = [r.value for r in DismissReason]
    if reason not in allowed:
        raise InputError(Problem("reason", f"one of {', '.join(allowed)}"))
    text = _note(note)
    if reason == DismissReason.OTHER.value and not (text and text.strip()):
        raise InputError(Problem("note", "the reason 'other' needs a note saying why"))
    return await _change(services, project, anomaly_id, "dismissed",
                         (AnomalyStatus.OPEN, AnomalyStatus.ACKNOWLEDGED),
                         {"status": AnomalyStatus.DISMISSED, "dismissed_at": now_ms(), "dismissed_by": by,
                          "dismiss_reason": DismissReason(reason), "dismiss_note": text})


# -- reports and usage ----------------------------------------------------------------------------------------


async def list_reports(services: Services, project: Project, page: Page) -> PageResult[Report]:
    return await services.store.anomalies.find_reports(project.id, page)


@dataclass(frozen=True, slots=True)
class Usage:
    period_start: date
    period_end: date  # the month's last day
    limit: int
    used: int
    daily: list[tuple[str, int]]  # newest day first, days with questions only
    by_user: list[tuple[str, int]]  # most questions first
    resets_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def overage(self) -> int:
        return max(0, self.used - self.limit)


async def usage(services: Services, project: Project, now: datetime) -> Usage:
    """This calendar month's (UTC) questions to the assistant, against the monthly limit."""
    today = now.date()
    first, following = periods.month_start(today), periods.next_month(today)
    rows: list[UsageRow] = await services.store.anomalies.question_usage(
        project.id, first.isoformat(), (following - timedelta(days=1)).isoformat())
    daily: dict[str, int] = {}
    users: dict[str, int] = {}
    for r in rows:
        daily[r.day] = daily.get(r.day, 0) + r.count
        users[r.user] = users.get(r.user, 0) + r.count
    return Usage(
        period_start=first, period_end=following - timedelta(days=1), limit=services.limits.questions_per_month,
        used=sum(daily.values()), daily=sorted(daily.items(), reverse=True),
        by_user=sorted(users.items(), key=lambda kv: (-kv[1], kv[0])),
        resets_at=datetime(following.year, following.month, 1, tzinfo=now.tzinfo),
    )
