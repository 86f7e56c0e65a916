"""The anomaly detector on the real SQLite store, over a planted drop worked out by hand.

Day D-1 (the baseline, 2026-11-21) and day D (2026-11-22) each have 100 mobile and 100 desktop visits (a
page view each; referrers alternate google.com / bing.com). On D-1, 20 mobile and 20 desktop visits convert
(rate 20%); on D only 5 mobile (5%, -75%) and 18 desktop (18%, -10%): overall 40/200 = 20% -> 23/200 = 11.5%,
-42.5%, past the system rule's 20% decrease. The pass runs just after midnight ending D, so the current
window is D and the baseline (vs_previous_period) D-1. Recovery: on D+1, 20 and 20 convert again (20%).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from resolvers.anomalies.ids import anomaly_id
from resolvers.anomalies.service import effective_rules
from resolvers.core.services import Services
from resolvers.jobs.anomalies import detect
from resolvers.projects.service import ensure_default
from resolvers.traces.planner import BatchPlanner
from storage.contract import AnomalyQuery, Page
from storage.models import Event
from storage.models.anomalies import Anomaly, AnomalyStatus, SegmentChange, SeriesPoint
from storage.sqlite.store import SQLiteStore

P = "shop"
D = datetime(2026, 11, 22, tzinfo=UTC)
NOW = D + timedelta(days=1, minutes=10)
RULE = "conversion_rate_drop"


def visits(day: datetime, converted: dict[str, int]) -> list[Event]:
    out = []
    for device in ("mobile", "desktop"):
        for i in range(100):
            at = day + timedelta(minutes=7 * i)
            sid = f"{day:%m%d}-{device}-{i}"
            common = {"project_id": P, "session_id": sid, "agent_id": None, "kind": "tracker", "user_id": f"u-{sid}",
                      "device": device, "referrer_domain": ("google.com", "bing.com")[i % 2], "received_at": at}
            out.append(Event(id=f"{sid}-pv", type="pageview", timestamp=at, **common))
            if i < converted[device]:
                out.append(Event(id=f"{sid}-cv", type="conversion", timestamp=at + timedelta(minutes=1), **common))
    return out


async def plant(services: Services, day: datetime, mobile: int, desktop: int) -> None:
    events = visits(day, {"mobile": mobile, "desktop": desktop})
    await services.store.traces.commit_batch(P, events, BatchPlanner(P, kind="tracker"))


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    store = SQLiteStore(tmp_path / "detector.db")
    await store.start()
    services = Services.build(store)
    await ensure_default(services, P)
    await plant(services, D - timedelta(days=1), 20, 20)
    await plant(services, D, 5, 18)
    yield services
    await store.close()


async def anomalies(services: Services) -> list[Anomaly]:
    return (await services.store.anomalies.find_anomalies(P, AnomalyQuery(), Page(limit=100, offset=0))).items


async def set_cooldown(services: Services, hours: int) -> None:
    (project,) = await services.store.projects.projects_by_ids([P])
    rule = next(r for r in await effective_rules(services, project) if r.id == RULE)
    await services.store.anomalies.save_rule(rule.model_copy(update={"alert": rule.alert.model_copy(
        update={"cooldown_hours": hours})}))


async def test_a_planted_mobile_conversion_drop_is_detected_with_mobile_named(services: Services) -> None:
    outcome = await detect(services, NOW)

    (found,) = outcome.detected
    assert [a.id for a in await anomalies(services)] == [found.id]  # no other rule fired
    assert found.id == anomaly_id(P, RULE, D, D + timedelta(days=1))
    assert (found.rule_id, found.severity.value, found.status) == (RULE, "critical", AnomalyStatus.OPEN)
    assert (found.window_start, found.window_end) == (D, D + timedelta(days=1))
    assert (found.metric.name, found.metric.current_value, found.metric.baseline_value,
            found.metric.change_percentage) == ("conversion_rate", 0.115, 0.2, -42.5)
    assert found.metric.time_series == [
        *(SeriesPoint(date=(D - timedelta(days=d)).date().isoformat(), value=None) for d in range(6, 1, -1)),
        SeriesPoint(date="2026-11-21", value=0.2), SeriesPoint(date="2026-11-22", value=0.115)]
    assert found.segments["device"] == {"mobile": SegmentChange(current=0.05, baseline=0.2, change=-75.0),
                                        "desktop": SegmentChange(current=0.18, baseline=0.2, change=-10.0)}
    assert next(iter(found.segments["device"])) == "mobile"  # the biggest mover first
    # google.com: mobile 0, 2, 4 and desktop 0..16 even convert on D (3 + 9 = 12 of 100), 20 of 100 on D-1
    assert found.segments["referrer_domain"] == {
        "google.com": SegmentChange(current=0.12, baseline=0.2, change=-40.0),
        "bing.com": SegmentChange(current=0.11, baseline=0.2, change=-45.0)}
    assert set(found.segments) == {"device", "referrer_domain"}  # no country was recorded
    assert found.ai_analysis == (
        "Conversion rate fell 42.5% to 11.5% in the 24 hours to 2026-11-23 00:00 UTC, against 20.0% over the "
        "previous 24 hours (the rule alerts on a decrease of 20% or more; 200 rows in the window). The biggest "
        "mover is device mobile: 20.0% → 5.0% (-75%). Then referrer domain bing.com (-45%), referrer domain "
        "google.com (-40%), device desktop (-10%).")
    assert found.recommended_actions[0] == (
        "Walk through the signup and checkout flow for device mobile and check for errors or broken steps")
    assert len(found.recommended_actions) == 3
    assert found.agent_id is None


async def test_recovery_resolves_the_anomaly(services: Services) -> None:
    (found,) = (await detect(services, NOW)).detected
    await plant(services, D + timedelta(days=1), 20, 20)

    outcome = await detect(services, NOW + timedelta(days=1))

    assert outcome.detected == []
    assert [a.id for a in outcome.resolved] == [found.id]
    (stored,) = await anomalies(services)
    assert (stored.id, stored.status, stored.resolved_at) == (found.id, AnomalyStatus.RESOLVED,
                                                              NOW + timedelta(days=1))
    assert stored.metric == found.metric  # the detection's numbers are kept


async def test_an_acknowledged_anomaly_is_resolved_too_but_not_before_recovery(services: Services) -> None:
    (found,) = (await detect(services, NOW)).detected
    await services.store.anomalies.update_anomaly(found.model_copy(update={"status": AnomalyStatus.ACKNOWLEDGED}),
                                                  AnomalyStatus.OPEN)
    assert (await detect(services, NOW + timedelta(minutes=30))).resolved == []  # still 11.5% against 20%
    await plant(services, D + timedelta(days=1), 20, 20)
    assert [a.id for a in (await detect(services, NOW + timedelta(days=1))).resolved] == [found.id]
    assert (await anomalies(services))[0].status == AnomalyStatus.RESOLVED


async def test_two_passes_in_one_window_store_one_anomaly_even_with_no_cooldown(services: Services) -> None:
    await set_cooldown(services, 0)
    first = await detect(services, NOW)
    again = await detect(services, NOW + timedelta(minutes=40))  # the same hour: the same window, the same id

    assert len(first.detected) == 1 and again.detected == []
    assert [a.id for a in await anomalies(services)] == [first.detected[0].id]


async def test_the_cooldown_holds_back_the_next_window_until_it_is_lifted(services: Services) -> None:
    (first,) = (await detect(services, NOW)).detected
    later = NOW + timedelta(hours=1)  # the window moves by an hour and still shows the drop
    assert (await detect(services, later)).detected == []  # within the rule's 6 hours of cooldown
    assert len(await anomalies(services)) == 1

    await set_cooldown(services, 0)
    (second,) = (await detect(services, later)).detected
    assert second.id == anomaly_id(P, RULE, D + timedelta(hours=1), D + timedelta(days=1, hours=1))
    assert second.id != first.id
    assert second.metric.change_percentage is not None and second.metric.change_percentage <= -20


async def test_small_numbers_page_no_one(services: Services) -> None:
    # the same drop over 200 visits, but a minimum volume of 201 rows in the window
    (project,) = await services.store.projects.projects_by_ids([P])
    rule = next(r for r in await effective_rules(services, project) if r.id == RULE)
    await services.store.anomalies.save_rule(rule.model_copy(update={"threshold": rule.threshold.model_copy(
        update={"min_volume": 201})}))
    assert (await detect(services, NOW)).detected == []
    assert await anomalies(services) == []


async def test_a_disabled_rule_raises_nothing(services: Services) -> None:
    (project,) = await services.store.projects.projects_by_ids([P])
    rule = next(r for r in await effective_rules(services, project) if r.id == RULE)
    await services.store.anomalies.save_rule(rule.model_copy(update={"enabled": False}))
    assert (await detect(services, NOW)).detected == []
