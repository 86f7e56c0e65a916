"""The anomalies contract (seed 001): the same answers on every backend (tests/storage/conftest.py's `store`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.contract import AnomalyQuery, Conflict, DeliveryQuery, Page, RuleTriggers
from storage.models.anomalies import (
    Alert,
    Anomaly,
    AnomalyMetric,
    AnomalyRule,
    AnomalyStatus,
    DismissReason,
    Report,
    RuleFilter,
    RuleMetric,
    SegmentChange,
    SeriesPoint,
    Severity,
    Threshold,
)
from storage.models.webhooks import Delivery

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
P, OTHER = "proj", "other"


def rule(id_: str, project: str = P, minute: int = 0, **kw) -> AnomalyRule:
    return AnomalyRule(
        project_id=project, id=id_, name=kw.pop("name", f"Rule {id_}"), category=kw.pop("category", "custom"),
        type=kw.pop("type", "custom"),
        metric=RuleMetric(type="count", event="conversion", filters=[RuleFilter(field="amount", op="gt", value=500)]),
        threshold=Threshold(direction="decrease", percentage=30, min_volume=20),
        alert=Alert(severity=Severity.HIGH, cooldown_hours=8, channels=["email", "slack"]),
        created_at=T0 + timedelta(minutes=minute), updated_at=T0 + timedelta(minutes=minute), **kw,
    )


def anomaly(id_: str, project: str = P, minute: int = 0, **kw) -> Anomaly:
    at = T0 + timedelta(minutes=minute)
    return Anomaly(
        project_id=project, id=id_, rule_id=kw.pop("rule_id", "conversion_rate_drop"),
        rule_name=kw.pop("rule_name", "Conversion Rate Drop"), severity=kw.pop("severity", Severity.CRITICAL),
        window_start=at - timedelta(days=1), window_end=at, detected_at=at, updated_at=at,
        metric=AnomalyMetric(name="conversion_rate", current_value=0.012, baseline_value=0.0185,
                             change_percentage=-35.1,
                             time_series=[SeriesPoint(date="2026-03-31", value=0.019),
                                          SeriesPoint(date="2026-04-01", value=0.012)]),
        segments={"device": {"mobile": SegmentChange(current=0.008, baseline=0.014, change=-42)}},
        ai_analysis=kw.pop("ai_analysis", "Mobile dropped most."),
        recommended_actions=["Investigate mobile page performance"], **kw,
    )


async def test_rules_are_created_read_listed_and_replaced_per_project(store) -> None:
    first = await store.anomalies.create_rule(rule("custom_rule_001", minute=2, description="orders over 500"))
    await store.anomalies.create_rule(rule("custom_rule_002", minute=1))
    await store.anomalies.create_rule(rule("custom_rule_001", project=OTHER))  # ids are per project
    assert await store.anomalies.rule_by_id(P, "custom_rule_001") == first
    assert await store.anomalies.rule_by_id(P, "missing") is None
    assert [r.id for r in await store.anomalies.list_rules(P)] == ["custom_rule_002", "custom_rule_001"]
    with pytest.raises(Conflict):
        await store.anomalies.create_rule(rule("custom_rule_001"))
    changed = first.model_copy(update={"enabled": False, "threshold": Threshold(direction="any", percentage=25),
                                       "updated_at": T0 + timedelta(hours=1)})
    assert await store.anomalies.save_rule(changed) == changed
    assert await store.anomalies.rule_by_id(P, "custom_rule_001") == changed
    assert (await store.anomalies.rule_by_id(OTHER, "custom_rule_001")).enabled is True
    system = rule("traffic_drop", type="system", category="traffic", enabled=False)
    await store.anomalies.save_rule(system)  # a change to a system rule: stored on first save
    assert await store.anomalies.rule_by_id(P, "traffic_drop") == system
    assert len(await store.anomalies.list_rules(P)) == 3 and len(await store.anomalies.list_rules(OTHER)) == 1


async def test_an_anomaly_is_stored_once_whatever_the_retries(store) -> None:
    planted = anomaly("anom_1")
    assert await store.anomalies.insert_anomaly(planted) == (planted, True)
    assert await store.anomalies.anomaly_by_id(P, "anom_1") == planted  # every documented field round-trips
    retry = anomaly("anom_1", ai_analysis="a second run's words")
    assert await store.anomalies.insert_anomaly(retry) == (planted, False)  # the first stays, nothing added
    together = await asyncio.gather(*(store.anomalies.insert_anomaly(anomaly("anom_2")) for _ in range(5)))
    assert sorted(new for _, new in together) == [False] * 4 + [True]
    found = await store.anomalies.find_anomalies(P, AnomalyQuery(), Page())
    assert (found.total, sorted(a.id for a in found.items)) == (2, ["anom_1", "anom_2"])
    assert await store.anomalies.anomaly_by_id(OTHER, "anom_1") is None


async def test_listing_filters_sorts_and_pages(store) -> None:
    await store.anomalies.insert_anomaly(anomaly("a1", minute=1, severity=Severity.LOW, rule_id="traffic_drop"))
    await store.anomalies.insert_anomaly(anomaly("a2", minute=3, severity=Severity.HIGH))
    await store.anomalies.insert_anomaly(anomaly("a3", minute=2, severity=Severity.HIGH,
                                                 status=AnomalyStatus.ACKNOWLEDGED))
    await store.anomalies.insert_anomaly(anomaly("a4", minute=3, severity=Severity.CRITICAL))
    await store.anomalies.insert_anomaly(anomaly("x1", project=OTHER, minute=5))

    async def ids(query: AnomalyQuery | None = None, page: Page | None = None) -> tuple[list[str], int, bool]:
        found = await store.anomalies.find_anomalies(P, query or AnomalyQuery(), page or Page())
        return [a.id for a in found.items], found.total, found.has_more

    assert await ids() == (["a4", "a2", "a3", "a1"], 4, False)  # newest first, the id breaking ties
    assert await ids(page=Page(limit=2, offset=1)) == (["a2", "a3"], 4, True)
    assert await ids(page=Page(limit=2, offset=3)) == (["a1"], 4, False)
    assert await ids(AnomalyQuery(severities=("high",))) == (["a2", "a3"], 2, False)
    assert await ids(AnomalyQuery(severities=("high", "low"), statuses=("open",))) == (["a2", "a1"], 2, False)
    assert await ids(AnomalyQuery(rule_id="traffic_drop")) == (["a1"], 1, False)
    assert await ids(AnomalyQuery(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=3))) == (
        ["a3"], 1, False)
    assert await ids(AnomalyQuery(statuses=("dismissed",))) == ([], 0, False)


async def test_status_changes_are_compare_and_set(store) -> None:
    planted = anomaly("a1")
    await store.anomalies.insert_anomaly(planted)
    acked = planted.model_copy(update={"status": AnomalyStatus.ACKNOWLEDGED, "acknowledged_at": T0,
                                       "acknowledged_by": "key:k1", "acknowledge_note": "looking"})
    assert await store.anomalies.update_anomaly(acked, AnomalyStatus.OPEN) is True
    assert await store.anomalies.anomaly_by_id(P, "a1") == acked
    dismissed = planted.model_copy(update={"status": AnomalyStatus.DISMISSED,
                                           "dismiss_reason": DismissReason.OTHER})
    assert await store.anomalies.update_anomaly(dismissed, AnomalyStatus.OPEN) is False  # it moved on meanwhile
    assert await store.anomalies.anomaly_by_id(P, "a1") == acked
    assert await store.anomalies.update_anomaly(anomaly("ghost"), AnomalyStatus.OPEN) is False
    assert await store.anomalies.anomaly_by_id(P, "ghost") is None
    found = await store.anomalies.find_anomalies(P, AnomalyQuery(statuses=("acknowledged",)), Page())
    assert [a.id for a in found.items] == ["a1"]  # the status column follows the document


def announcement(event: str, subject: str, webhooks: tuple[str, ...] = ("wh_1", "wh_2")) -> list[Delivery]:
    return [Delivery(project_id=P, id=f"whd_{subject}_{event}_{w}", webhook_id=w, event=event,
                     event_id=f"evt_{subject}_{event}", body=f'{{"subject":"{subject}"}}', next_attempt_at=T0,
                     created_at=T0) for w in webhooks]


async def test_an_announcement_is_stored_with_the_change_it_announces_and_only_with_it(store) -> None:
    async def sent(subject: str) -> list[tuple[str, str]]:
        found = await store.webhooks.find_deliveries(P, DeliveryQuery(), Page(limit=100))
        return sorted((d.event, d.webhook_id) for d in found.items if d.body == f'{{"subject":"{subject}"}}')

    first = anomaly("a1")
    assert await store.anomalies.insert_anomaly(first, announcement("anomaly.detected", "a1")) == (first, True)
    assert await sent("a1") == [("anomaly.detected", "wh_1"), ("anomaly.detected", "wh_2")]
    again = announcement("anomaly.detected", "a1", ("wh_3",))
    assert await store.anomalies.insert_anomaly(first, again) == (first, False)  # not new: not announced
    assert len(await sent("a1")) == 2

    # Five detectors racing on one anomaly, each announcing to its own endpoint: one wins, one is announced.
    together = await asyncio.gather(*(store.anomalies.insert_anomaly(
        anomaly("a2"), announcement("anomaly.detected", "a2", (f"wh_{i}",))) for i in range(5)))
    (winner,) = [i for i, (_, new) in enumerate(together) if new]
    assert await sent("a2") == [("anomaly.detected", f"wh_{winner}")]

    resolved = first.model_copy(update={"status": AnomalyStatus.RESOLVED, "resolved_at": T0})
    lost = announcement("anomaly.resolved", "a1")
    assert await store.anomalies.update_anomaly(resolved, AnomalyStatus.ACKNOWLEDGED, lost) is False
    assert [e for e, _ in await sent("a1")] == ["anomaly.detected"] * 2  # a lost compare-and-set announces nothing
    assert await store.anomalies.update_anomaly(resolved, AnomalyStatus.OPEN, lost) is True
    assert [e for e, _ in await sent("a1")] == ["anomaly.detected"] * 2 + ["anomaly.resolved"] * 2

    report = Report(project_id=P, id="r1", kind="daily", period_start=T0, period_end=T0 + timedelta(days=1),
                    generated_at=T0 + timedelta(days=1), title="Daily", summary={})
    assert await store.anomalies.insert_report(report, announcement("report.generated", "r1")) == (report, True)
    assert await store.anomalies.insert_report(report, announcement("report.generated", "r1", ("wh_9",))) == (
        report, False)
    assert await sent("r1") == [("report.generated", "wh_1"), ("report.generated", "wh_2")]


async def test_rule_triggers_count_per_rule(store) -> None:
    await store.anomalies.insert_anomaly(anomaly("a1", minute=0, rule_id="traffic_drop"))
    await store.anomalies.insert_anomaly(anomaly("a2", minute=10, rule_id="traffic_drop"))
    await store.anomalies.insert_anomaly(anomaly("a3", minute=20, rule_id="traffic_drop"))
    await store.anomalies.insert_anomaly(anomaly("a4", minute=1, rule_id="cost_spike"))
    await store.anomalies.insert_anomaly(anomaly("x", project=OTHER, minute=30, rule_id="traffic_drop"))
    assert await store.anomalies.rule_triggers(P, T0 + timedelta(minutes=5)) == [
        RuleTriggers("cost_spike", T0 + timedelta(minutes=1), 0),
        RuleTriggers("traffic_drop", T0 + timedelta(minutes=20), 2),
    ]
    assert await store.anomalies.rule_triggers("nobody", T0) == []


async def test_reports_are_stored_once_and_listed_newest_first(store) -> None:
    def report(id_: str, day: int, project: str = P) -> Report:
        start = T0 + timedelta(days=day)
        return Report(project_id=project, id=id_, kind="daily", period_start=start,
                      period_end=start + timedelta(days=1), generated_at=start + timedelta(days=1),
                      title=f"Daily {day}", summary={"sessions": day * 10, "anomalies": ["a1"]})

    first = report("r1", 1)
    assert await store.anomalies.insert_report(first) == (first, True)
    assert await store.anomalies.insert_report(report("r1", 9)) == (first, False)
    await store.anomalies.insert_report(report("r3", 3))
    await store.anomalies.insert_report(report("r2", 2))
    await store.anomalies.insert_report(report("o1", 5, OTHER))
    found = await store.anomalies.find_reports(P, Page(limit=2))
    assert ([r.id for r in found.items], found.total, found.has_more) == (["r3", "r2"], 3, True)
    assert found.items[0].summary == {"sessions": 30, "anomalies": ["a1"]}
    assert [r.id for r in (await store.anomalies.find_reports(P, Page(limit=2, offset=2))).items] == ["r1"]
    assert await store.anomalies.report_by_id(P, "r1") == first
    assert await store.anomalies.report_by_id(OTHER, "r1") is None  # another project's id is not found
    assert await store.anomalies.report_by_id(P, "o1") is None


async def test_question_usage_counts_atomically_per_day_and_user(store) -> None:
    counts = await asyncio.gather(*(store.anomalies.count_question(P, "2026-04-01", "ann@x.com") for _ in range(7)))
    assert sorted(counts) == list(range(1, 8))
    assert await store.anomalies.count_question(P, "2026-04-01", "bob@x.com", 2) == 2
    assert await store.anomalies.count_question(P, "2026-04-03", "ann@x.com") == 1
    assert await store.anomalies.count_question(P, "2026-03-31", "ann@x.com") == 1
    assert await store.anomalies.count_question(OTHER, "2026-04-01", "ann@x.com") == 1
    rows = await store.anomalies.question_usage(P, "2026-04-01", "2026-04-30")
    assert [(r.day, r.user, r.count) for r in rows] == [
        ("2026-04-03", "ann@x.com", 1), ("2026-04-01", "ann@x.com", 7), ("2026-04-01", "bob@x.com", 2)]
    assert await store.anomalies.question_usage(P, "2026-05-01", "2026-05-31") == []
